// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import type { Conversation } from '../api';
import { matches } from './Inbox';

const conversation = (over: Partial<Conversation>): Conversation =>
  ({
    id: 'c1',
    status: 'active',
    channelId: null,
    contact: { id: 'k', name: 'Ana', phone: '+502', email: null },
    assignee: null,
    requestId: null,
    unreadCount: 0,
    lastMessage: null,
    lastInboundAt: null,
    windowExpiresAt: null,
    canSend: { freeForm: false, templates: true, marketingTemplates: true },
    createdAt: '2026-11-29T12:00:00Z',
    updatedAt: '2026-11-29T12:00:00Z',
    ...over,
  }) as Conversation;

describe('inbox filters on live updates', () => {
  const all = { status: 'all', assignee: 'anyone', unread: false } as const;

  it('keep a conversation only while it matches status, assignee and unread', () => {
    const mine = conversation({ assignee: { id: 'u1', name: 'Me', email: 'me@x' }, unreadCount: 2 });
    expect(matches(mine, all, 'u1')).toBe(true);
    expect(matches(mine, { ...all, assignee: 'me' }, 'u1')).toBe(true);
    expect(matches(mine, { ...all, assignee: 'me' }, 'u2')).toBe(false);
    expect(matches(mine, { ...all, assignee: 'none' }, 'u1')).toBe(false);
    expect(matches(conversation({}), { ...all, assignee: 'none' }, 'u1')).toBe(true);
    expect(matches(mine, { ...all, unread: true }, 'u1')).toBe(true);
    expect(matches(conversation({ unreadCount: 0 }), { ...all, unread: true }, 'u1')).toBe(false);
    expect(matches(conversation({ status: 'resolved' }), { ...all, status: 'active' }, 'u1')).toBe(false);
    expect(matches(conversation({ status: 'resolved' }), { ...all, status: 'resolved' }, 'u1')).toBe(true);
  });
});
