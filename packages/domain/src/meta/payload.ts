import { z } from 'zod';

/** Epoch seconds, as Meta sends them (a string), or as some senders do (a number). */
const epochSeconds = z.union([z.string(), z.number()]).transform(String);

/**
 * One status of a change. Only its id and status are required; a tag of the wrong type is no tag,
 * and errors are kept whatever their shape (the code must be a number to be acted on).
 */
export const metaStatus = z
  .object({
    id: z.string().min(1),
    status: z.string().min(1),
    timestamp: epochSeconds.optional(),
    recipient_id: z.string().optional().catch(undefined),
    biz_opaque_callback_data: z.string().optional().catch(undefined),
    errors: z
      .array(z.object({ code: z.number(), title: z.string().optional().catch(undefined), message: z.string().optional().catch(undefined) }).loose())
      .optional()
      .catch(undefined),
  })
  .loose();

/**
 * Meta's webhook envelope, read leniently: Meta adds fields over time and we must never refuse
 * (and so lose) a delivery because of one. Only what routing needs is required; each item is
 * judged on its own when it is applied.
 */
export const metaChangeValue = z
  .object({
    messaging_product: z.string().optional(),
    metadata: z.object({ display_phone_number: z.string().optional(), phone_number_id: z.string() }).loose().optional(),
    contacts: z.array(z.object({ wa_id: z.string(), profile: z.object({ name: z.string().optional() }).loose().optional() }).loose()).optional(),
    messages: z.array(z.object({ id: z.string(), from: z.string(), timestamp: z.string(), type: z.string() }).loose()).optional(),
    statuses: z.array(z.lazy(() => metaStatus)).optional(),
  })
  .loose();

export const metaWebhookPayload = z
  .object({
    object: z.string(),
    entry: z.array(
      z
        .object({
          id: z.union([z.string(), z.number()]).transform(String).optional(),
          // Meta always names the field; a change without one is read as the commonest, `messages`.
          changes: z.array(z.object({ field: z.string().default('messages'), value: z.unknown() }).loose()).default([]),
        })
        .loose(),
    ),
  })
  .loose();

export type MetaWebhookPayload = z.infer<typeof metaWebhookPayload>;
export type MetaChangeValue = z.infer<typeof metaChangeValue>;
export type MetaInboundMessage = NonNullable<MetaChangeValue['messages']>[number];
export type MetaStatus = NonNullable<MetaChangeValue['statuses']>[number];

/** Every phone number id a delivery talks about (routing decides whether it is stored at all). */
export function phoneNumberIdsOf(payload: MetaWebhookPayload): string[] {
  const ids: string[] = [];
  for (const entry of payload.entry) {
    for (const change of entry.changes) {
      const v = change.value as { metadata?: { phone_number_id?: unknown } } | null;
      if (v && typeof v.metadata?.phone_number_id === 'string') ids.push(v.metadata.phone_number_id);
    }
  }
  return ids;
}

export const LANES = 1024;

/**
 * The lane of a delivery: a hash of the first person it names (sender, echo recipient, status
 * recipient), else of its number. Deliveries about one person share a lane, so processors working
 * lanes side by side never lock the same contact or conversation in opposite orders.
 */
export function laneOf(payload: MetaWebhookPayload): number {
  let key = '';
  outer: for (const entry of payload.entry) {
    for (const change of entry.changes) {
      const v = (change.value ?? {}) as Record<string, unknown>;
      const first = (list: unknown) => (Array.isArray(list) && list[0] && typeof list[0] === 'object' ? (list[0] as Record<string, unknown>) : undefined);
      const m = first(v.messages);
      const echo = first(v.message_echoes);
      const s = first(v.statuses);
      const candidate = m?.from ?? m?.from_user_id ?? echo?.to ?? echo?.to_user_id ?? s?.recipient_id ?? (v.metadata as { phone_number_id?: unknown } | undefined)?.phone_number_id;
      if (typeof candidate === 'string' || typeof candidate === 'number') {
        key = String(candidate);
        break outer;
      }
    }
  }
  // FNV-1a: cheap, and spreads digits that differ only at the end.
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % LANES;
}
