import { describe, expect, it } from 'vitest';
import {
  EVENT_CATALOG,
  EVENT_TYPES,
  eventEnvelopeSchema,
  eventMatches,
  eventSchema,
  EventBatch,
  eventTouchpoint,
  isEventType,
  recordEvent,
  isValidEventFilter,
  type EventPayload,
} from '../src/events';

const CONTRACT_NAMES = [
  'message.create.contact.chat.contact',
  'message.create.contact.chat.agent',
  'message.create.contact.chat.bot',
  'message.update',
  'conversation.create',
  'conversation.update',
  'broadcast.update',
  'broadcast.completed',
  'webhook.disabled',
];

const at = '2026-11-29T10:00:00.000Z';
const message: EventPayload<'message.create.contact.chat.contact'>['message'] = {
  id: '0193a000-0000-7000-8000-000000000001',
  conversationId: '0193a000-0000-7000-8000-000000000002',
  channelId: '0193a000-0000-7000-8000-000000000003',
  touchpoint: 'whatsapp',
  direction: 'inbound',
  role: 'contact',
  type: 'text',
  content: { text: 'Hola' },
  status: 'received',
  wamid: 'wamid.A',
  error: null,
  ai: false,
  authorId: null,
  editedAt: null,
  deletedAt: null,
  history: [],
  createdAt: at,
  statusUpdatedAt: at,
};
const contact = { id: '0193a000-0000-7000-8000-000000000004', name: 'Alma', phone: '+50212345678' };
const conversation: EventPayload<'conversation.create'>['conversation'] = {
  id: message.conversationId,
  status: 'active',
  channelId: message.channelId,
  contact: { ...contact, email: null },
  assignee: null,
  requestId: null,
  unreadCount: 1,
  lastMessage: { preview: 'Hola', at },
  lastInboundAt: at,
  windowExpiresAt: '2026-11-30T10:00:00.000Z',
  canSend: { freeForm: true, templates: true, marketingTemplates: true },
  createdAt: at,
  updatedAt: at,
};
const broadcast: EventPayload<'broadcast.completed'>['broadcast'] = {
  id: '0193a000-0000-7000-8000-000000000005',
  status: 'completed',
  channelId: message.channelId!,
  template: { name: 'hello_world', language: 'en_US' },
  statistics: { total: 2, pending: 0, sent: 1, delivered: 1, read: 0, failed: 0, skipped: 0, unknown: 0 },
  createdAt: at,
  finishedAt: at,
  failureReason: null,
};

/** One well-formed payload per event name, typed by the catalog: a wrong shape here fails to compile. */
const samples: { [T in (typeof EVENT_TYPES)[number]]: EventPayload<T> } = {
  'message.create.contact.chat.contact': { message, contact },
  'message.create.contact.chat.agent': { message: { ...message, direction: 'outbound', role: 'agent', status: 'queued', wamid: null }, contact },
  'message.create.contact.chat.bot': { message: { ...message, direction: 'outbound', role: 'bot', status: 'queued', wamid: null }, contact },
  'message.update': {
    message: { ...message, direction: 'outbound', role: 'agent', status: 'failed', error: { code: 131026, title: 'Message undeliverable' } },
    contact,
    change: 'status',
    changes: { status: 'failed', error: { code: 131026, title: 'Message undeliverable' } },
    previous: { status: 'sent' },
  },
  'conversation.create': { conversation },
  'conversation.update': { conversation: { ...conversation, status: 'resolved' }, changes: { status: 'resolved' }, previous: { status: 'active' } },
  'broadcast.update': { broadcast },
  'broadcast.completed': { broadcast },
  'webhook.disabled': {
    subscription: { id: '0193a000-0000-7000-8000-000000000006', url: 'https://partner.example/hooks', events: ['message'], status: 'disabled' },
    reason: 'The endpoint answered 410 Gone.',
    disabledAt: at,
  },
};

describe('the event catalog', () => {
  it('names exactly the contract’s events, plus webhook.disabled, each with a schema', () => {
    expect([...EVENT_TYPES].sort()).toEqual([...CONTRACT_NAMES].sort());
    expect(Object.keys(EVENT_CATALOG).sort()).toEqual([...CONTRACT_NAMES].sort());
    for (const type of EVENT_TYPES) {
      expect(isEventType(type)).toBe(true);
      expect(EVENT_CATALOG[type].summary.length, type).toBeGreaterThan(10);
    }
    expect(isEventType('message')).toBe(false);
    expect(isEventType('toString')).toBe(false);
  });

  it('accepts a well-formed payload of each event and the envelope around it', () => {
    for (const type of EVENT_TYPES) {
      const data = samples[type];
      expect(eventSchema(type).safeParse(data).error, type).toBeUndefined();
      const envelope = { id: '0193a000-0000-7000-8000-0000000000ff', type, createdAt: at, organizationId: '0193a000-0000-7000-8000-0000000000aa', sequence: 42, data };
      expect(eventEnvelopeSchema(type).safeParse(envelope).error, type).toBeUndefined();
    }
  });

  it('refuses payloads of another shape: the old ad-hoc ones, a view missing a field, another event’s payload', () => {
    expect(eventSchema('message.update').safeParse({ messageId: message.id, conversationId: message.conversationId, status: 'read' }).success).toBe(false);
    expect(eventSchema('conversation.create').safeParse({ conversationId: conversation.id, contactId: contact.id, status: 'active' }).success).toBe(false);
    expect(eventSchema('broadcast.update').safeParse({ broadcastId: broadcast.id, status: 'running' }).success).toBe(false);
    const { touchpoint: _touchpoint, ...untouched } = message;
    expect(eventSchema('message.create.contact.chat.contact').safeParse({ message: untouched, contact }).success).toBe(false);
    expect(eventSchema('message.create.contact.chat.contact').safeParse({ message: { ...message, type: 'text', content: { text: 7 } }, contact }).success).toBe(false);
    expect(eventSchema('message.update').safeParse(samples['message.create.contact.chat.contact']).success).toBe(false);
    expect(eventSchema('conversation.update').safeParse({ conversation }).success).toBe(false);
    expect(eventSchema('webhook.disabled').safeParse({ ...samples['webhook.disabled'], subscription: { ...samples['webhook.disabled'].subscription, status: 'active' } }).success).toBe(false);
    expect(eventEnvelopeSchema('message.update').safeParse({ id: 'x', type: 'message.update', createdAt: at, organizationId: 'o', sequence: 1.5, data: samples['message.update'] }).success).toBe(false);
    expect(eventEnvelopeSchema('message.update').safeParse({ id: 'x', type: 'conversation.update', createdAt: at, organizationId: 'o', sequence: 1, data: samples['message.update'] }).success).toBe(false);
  });
});

describe('writing events', () => {
  it('takes only the payload of the event named (checked by the typecheck: each line below must fail to compile)', async () => {
    const batch = new EventBatch();
    const org = '0193a000-0000-7000-8000-0000000000aa';
    // @ts-expect-error the old ad-hoc message.update
    batch.add(org, 'message.update', { messageId: message.id, conversationId: message.conversationId, status: 'read' }, new Date());
    // @ts-expect-error another event's payload
    batch.add(org, 'conversation.create', samples['message.create.contact.chat.contact'], new Date());
    // @ts-expect-error a message without its contact
    batch.add(org, 'message.create.contact.chat.bot', () => ({ message }), new Date());
    // @ts-expect-error not an event name
    batch.add(org, 'message.create', samples['message.create.contact.chat.contact'], new Date());
    batch.add(org, 'broadcast.completed', samples['broadcast.completed'], new Date());
    expect(batch.size).toBe(5);

    const written: unknown[][] = [];
    const record = async (_text: string, params: unknown[] = []) => void written.push(params);
    const sql = { all: async () => [], prepared: async (text: string, params: unknown[]) => (await record(text, params), []), run: record };
    // @ts-expect-error the old ad-hoc broadcast.update
    await recordEvent(sql, org, 'broadcast.update', { broadcastId: broadcast.id, status: 'running' }, new Date());
    await recordEvent(sql, org, 'broadcast.update', samples['broadcast.update'], new Date());
    expect(written.map((params) => params[2])).toEqual(['broadcast.update', 'broadcast.update']);
  });
});

describe('subscription names', () => {
  it('match an event exactly, or as a prefix at whole segments', () => {
    expect(eventMatches('message.create.contact.chat.bot', 'message.create.contact.chat.bot')).toBe(true);
    expect(eventMatches('message.create.contact.chat', 'message.create.contact.chat.bot')).toBe(true);
    expect(eventMatches('message.create.contact.chat', 'message.create.contact.chat.contact')).toBe(true);
    expect(eventMatches('message.create', 'message.create.contact.chat.agent')).toBe(true);
    expect(eventMatches('message', 'message.update')).toBe(true);
    expect(eventMatches('message', 'message.create.contact.chat.contact')).toBe(true);
    expect(eventMatches('conversation', 'conversation.update')).toBe(true);
    expect(eventMatches('broadcast', 'broadcast.completed')).toBe(true);
  });

  it('do not match inside a segment, below the event, or across resources', () => {
    expect(eventMatches('message.cre', 'message.create.contact.chat.bot')).toBe(false);
    expect(eventMatches('mess', 'message.update')).toBe(false);
    expect(eventMatches('message.create.contact.chat.bo', 'message.create.contact.chat.bot')).toBe(false);
    expect(eventMatches('message.update.status', 'message.update')).toBe(false);
    expect(eventMatches('message.create.contact.chat', 'message.update')).toBe(false);
    expect(eventMatches('conversation', 'message.update')).toBe(false);
    expect(eventMatches('message.', 'message.update')).toBe(false);
    expect(eventMatches('', 'message.update')).toBe(false);
    expect(eventMatches('*', 'message.update')).toBe(false);
  });

  it('are valid filters when they name an event or a segment prefix of one', () => {
    for (const valid of [...CONTRACT_NAMES, 'message', 'message.create', 'message.create.contact', 'message.create.contact.chat', 'conversation', 'broadcast', 'webhook']) {
      expect(isValidEventFilter(valid), valid).toBe(true);
    }
    for (const invalid of ['', 'message.cre', 'messages', 'message.', '.message', 'message..update', 'message.update.extra', 'message.create.contact.chat.robot', 'webhook.enabled', '*', 'MESSAGE']) {
      expect(isValidEventFilter(invalid), invalid).toBe(false);
    }
  });

  it('tell the touchpoint of message events, and none of others', () => {
    for (const type of EVENT_TYPES) {
      expect(eventTouchpoint(type, samples[type]), type).toBe(type.startsWith('message.') ? 'whatsapp' : null);
    }
  });
});
