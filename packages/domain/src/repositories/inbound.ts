import { type ContactIdentity, type ContactRow, contactByIdentitySteps } from './contacts';
import { type InboundNote, type OpenedConversation, openConversationSteps, openedConversation } from './conversations';
import { insertInboundMessageStep, type MessageRow } from './messages';
import type { TenantSql } from './tenant';

/**
 * A contact's message as WhatsApp delivers it, written in ONE statement: the contact found or
 * created by identity, its open conversation found, reopened or created with the message noted,
 * and the message stored once. Each step is its table's own rule (contacts, conversations,
 * messages); only their chaining is here. One round trip instead of three matters: the inbound
 * processor writes every message a business receives, and each round trip to the database costs
 * more CPU, on both sides, than the work it carries.
 *
 * `message` is null when the wamid was stored before (the contact and conversation are still
 * noted, as three separate statements would have done).
 */
export async function storeContactMessage(
  t: TenantSql,
  input: {
    identity: ContactIdentity;
    phone: string | null;
    channelId: string;
    reopen: boolean;
    inbound: InboundNote;
    message: { type: string; content: Record<string, unknown>; wamid: string; sentAt: Date };
    now: Date;
  },
): Promise<{ contact: ContactRow & { created: boolean }; conversation: OpenedConversation; message: MessageRow | null }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const contact = contactByIdentitySteps(t, input.identity, input.phone, { lastInboundAt: input.inbound.sentAt, now: input.now });
    const conversation = openConversationSteps(t, { sql: 'contact', params: [] }, { channelId: input.channelId, reopen: input.reopen, now: input.now, inbound: input.inbound });
    const message = insertInboundMessageStep(t, { sql: 'conv', params: [] }, { channelId: input.channelId, ...input.message, now: input.now });
    const [row] = await t.sql.prepared<MessageRow & { contact_json: (ContactRow & { created: boolean }) | null; conversation_json: { id: string; inserted: boolean; previous_status: string | null } | null }>(
      `with ${contact.sql},
       contact as (select * from found union all select * from inserted),
       ${conversation.sql},
       msg as (${message.sql})
       select m.*,
              (select row_to_json(c) from contact c) as contact_json,
              (select json_build_object('id', v.id, 'inserted', v.inserted, 'previous_status', (select status from conv_before)) from conv v) as conversation_json
         from (select 1) one left join msg m on true`,
      [...contact.params, ...conversation.params, ...message.params],
    );
    // Another transaction created the contact meanwhile (nothing was written): again, to find it.
    if (!row?.contact_json || !row.conversation_json) continue;
    const { contact_json, conversation_json, ...stored } = row;
    return {
      contact: contact_json,
      conversation: openedConversation(conversation_json, input.reopen),
      message: stored.id ? (stored as MessageRow) : null,
    };
  }
  throw new Error('contact could not be found or created');
}
