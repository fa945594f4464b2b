// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { groupByQueue, queueChanged, waitedFor } from './Queues';

const row = (over: Partial<Parameters<typeof groupByQueue>[0][number]>) => ({
  id: 'w',
  queueId: 'q1',
  queueName: 'Sales',
  queuePriority: 0,
  queueRemoved: false,
  conversationId: 'c',
  position: 1,
  enqueuedAt: '2026-11-29T12:00:00Z',
  averageWaitMinutes: 3,
  contact: { id: 'k', name: 'Ana', phone: '+502' },
  ...over,
});

describe('the agents’ waiting queues', () => {
  it('groups by queue, higher priority first, each in position order', () => {
    const groups = groupByQueue([
      row({ id: 'a', queueId: 'q1', queueName: 'Sales', queuePriority: 1, position: 2 }),
      row({ id: 'b', queueId: 'q2', queueName: 'VIP', queuePriority: 50, position: 1 }),
      row({ id: 'c', queueId: 'q1', queueName: 'Sales', queuePriority: 1, position: 1 }),
      row({ id: 'd', queueId: 'q3', queueName: 'Billing', queuePriority: 1, position: 1 }),
    ]);
    expect(groups.map((g) => g.name)).toEqual(['VIP', 'Billing', 'Sales']);
    expect(groups[2]!.rows.map((r) => r.id)).toEqual(['c', 'a']);
  });

  it('says how long a conversation has waited', () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    expect(waitedFor('2026-11-29T11:59:30Z', now)).toBe('less than a minute');
    expect(waitedFor('2026-11-29T11:45:00Z', now)).toBe('15 min');
    expect(waitedFor('2026-11-29T09:50:00Z', now)).toBe('2 h 10 min');
    // A clock a little ahead of the server's never shows a negative wait.
    expect(waitedFor('2026-11-29T12:00:05Z', now)).toBe('less than a minute');
  });

  it('reads the list again on a change of who waits in a queue, and only then', () => {
    const update = (changes: Record<string, unknown>) => ({ id: '1', type: 'conversation.update', data: { conversation: { id: 'c' }, changes, previous: {} } });
    expect(queueChanged(update({ queueId: 'q1' }))).toBe(true);
    // Taken by a person: assigned, and no longer waiting.
    expect(queueChanged(update({ assigneeId: 'u', queueId: null }))).toBe(true);
    expect(queueChanged(update({ unreadCount: 0 }))).toBe(false);
    expect(queueChanged({ id: '2', type: 'message.create.contact.chat.contact', data: { message: {} } })).toBe(false);
  });
});
