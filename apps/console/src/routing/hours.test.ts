import { describe, expect, it } from 'vitest';
import {
  copyDay,
  crossesMidnight,
  describeRange,
  emptyWeek,
  instantToZoned,
  normalizeClock,
  overlappingRanges,
  parseClock,
  rangeMinutes,
  rangeProblem,
  sortRanges,
  summarizeWeek,
  zonedToInstant,
} from './hours';

describe('time ranges of the business-hours editor', () => {
  it('reads HH:MM, with 24:00 as the end of the day', () => {
    expect(parseClock('09:30')).toBe(570);
    expect(parseClock('24:00')).toBe(1440);
    expect(parseClock('24:01')).toBeNull();
    expect(parseClock('9:30')).toBeNull();
    expect(normalizeClock('9')).toBe('09:00');
    expect(normalizeClock('930')).toBe('09:30');
    expect(normalizeClock('17.45')).toBe('17:45');
    expect(normalizeClock('24')).toBe('24:00');
    expect(normalizeClock('25')).toBe('25');
    expect(normalizeClock('noon')).toBe('noon');
  });

  it('refuses what the server refuses, in words', () => {
    expect(rangeProblem({ from: '09:00', to: '17:00' })).toBeNull();
    expect(rangeProblem({ from: '22:00', to: '02:00' })).toBeNull();
    expect(rangeProblem({ from: '25:00', to: '02:00' })).toMatch(/Opening time/);
    expect(rangeProblem({ from: '09:00', to: 'x' })).toMatch(/Closing time/);
    expect(rangeProblem({ from: '24:00', to: '02:00' })).toMatch(/cannot start at 24:00/);
    expect(rangeProblem({ from: '10:00', to: '10:00' })).toMatch(/same time/);
  });

  it('knows a range that runs past midnight belongs to the day it starts on', () => {
    expect(crossesMidnight({ from: '22:00', to: '02:00' })).toBe(true);
    expect(crossesMidnight({ from: '22:00', to: '24:00' })).toBe(false);
    expect(crossesMidnight({ from: '22:00', to: '00:00' })).toBe(false);
    expect(rangeMinutes({ from: '22:00', to: '02:00' })).toBe(240);
    expect(rangeMinutes({ from: '22:00', to: '00:00' })).toBe(120);
    expect(rangeMinutes({ from: '09:00', to: '24:00' })).toBe(900);
    expect(describeRange({ from: '22:00', to: '02:00' })).toBe('22:00–02:00 (ends the next day)');
    expect(describeRange({ from: '18:00', to: '24:00' })).toBe('18:00–midnight');
    expect(describeRange({ from: '09:00', to: '13:00' })).toBe('09:00–13:00');
  });

  it('points out ranges of a day that overlap, a night range included', () => {
    expect(overlappingRanges([{ from: '09:00', to: '13:00' }, { from: '14:00', to: '18:00' }])).toEqual([]);
    expect(overlappingRanges([{ from: '09:00', to: '13:00' }, { from: '12:00', to: '18:00' }])).toEqual([[0, 1]]);
    expect(overlappingRanges([{ from: '22:00', to: '03:00' }, { from: '23:00', to: '23:30' }, { from: '08:00', to: '10:00' }])).toEqual([[0, 1]]);
    // Touching is not overlapping: 13:00 is the first's end and the second's start.
    expect(overlappingRanges([{ from: '09:00', to: '13:00' }, { from: '13:00', to: '15:00' }])).toEqual([]);
  });

  it('orders, copies and summarizes the week', () => {
    expect(sortRanges([{ from: '14:00', to: '18:00' }, { from: '09:00', to: '13:00' }]).map((r) => r.from)).toEqual(['09:00', '14:00']);
    const week = { ...emptyWeek(), monday: [{ from: '09:00', to: '13:00' }, { from: '14:00', to: '18:00' }] };
    const copied = copyDay(week, 'monday', ['tuesday', 'wednesday', 'thursday', 'friday']);
    expect(copied.friday).toEqual(week.monday);
    expect(copied.friday).not.toBe(week.monday);
    copied.saturday = [{ from: '22:00', to: '02:00' }];
    expect(summarizeWeek(copied)).toBe('Mon–Fri 09:00–13:00, 14:00–18:00; Sat 22:00–02:00 (ends the next day)');
    expect(summarizeWeek(emptyWeek())).toBe('Closed every day');
  });

  it('reads the dry run’s time on the organization’s wall clock, across DST', () => {
    expect(zonedToInstant('2026-12-01T18:30', 'UTC').toISOString()).toBe('2026-12-01T18:30:00.000Z');
    expect(zonedToInstant('2026-12-01T09:00', 'America/New_York').toISOString()).toBe('2026-12-01T14:00:00.000Z');
    expect(zonedToInstant('2026-07-01T09:00', 'America/New_York').toISOString()).toBe('2026-07-01T13:00:00.000Z');
    expect(zonedToInstant('2026-07-01T09:00', 'Asia/Kolkata').toISOString()).toBe('2026-07-01T03:30:00.000Z');
    // 02:30 does not exist on 8 March 2026 in New York; clocks read 03:30 then.
    expect(zonedToInstant('2026-03-08T02:30', 'America/New_York').toISOString()).toBe('2026-03-08T07:30:00.000Z');
    // 01:30 happens twice on 1 November 2026: the first time is taken.
    expect(zonedToInstant('2026-11-01T01:30', 'America/New_York').toISOString()).toBe('2026-11-01T05:30:00.000Z');
    expect(instantToZoned(new Date('2026-12-01T14:00:00Z'), 'America/New_York')).toBe('2026-12-01T09:00');
    expect(instantToZoned(new Date('2026-07-01T03:30:00Z'), 'Asia/Kolkata')).toBe('2026-07-01T09:00');
  });
});
