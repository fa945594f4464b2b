import { DomainError, UnprocessableError } from '@parley/core';
import { queueMessage } from '../sending';
import { perTransaction, type SqlRunner } from '../sql';
import type { ChannelRouting } from './config';
import { channelIsRouted, liveDocument } from './runtime-live';

/*
 * The channel's attachment policy at runtime (docs/routing.md, "Attachments"). An attachment a
 * contact sends against the policy is kept as a notice without its media (the media is never
 * fetched: Parley fetches media only when someone asks for it, by the id the notice no longer
 * has) and the contact gets a reply through the send path. Agents' and apps' media sends against
 * the policy are refused before anything is stored.
 */

export type AttachmentPolicy = ChannelRouting['attachments'];

/** Message types that carry media. */
export const ATTACHMENT_TYPES: readonly string[] = ['image', 'video', 'audio', 'document', 'sticker'];

export const ATTACHMENT_REFUSED_REPLY = 'Sorry, we cannot receive attachments in this chat. Please write your message as text.';

const policyIn = perTransaction<AttachmentPolicy>();

/** The live policy of a channel; `both` where no live routing covers it. */
export function attachmentPolicy(sql: SqlRunner, organizationId: string, channelId: string, now: Date): Promise<AttachmentPolicy> {
  return policyIn(sql, `${organizationId}:${channelId}`, () => readAttachmentPolicy(sql, organizationId, channelId, now));
}

async function readAttachmentPolicy(sql: SqlRunner, organizationId: string, channelId: string, now: Date): Promise<AttachmentPolicy> {
  if (!(await channelIsRouted(sql, organizationId, channelId))) return 'both';
  const live = await liveDocument(sql, organizationId, now);
  return live?.document.channels.find((c) => c.channelId === channelId)?.attachments ?? 'both';
}

interface ParsedInbound {
  type: string;
  content: Record<string, unknown>;
  preview: string | null;
}

/**
 * What to store for a contact's message: the message itself, or, for an attachment the channel
 * does not accept, a `system` notice saying so (no media id, so it is never fetched) and
 * `refused: true`, upon which the caller replies with `ATTACHMENT_REFUSED_REPLY`.
 */
export async function screenInboundAttachment<M extends ParsedInbound>(
  sql: SqlRunner,
  organizationId: string,
  channelId: string,
  message: M,
  now: Date,
): Promise<{ message: M | ParsedInbound; refused: boolean }> {
  if (!ATTACHMENT_TYPES.includes(message.type)) return { message, refused: false };
  if ((await attachmentPolicy(sql, organizationId, channelId, now)) !== 'none') return { message, refused: false };
  return {
    refused: true,
    message: {
      type: 'system',
      content: {
        system: { type: 'attachment_refused', body: `The contact sent ${message.type === 'image' ? 'an' : 'a'} ${message.type}; this channel does not accept attachments, so it was not kept.` },
      },
      preview: `[${message.type} not accepted]`,
    },
  };
}

/** Refuses an agent's or app's media send on a channel whose policy is `none` or `from_contact`. */
export async function assertOutboundAttachmentAllowed(sql: SqlRunner, organizationId: string, channelId: string, type: string, now: Date): Promise<void> {
  if (!ATTACHMENT_TYPES.includes(type)) return;
  const policy = await attachmentPolicy(sql, organizationId, channelId, now);
  if (policy === 'both') return;
  throw new UnprocessableError(
    'attachments_not_allowed',
    policy === 'none' ? 'This channel’s routing accepts no attachments; send text instead.' : 'This channel’s routing accepts attachments from contacts only; send text instead.',
    { attachments: policy },
  );
}

/** Tells the contact their attachment was not kept; a refusal by the send path is left at that. */
export async function replyAttachmentRefused(sql: SqlRunner, organizationId: string, conversationId: string, now: Date): Promise<void> {
  try {
    await queueMessage(sql, organizationId, { kind: 'system', reason: 'routing' }, { conversationId, content: { type: 'text', text: ATTACHMENT_REFUSED_REPLY } }, now);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
  }
}
