import { z } from 'zod';

/**
 * Meta's webhook envelope, read leniently: Meta adds fields over time and we must never refuse
 * (and so lose) a delivery because of one. Only what routing needs is required.
 */
export const metaChangeValue = z
  .object({
    messaging_product: z.string().optional(),
    metadata: z.object({ display_phone_number: z.string().optional(), phone_number_id: z.string() }).loose().optional(),
    contacts: z.array(z.object({ wa_id: z.string(), profile: z.object({ name: z.string().optional() }).loose().optional() }).loose()).optional(),
    messages: z.array(z.object({ id: z.string(), from: z.string(), timestamp: z.string(), type: z.string() }).loose()).optional(),
    statuses: z
      .array(
        z
          .object({
            id: z.string(),
            status: z.string(),
            timestamp: z.string(),
            recipient_id: z.string().optional(),
            biz_opaque_callback_data: z.string().optional(),
            errors: z.array(z.object({ code: z.number(), title: z.string().optional(), message: z.string().optional() }).loose()).optional(),
          })
          .loose(),
      )
      .optional(),
  })
  .loose();

export const metaWebhookPayload = z
  .object({
    object: z.string(),
    entry: z.array(
      z
        .object({
          id: z.string(),
          changes: z.array(z.object({ field: z.string(), value: z.unknown() }).loose()).default([]),
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
