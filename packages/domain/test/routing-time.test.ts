import { describe, expect, it } from 'vitest';
import { type RoutingDocument, routingDocumentSchema, type TimeGroup, timeGroupSchema, timeGroupInput } from '../src/routing/config';
import { fillQueuePlaceholders } from '../src/routing/queues';
import { evaluateTimeCondition, findIncludeCycle, isOpen, isValidTimeZone, RoutingCycleError } from '../src/routing/time';
import { validateRoutingDocument } from '../src/routing/validate';

const group = (id: string, input: Record<string, unknown>): TimeGroup => timeGroupSchema.parse({ id, name: id, ...input });
const at = (iso: string) => new Date(iso);
const NY = 'America/New_York';
const MADRID = 'Europe/Madrid';

describe('weekly hours across DST changes', () => {
  it('New York, spring forward (2026-03-08, 02:00 EST -> 03:00 EDT): 01:00-03:00 is open one real hour', () => {
    const g = group('g', { weekly: { sunday: [{ from: '01:00', to: '03:00' }] } });
    expect(isOpen(g, at('2026-03-08T05:59:00Z'), NY)).toBe(false); // 00:59 EST
    expect(isOpen(g, at('2026-03-08T06:00:00Z'), NY)).toBe(true); // 01:00 EST
    expect(isOpen(g, at('2026-03-08T06:59:59Z'), NY)).toBe(true); // 01:59:59 EST
    // One second later the wall clock reads 03:00 EDT; a fixed -05:00 offset would say 02:00 and open.
    expect(isOpen(g, at('2026-03-08T07:00:00Z'), NY)).toBe(false);
    expect(isOpen(g, at('2026-03-08T07:30:00Z'), NY)).toBe(false);
  });

  it('New York, fall back (2026-11-01): 01:00-02:00 happens twice and is open both times', () => {
    const g = group('g', { weekly: { sunday: [{ from: '01:00', to: '02:00' }] } });
    expect(isOpen(g, at('2026-11-01T05:30:00Z'), NY)).toBe(true); // 01:30 EDT
    expect(isOpen(g, at('2026-11-01T06:30:00Z'), NY)).toBe(true); // 01:30 EST
    expect(isOpen(g, at('2026-11-01T07:00:00Z'), NY)).toBe(false); // 02:00 EST
  });

  it('Madrid, the Monday after spring forward (2026-03-29): 09:00-17:00 moves an hour earlier in UTC', () => {
    const g = group('g', { weekly: { monday: [{ from: '09:00', to: '17:00' }], friday: [{ from: '09:00', to: '17:00' }] } });
    // Friday before the change: CET, UTC+1.
    expect(isOpen(g, at('2026-03-27T07:30:00Z'), MADRID)).toBe(false);
    expect(isOpen(g, at('2026-03-27T08:00:00Z'), MADRID)).toBe(true);
    expect(isOpen(g, at('2026-03-27T15:59:00Z'), MADRID)).toBe(true);
    // Monday after: CEST, UTC+2.
    expect(isOpen(g, at('2026-03-30T06:59:00Z'), MADRID)).toBe(false);
    expect(isOpen(g, at('2026-03-30T07:00:00Z'), MADRID)).toBe(true);
    expect(isOpen(g, at('2026-03-30T14:59:00Z'), MADRID)).toBe(true);
    expect(isOpen(g, at('2026-03-30T15:00:00Z'), MADRID)).toBe(false);
  });

  it('Madrid, the night of the change: 01:00-04:00 is open two real hours', () => {
    const g = group('g', { weekly: { sunday: [{ from: '01:00', to: '04:00' }] } });
    expect(isOpen(g, at('2026-03-28T23:59:00Z'), MADRID)).toBe(false); // 00:59 CET
    expect(isOpen(g, at('2026-03-29T00:00:00Z'), MADRID)).toBe(true); // 01:00 CET
    expect(isOpen(g, at('2026-03-29T01:00:00Z'), MADRID)).toBe(true); // 03:00 CEST
    expect(isOpen(g, at('2026-03-29T02:00:00Z'), MADRID)).toBe(false); // 04:00 CEST
  });

  it('several ranges a day (a split shift), in the zone of the organization', () => {
    const g = group('g', { weekly: { monday: [{ from: '09:00', to: '13:00' }, { from: '15:00', to: '19:00' }] } });
    // Monday 2026-11-23, EST (UTC-5).
    expect(isOpen(g, at('2026-11-23T14:30:00Z'), NY)).toBe(true); // 09:30
    expect(isOpen(g, at('2026-11-23T19:00:00Z'), NY)).toBe(false); // 14:00, between the shifts
    expect(isOpen(g, at('2026-11-23T20:00:00Z'), NY)).toBe(true); // 15:00
    expect(isOpen(g, at('2026-11-24T00:00:00Z'), NY)).toBe(false); // 19:00
    // The same instant read in UTC is 19:00, the end of the second shift: ends are exclusive.
    expect(isOpen(g, at('2026-11-23T19:00:00Z'), 'UTC')).toBe(false);
    expect(isOpen(g, at('2026-11-23T18:59:00Z'), 'UTC')).toBe(true);
  });
});

describe('past midnight', () => {
  // Friday 2026-11-20, New York (EST, UTC-5).
  const g = group('g', { weekly: { friday: [{ from: '22:00', to: '02:00' }] } });

  it('a range 22:00-02:00 runs from Friday night into Saturday morning', () => {
    expect(isOpen(g, at('2026-11-21T02:59:00Z'), NY)).toBe(false); // Fri 21:59
    expect(isOpen(g, at('2026-11-21T03:00:00Z'), NY)).toBe(true); // Fri 22:00
    expect(isOpen(g, at('2026-11-21T04:59:00Z'), NY)).toBe(true); // Fri 23:59
    expect(isOpen(g, at('2026-11-21T05:00:00Z'), NY)).toBe(true); // Sat 00:00
    expect(isOpen(g, at('2026-11-21T06:59:00Z'), NY)).toBe(true); // Sat 01:59
    expect(isOpen(g, at('2026-11-21T07:00:00Z'), NY)).toBe(false); // Sat 02:00
  });

  it('only the day it starts on opens it: Friday 01:00 (after a closed Thursday) and Saturday 23:00 are closed', () => {
    expect(isOpen(g, at('2026-11-20T06:00:00Z'), NY)).toBe(false); // Fri 01:00
    expect(isOpen(g, at('2026-11-22T04:00:00Z'), NY)).toBe(false); // Sat 23:00
  });

  it('24:00 closes a range at the end of the day', () => {
    const late = group('late', { weekly: { friday: [{ from: '18:00', to: '24:00' }] } });
    expect(isOpen(late, at('2026-11-21T04:59:00Z'), NY)).toBe(true); // Fri 23:59
    expect(isOpen(late, at('2026-11-21T05:00:00Z'), NY)).toBe(false); // Sat 00:00
  });
});

describe('holidays and overrides', () => {
  const weekdays = Object.fromEntries(['monday', 'tuesday', 'wednesday', 'thursday', 'friday'].map((d) => [d, [{ from: '09:00', to: '17:00' }]]));

  it('a holiday closes its date all day, and the night range of the day before stops at its midnight', () => {
    const g = group('g', {
      weekly: { ...weekdays, thursday: [{ from: '09:00', to: '17:00' }, { from: '22:00', to: '02:00' }] },
      holidays: [{ date: '2026-12-25', name: 'Christmas' }],
    });
    expect(isOpen(g, at('2026-12-24T17:00:00Z'), NY)).toBe(true); // Thu 12:00
    expect(isOpen(g, at('2026-12-25T04:00:00Z'), NY)).toBe(true); // Thu 23:00
    expect(isOpen(g, at('2026-12-25T06:00:00Z'), NY)).toBe(false); // Fri (holiday) 01:00
    expect(isOpen(g, at('2026-12-25T17:00:00Z'), NY)).toBe(false); // Fri (holiday) 12:00
    expect(isOpen(g, at('2026-12-18T17:00:00Z'), NY)).toBe(true); // the Friday before, 12:00
  });

  it('a night range of a holiday does not run into the next morning', () => {
    const g = group('g', { weekly: { friday: [{ from: '22:00', to: '02:00' }] }, holidays: [{ date: '2026-12-25' }] });
    expect(isOpen(g, at('2026-12-26T06:00:00Z'), NY)).toBe(false); // Sat 01:00 after the holiday
    expect(isOpen(g, at('2026-12-19T06:00:00Z'), NY)).toBe(true); // Sat 01:00 a week earlier
  });

  it('overrides: a closed working day, an open Sunday, and an override wins over a holiday', () => {
    const g = group('g', {
      weekly: weekdays,
      holidays: [{ date: '2026-12-31' }],
      overrides: [
        { date: '2026-12-21', closed: true },
        { date: '2026-12-27', closed: false, ranges: [{ from: '10:00', to: '12:00' }] },
        { date: '2026-12-31', closed: false, ranges: [{ from: '09:00', to: '13:00' }] },
      ],
    });
    expect(isOpen(g, at('2026-12-21T15:00:00Z'), NY)).toBe(false); // Mon 10:00, closed by override
    expect(isOpen(g, at('2026-12-22T15:00:00Z'), NY)).toBe(true); // Tue 10:00
    expect(isOpen(g, at('2026-12-27T15:30:00Z'), NY)).toBe(true); // Sun 10:30, opened by override
    expect(isOpen(g, at('2026-12-27T17:00:00Z'), NY)).toBe(false); // Sun 12:00
    expect(isOpen(g, at('2026-12-31T15:00:00Z'), NY)).toBe(true); // Thu 10:00: holiday, but the override opens it
    expect(isOpen(g, at('2026-12-31T19:00:00Z'), NY)).toBe(false); // Thu 14:00: the override's hours, not the week's
  });

  it('an override must be closed or have ranges, and dates must be real', () => {
    expect(timeGroupInput.safeParse({ name: 'x', overrides: [{ date: '2026-12-27', closed: false }] }).success).toBe(false);
    expect(timeGroupInput.safeParse({ name: 'x', overrides: [{ date: '2026-12-27', closed: true, ranges: [{ from: '10:00', to: '11:00' }] }] }).success).toBe(false);
    expect(timeGroupInput.safeParse({ name: 'x', holidays: [{ date: '2026-02-30' }] }).success).toBe(false);
    expect(timeGroupInput.safeParse({ name: 'x', weekly: { monday: [{ from: '10:00', to: '10:00' }] } }).success).toBe(false);
    expect(timeGroupInput.safeParse({ name: 'x', weekly: { monday: [{ from: '25:00', to: '10:00' }] } }).success).toBe(false);
  });
});

describe('included groups', () => {
  const bank = group('bank', { holidays: [{ date: '2026-12-25' }] });
  const regional = group('regional', { includes: ['bank'], holidays: [{ date: '2026-12-08' }] });
  const evening = group('evening', { weekly: { monday: [{ from: '18:00', to: '20:00' }] } });
  const office = group('office', {
    weekly: { monday: [{ from: '09:00', to: '13:00' }], friday: [{ from: '09:00', to: '17:00' }], tuesday: [{ from: '09:00', to: '17:00' }] },
    includes: ['regional', 'evening'],
    overrides: [{ date: '2026-12-08', closed: false, ranges: [{ from: '09:00', to: '11:00' }] }],
  });
  const all = [bank, regional, evening, office];

  it('takes in the holidays of groups included at any depth', () => {
    expect(isOpen(office, at('2026-12-25T15:00:00Z'), NY, all)).toBe(false); // Fri, bank holiday two levels down
    expect(isOpen(office, at('2026-12-18T15:00:00Z'), NY, all)).toBe(true); // the Friday before
  });

  it('adds the weekly hours of included groups', () => {
    expect(isOpen(office, at('2026-11-23T23:30:00Z'), NY, all)).toBe(true); // Mon 18:30 from "evening"
    expect(isOpen(office, at('2026-11-23T20:00:00Z'), NY, all)).toBe(false); // Mon 15:00
  });

  it('its own override wins over an included holiday', () => {
    expect(isOpen(office, at('2026-12-08T14:30:00Z'), NY, all)).toBe(true); // Tue 09:30
    expect(isOpen(office, at('2026-12-08T17:00:00Z'), NY, all)).toBe(false); // Tue 12:00
    expect(isOpen(regional, at('2026-12-08T14:30:00Z'), NY, all)).toBe(false);
  });

  it('include cycles are refused when evaluating and when saving', () => {
    const a = group('a', { includes: ['b'], weekly: { monday: [{ from: '09:00', to: '17:00' }] } });
    const b = group('b', { includes: ['c'] });
    const c = group('c', { includes: ['a'] });
    expect(findIncludeCycle([a, b, c])).toEqual(['a', 'b', 'c', 'a']);
    expect(() => isOpen(a, at('2026-11-23T15:00:00Z'), NY, [a, b, c])).toThrow(RoutingCycleError);
    const doc = routingDocumentSchema.parse({ timeGroups: [a, b, c] });
    const problems = validateRoutingDocument(doc, { userIds: new Set(), channelIds: new Set() });
    expect(problems).toEqual([{ path: 'timeGroups.0.includes', message: expect.stringContaining('a -> b -> c -> a') }]);
    const self = group('self', { includes: ['self'] });
    expect(validateRoutingDocument(routingDocumentSchema.parse({ timeGroups: [self] }), { userIds: new Set(), channelIds: new Set() })).toEqual([
      { path: 'timeGroups.0.includes.0', message: 'A time group cannot include itself.' },
    ]);
  });
});

describe('time conditions', () => {
  const doc = (timeConditions: unknown[]): RoutingDocument =>
    routingDocumentSchema.parse({
      queues: [{ id: 'q-day', name: 'Day' }, { id: 'q-weekend', name: 'Weekend' }],
      terminates: [{ id: 't-closed', name: 'Closed', cause: 'out_of_hours' }],
      timeGroups: [
        { id: 'g-week', name: 'Week', weekly: { monday: [{ from: '09:00', to: '17:00' }] } },
        { id: 'g-weekend', name: 'Weekend', weekly: { saturday: [{ from: '10:00', to: '14:00' }] } },
      ],
      timeConditions,
    });
  const chain = doc([
    { id: 'tc-week', name: 'Weekdays', timeGroupId: 'g-week', whenOpen: { kind: 'queue', id: 'q-day' }, whenClosed: { kind: 'time_condition', id: 'tc-weekend' } },
    { id: 'tc-weekend', name: 'Weekend', timeGroupId: 'g-weekend', whenOpen: { kind: 'queue', id: 'q-weekend' }, whenClosed: { kind: 'terminate', id: 't-closed' } },
  ]);

  it('follows a chain to the first destination that is not a time condition, recording the path', () => {
    expect(evaluateTimeCondition(chain, 'tc-week', at('2026-11-23T15:00:00Z'), NY)).toEqual({
      destination: { kind: 'queue', id: 'q-day' },
      path: [{ timeConditionId: 'tc-week', timeGroupId: 'g-week', open: true }],
    });
    expect(evaluateTimeCondition(chain, 'tc-week', at('2026-11-21T16:00:00Z'), NY)).toEqual({
      destination: { kind: 'queue', id: 'q-weekend' },
      path: [
        { timeConditionId: 'tc-week', timeGroupId: 'g-week', open: false },
        { timeConditionId: 'tc-weekend', timeGroupId: 'g-weekend', open: true },
      ],
    });
    expect(evaluateTimeCondition(chain, 'tc-week', at('2026-11-22T16:00:00Z'), NY).destination).toEqual({ kind: 'terminate', id: 't-closed' });
    expect(validateRoutingDocument(chain, { userIds: new Set(), channelIds: new Set() })).toEqual([]);
  });

  it('a chain with a cycle is refused when saved, and never loops when evaluated', () => {
    const looped = doc([
      { id: 'tc-a', name: 'A', timeGroupId: 'g-week', whenOpen: { kind: 'queue', id: 'q-day' }, whenClosed: { kind: 'time_condition', id: 'tc-b' } },
      { id: 'tc-b', name: 'B', timeGroupId: 'g-weekend', whenOpen: { kind: 'queue', id: 'q-weekend' }, whenClosed: { kind: 'time_condition', id: 'tc-a' } },
    ]);
    expect(validateRoutingDocument(looped, { userIds: new Set(), channelIds: new Set() })).toEqual([
      { path: 'timeConditions.0', message: expect.stringContaining('tc-a -> tc-b -> tc-a') },
    ]);
    expect(() => evaluateTimeCondition(looped, 'tc-a', at('2026-11-22T16:00:00Z'), NY)).toThrow(RoutingCycleError);
  });

  it('unknown references are reported with their paths', () => {
    const broken = doc([
      { id: 'tc-x', name: 'X', timeGroupId: 'g-nope', whenOpen: { kind: 'queue', id: 'q-nope' }, whenClosed: { kind: 'chatbot', id: 'bot-nope' } },
    ]);
    expect(validateRoutingDocument(broken, { userIds: new Set(), channelIds: new Set() }).map((p) => p.path)).toEqual([
      'timeConditions.0.timeGroupId',
      'timeConditions.0.whenOpen.id',
      'timeConditions.0.whenClosed.id',
    ]);
  });
});

describe('queue placeholders and zones', () => {
  it('fills position, average wait and name, leaving other text alone', () => {
    expect(fillQueuePlaceholders('You are number {{queue.position}} in {{ queue.name }}; about {{queue.averageWaitMinutes}} min. {{other}}', { position: 3, averageWaitMinutes: 7, name: 'Sales' })).toBe(
      'You are number 3 in Sales; about 7 min. {{other}}',
    );
  });

  it('knows IANA zones', () => {
    expect(isValidTimeZone(MADRID)).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});
