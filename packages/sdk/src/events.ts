import type { paths, webhooks } from './generated/openapi.js';
import type { WebhookEnvelope } from './webhook.js';

type Json<T> = T extends { content: { 'application/json': infer J } } ? J : never;
type DeliveryBody<W> = W extends { post: infer Op } ? (Op extends { requestBody?: infer RB } ? Json<NonNullable<RB>> : never) : never;

/** The events of the OpenAPI document's `webhooks` section: each name with its delivery body. */
type DocumentedEvents = { [K in keyof webhooks & string]: DeliveryBody<webhooks[K]> };

type MessageView = Json<paths['/v1/conversations/{id}/messages']['get']['responses'][200]>['data'][number];
type ConversationView = Json<paths['/v1/conversations/{id}']['get']['responses'][200]>;
type BroadcastView = Json<paths['/v1/broadcasts/{id}']['get']['responses'][200]>;

interface ContactRef {
  id: string;
  name: string | null;
  phone: string | null;
}
type MessageData = { message: MessageView; contact: ContactRef };

/**
 * The contract's event names with the API's views, for as long as the document carries no
 * `webhooks` section; once it does, EventMap is read from the document alone.
 */
interface ContractEvents {
  'message.create.contact.chat.contact': WebhookEnvelope<'message.create.contact.chat.contact', MessageData>;
  'message.create.contact.chat.agent': WebhookEnvelope<'message.create.contact.chat.agent', MessageData>;
  'message.create.contact.chat.bot': WebhookEnvelope<'message.create.contact.chat.bot', MessageData>;
  'message.update': WebhookEnvelope<'message.update', MessageData & { change: string; changes: Partial<MessageView>; previous: Partial<MessageView> }>;
  'conversation.create': WebhookEnvelope<'conversation.create', { conversation: ConversationView }>;
  'conversation.update': WebhookEnvelope<'conversation.update', { conversation: ConversationView; changes: Record<string, unknown>; previous: Record<string, unknown> }>;
  'broadcast.update': WebhookEnvelope<'broadcast.update', { broadcast: BroadcastView }>;
  'broadcast.completed': WebhookEnvelope<'broadcast.completed', { broadcast: BroadcastView }>;
  'webhook.disabled': WebhookEnvelope<'webhook.disabled', { subscription: { id: string; url: string; events: string[]; status: 'disabled' }; reason: string; disabledAt: string }>;
}

/** Every event name with the body of its delivery (`{id, type, createdAt, organizationId, sequence, data}`). */
export type EventMap = string extends keyof webhooks ? ContractEvents : DocumentedEvents;
export type EventName = keyof EventMap & string;
export type ParleyEvent<N extends EventName = EventName> = EventMap[N];

type Join<A extends string, B extends string> = A extends '' ? B : `${A}.${B}`;
/** 'a.b.c' -> 'a' | 'a.b' | 'a.b.c' */
type Prefixes<S extends string, Acc extends string = ''> = S extends `${infer Head}.${infer Rest}` ? Join<Acc, Head> | Prefixes<Rest, Join<Acc, Head>> : Join<Acc, S>;

/** An event name, or a prefix of one that ends at a segment boundary (`message`, `message.create.contact.chat`). */
export type EventPattern = Prefixes<EventName>;

/** The event names a pattern covers. */
export type EventsMatching<P extends string> = { [N in EventName]: N extends P ? N : N extends `${P}.${string}` ? N : never }[EventName];

/** The contract's subscription rule: the name itself, or any name below it at a `.` boundary. */
export function matchesPattern(pattern: string, type: string): boolean {
  return type === pattern || (pattern !== '' && type.startsWith(`${pattern}.`));
}
