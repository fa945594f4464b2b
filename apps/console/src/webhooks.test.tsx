// @vitest-environment happy-dom
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventPicker } from './components/EventPicker';
import {
  backlogSummary,
  coveredBy,
  deliveryQuery,
  disabledText,
  EVENT_GROUPS,
  EVENT_NAMES,
  formatAge,
  formatLatency,
  NO_FILTERS,
  normalizeEvents,
  patternsOutsidePicker,
  receivedEvents,
  refreshFirstPage,
  replayRange,
} from './webhooks';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

describe('the event catalog', () => {
  it('groups every SDK event name under its first segment, once', () => {
    expect(EVENT_GROUPS.map((g) => g.prefix)).toEqual(['message', 'conversation', 'broadcast', 'webhook']);
    const grouped = EVENT_GROUPS.flatMap((g) => g.events.map((e) => e.name));
    expect(grouped.sort()).toEqual([...EVENT_NAMES].sort());
    for (const g of EVENT_GROUPS) for (const e of g.events) expect(e.name.startsWith(`${g.prefix}.`)).toBe(true);
  });

  it('sends a selection without what a broader prefix already covers', () => {
    expect(normalizeEvents(['message.update', 'message', 'conversation.create', 'message.create.contact.chat.agent'])).toEqual(['conversation.create', 'message']);
    expect(normalizeEvents(['message.create.contact.chat', 'message.create.contact.chat.bot', ' broadcast.update ', 'broadcast.update'])).toEqual([
      'broadcast.update',
      'message.create.contact.chat',
    ]);
    // A prefix only covers at a dot: `message` does not swallow a `messages…` name.
    expect(normalizeEvents(['message', 'messages.x'])).toEqual(['message', 'messages.x']);
    expect(normalizeEvents([])).toEqual([]);
  });

  it('tells which checkbox covers an event and what a subscription receives', () => {
    expect(coveredBy(['message'], 'message.update')).toBe('message');
    expect(coveredBy(['message.update'], 'message.update')).toBeUndefined();
    expect(receivedEvents(['message.create.contact.chat'])).toEqual([
      'message.create.contact.chat.contact',
      'message.create.contact.chat.agent',
      'message.create.contact.chat.bot',
    ]);
    expect(patternsOutsidePicker(['message', 'message.update', 'message.create.contact.chat'])).toEqual(['message.create.contact.chat']);
  });
});

describe('the delivery log filters', () => {
  it('builds the query, leaving out empty filters, with local times as ISO', () => {
    expect(deliveryQuery(NO_FILTERS)).toEqual({ query: { limit: 50 } });
    const since = '2026-11-29T10:00';
    const built = deliveryQuery({ status: 'failed', eventType: ' message ', since, until: '' });
    expect(built).toEqual({ query: { limit: 50, status: 'failed', eventType: 'message', since: new Date(since).toISOString() } });
  });

  it('refuses an empty or backwards range and an invalid time', () => {
    expect(deliveryQuery({ ...NO_FILTERS, since: '2026-11-29T10:00', until: '2026-11-29T10:00' })).toEqual({ problem: 'The start must be before the end.' });
    expect(deliveryQuery({ ...NO_FILTERS, until: 'tomorrow' })).toEqual({ problem: 'The end time is not a valid time.' });
    expect(replayRange('', '2026-11-29T10:00')).toEqual({ problem: 'Give both the start and the end of the range.' });
    expect(replayRange('2026-11-29T11:00', '2026-11-29T10:00')).toEqual({ problem: 'The start must be before the end.' });
    expect(replayRange('2026-11-29T09:00', '2026-11-29T10:00')).toEqual({
      since: new Date('2026-11-29T09:00').toISOString(),
      until: new Date('2026-11-29T10:00').toISOString(),
    });
  });
});

describe('refreshing the delivery log', () => {
  const d = (id: string) => ({ id });
  const ids = (list: { id: string }[]) => list.map((x) => x.id);

  it('replaces the first page when no older page is loaded', () => {
    expect(ids(refreshFirstPage([d('c'), d('b')], [d('d'), d('c')], 2))).toEqual(['d', 'c']);
    expect(ids(refreshFirstPage([], [d('a')], 2))).toEqual(['a']);
  });

  it('keeps what lies below a refreshed first page, once each', () => {
    // Pages of 2: [e, d] then [c, b] were shown; f arrived, so d moved down to the older page.
    const shown = [d('e'), d('d'), d('c'), d('b')];
    expect(ids(refreshFirstPage(shown, [d('f'), d('e')], 2))).toEqual(['f', 'e', 'd', 'c', 'b']);
    // d no longer matches the filters: the first page now ends at c.
    expect(ids(refreshFirstPage(shown, [d('e'), d('c')], 2))).toEqual(['e', 'c', 'b']);
    // A short first page is the whole log.
    expect(ids(refreshFirstPage(shown, [d('e')], 2))).toEqual(['e']);
  });
});

describe('texts', () => {
  it('formats latency, ages and the backlog', () => {
    expect(formatLatency(87)).toBe('87 ms');
    expect(formatLatency(1234)).toBe('1.23 s');
    expect(formatLatency(15_000)).toBe('15.0 s');
    expect(formatAge(59)).toBe('59 s');
    expect(formatAge(3 * 3600 + 120)).toBe('3 h 2 min');
    expect(formatAge(2 * 86_400 + 3600)).toBe('2 d 1 h');
    expect(backlogSummary({ oldestUndeliveredEventAt: null, oldestUndeliveredAgeSeconds: 0, pendingDeliveries: 0, undispatchedEvents: 0 })).toBe('Everything is delivered.');
    expect(backlogSummary({ oldestUndeliveredEventAt: 'x', oldestUndeliveredAgeSeconds: 90, pendingDeliveries: 1, undispatchedEvents: 2 })).toBe(
      '1 delivery waiting, 2 events not yet fanned out; the oldest undelivered event is 1 min old.',
    );
  });

  it('says why a subscription is disabled, and nothing for an active one', () => {
    expect(disabledText({ status: 'active', disabledReason: null, disabledAt: null })).toBeNull();
    expect(disabledText({ status: 'disabled', disabledReason: 'the endpoint answered 410', disabledAt: null })).toBe('Disabled: the endpoint answered 410.');
  });
});

describe('the event picker', () => {
  let container: HTMLElement;
  let root: Root;
  let selected: string[];

  const render = () =>
    act(() =>
      root.render(
        <EventPicker
          id="t"
          selected={selected}
          onChange={(next) => {
            selected = next;
            render();
          }}
        />,
      ),
    );
  const box = (name: string) => [...container.querySelectorAll('label')].find((l) => l.textContent?.includes(name))!.querySelector('input')!;

  beforeEach(() => {
    container = document.createElement('div');
    document.body.append(container);
    root = createRoot(container);
    selected = [];
  });
  afterEach(() => {
    act(() => root.unmount());
    container.remove();
  });

  it('ticks a group, which checks and locks its events, and unticks it again', () => {
    render();
    expect(container.querySelector('fieldset legend')?.textContent).toBe('Events');
    act(() => box('message.update').click());
    expect(selected).toEqual(['message.update']);
    act(() => box('Every message event').click());
    expect(selected.sort()).toEqual(['message', 'message.update']);
    expect(box('message.update').checked).toBe(true);
    expect(box('message.update').disabled).toBe(true);
    expect(box('conversation.create').disabled).toBe(false);
    act(() => box('Every message event').click());
    expect(selected).toEqual(['message.update']);
    expect(box('message.create.contact.chat.bot').checked).toBe(false);
  });

  it('keeps a pattern set through the API visible and removable', () => {
    selected = ['message.create.contact.chat'];
    render();
    expect(box('message.create.contact.chat.agent').disabled).toBe(true);
    const other = [...container.querySelectorAll('li label')].find((l) => l.textContent === 'message.create.contact.chat')!.querySelector('input')!;
    expect(other.checked).toBe(true);
    act(() => other.click());
    expect(selected).toEqual([]);
  });
});
