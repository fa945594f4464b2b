import type { ConversationStatus } from '@parley/db';
import type { z } from 'zod';
import type { BroadcastView } from '../broadcasts/service';
import type { ConversationAssistantState, ConversationView, MessageView } from '../conversations';
import { EVENT_CATALOG } from './schemas';

/** The contact of a message's conversation, as message events name it. */
export interface ContactRef {
  id: string;
  name: string | null;
  phone: string | null;
}

/** Fields of a message that an update changes; `changes` holds their new values, `previous` the old. */
export type MessageChanges = Partial<Pick<MessageView, 'status' | 'error' | 'wamid' | 'type' | 'content' | 'editedAt' | 'deletedAt'>>;

export interface MessageCreatedData {
  message: MessageView;
  contact: ContactRef;
}

export interface MessageUpdatedData extends MessageCreatedData {
  change: 'status' | 'edited' | 'deleted';
  changes: MessageChanges;
  previous: MessageChanges;
}

export type ConversationChanges = Partial<{
  status: ConversationStatus;
  assigneeId: string | null;
  requestId: string | null;
  unreadCount: number;
  /** The AI assistant paused, resumed or handed over (docs/assistant.md). */
  assistant: ConversationAssistantState | null;
  /** The routing queue it waits in (docs/routing.md); null once a person has it or it waits nowhere. */
  queueId: string | null;
}>;

export interface ConversationCreatedData {
  conversation: ConversationView;
}

export interface ConversationUpdatedData extends ConversationCreatedData {
  changes: ConversationChanges;
  previous: ConversationChanges;
}

export interface BroadcastEventData {
  broadcast: BroadcastView;
}

export interface WebhookDisabledData {
  subscription: { id: string; url: string; events: string[]; status: 'disabled' };
  reason: string;
  disabledAt: string;
}

/** What each event's `data` holds; `recordEvent` and `EventBatch.add` accept nothing else. */
export interface EventPayloads {
  'message.create.contact.chat.contact': MessageCreatedData;
  'message.create.contact.chat.agent': MessageCreatedData;
  'message.create.contact.chat.bot': MessageCreatedData;
  'message.update': MessageUpdatedData;
  'conversation.create': ConversationCreatedData;
  'conversation.update': ConversationUpdatedData;
  'broadcast.update': BroadcastEventData;
  'broadcast.completed': BroadcastEventData;
  'webhook.disabled': WebhookDisabledData;
}

/** Contract event names (`resource.operation[.conversationType.messageType.role]`), plus `webhook.disabled`. */
export type DomainEventType = keyof EventPayloads;
export type EventPayload<T extends DomainEventType> = EventPayloads[T];

/** Every event name, in the catalog's order; only names of `EventPayloads` compile here. */
export const EVENT_TYPES: DomainEventType[] = Object.keys(EVENT_CATALOG) as (keyof typeof EVENT_CATALOG)[];

/** The zod schema of an event's `data`; every name of `EventPayloads` must have one to compile. */
export function eventSchema(type: DomainEventType): z.ZodType {
  const catalog: { [K in DomainEventType]: { schema: z.ZodType; summary: string } } = EVENT_CATALOG;
  return catalog[type].schema;
}

export function isEventType(s: string): s is DomainEventType {
  return Object.hasOwn(EVENT_CATALOG, s);
}

/**
 * The contract's subscription rule: a subscribed name receives the event of that name and every
 * event below it, at whole segments (`message.create.contact.chat` receives
 * `message.create.contact.chat.bot`; `message.cre` receives nothing).
 */
export function eventMatches(subscribed: string, type: DomainEventType): boolean {
  return subscribed === type || (subscribed.length > 0 && type.startsWith(`${subscribed}.`));
}

/** A name a subscription may list: an event name, or a segment prefix of one. */
export function isValidEventFilter(s: string): boolean {
  return EVENT_TYPES.some((type) => eventMatches(s, type));
}

/**
 * The touchpoint an event happened on, for subscriptions filtered by touchpoint: a message's own
 * (`whatsapp`); null for events that are not about one message.
 */
export function eventTouchpoint<T extends DomainEventType>(type: T, data: EventPayload<T>): string | null {
  if (!type.startsWith('message.')) return null;
  return (data as MessageCreatedData).message?.touchpoint ?? null;
}
