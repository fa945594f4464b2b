import type { RoutingTimeGroup, TimeRange, Weekday } from './types';

/*
 * Business-hours logic of the time-group editor, kept apart from React so it can be tested:
 * ranges are HH:MM on the organization's wall clock, `to` earlier than `from` runs past midnight
 * into the next day, and `24:00` ends a range at midnight (docs/routing.md, "Business hours").
 */

export const WEEKDAYS: { key: Weekday; label: string; short: string }[] = [
  { key: 'monday', label: 'Monday', short: 'Mon' },
  { key: 'tuesday', label: 'Tuesday', short: 'Tue' },
  { key: 'wednesday', label: 'Wednesday', short: 'Wed' },
  { key: 'thursday', label: 'Thursday', short: 'Thu' },
  { key: 'friday', label: 'Friday', short: 'Fri' },
  { key: 'saturday', label: 'Saturday', short: 'Sat' },
  { key: 'sunday', label: 'Sunday', short: 'Sun' },
];

const CLOCK = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

/** Minutes after midnight of an `HH:MM` (24:00 is 1440), or null when it is not one. */
export function parseClock(text: string): number | null {
  if (!CLOCK.test(text)) return null;
  const [h, m] = text.split(':').map(Number);
  return h! * 60 + m!;
}

/** Accepts what people type (`9`, `930`, `9:30`, `09.30`) and answers `HH:MM`, or the text unchanged. */
export function normalizeClock(text: string): string {
  const t = text.trim();
  const m = /^(\d{1,2})(?:[:.h]?(\d{2}))?$/.exec(t);
  if (!m) return t;
  const h = Number(m[1]);
  const min = m[2] === undefined ? 0 : Number(m[2]);
  if (h > 24 || min > 59 || (h === 24 && min !== 0)) return t;
  return `${String(h).padStart(2, '0')}:${String(min).padStart(2, '0')}`;
}

/** What the server would refuse about one range, in words; null when it is fine. */
export function rangeProblem(range: TimeRange): string | null {
  const from = parseClock(range.from);
  const to = parseClock(range.to);
  if (from === null) return 'Opening time must be HH:MM (00:00 to 23:59).';
  if (to === null) return 'Closing time must be HH:MM (00:00 to 24:00).';
  if (from === 1440) return 'A range cannot start at 24:00.';
  if (from === to) return 'A range must not open and close at the same time.';
  return null;
}

/** True when the range runs past midnight into the next day (it belongs to the day it starts on). */
export function crossesMidnight(range: TimeRange): boolean {
  const from = parseClock(range.from);
  const to = parseClock(range.to);
  return from !== null && to !== null && to < from && to > 0;
}

/** Minutes the range is open, counting the part after midnight. */
export function rangeMinutes(range: TimeRange): number {
  const from = parseClock(range.from);
  const to = parseClock(range.to);
  if (from === null || to === null || from === to) return 0;
  return to > from ? to - from : 1440 - from + to;
}

export function describeRange(range: TimeRange): string {
  const text = `${range.from}–${range.to}`;
  if (crossesMidnight(range)) return `${text} (ends the next day)`;
  if (range.to === '00:00' || range.to === '24:00') return `${range.from}–midnight`;
  return text;
}

/**
 * Pairs of ranges of one day that open at the same time, as `[i, j]`: allowed by the server
 * (the union is open) but almost always a typing mistake, so the editor points them out.
 */
export function overlappingRanges(ranges: TimeRange[]): [number, number][] {
  const spans = ranges.map((r) => {
    const from = parseClock(r.from);
    return from === null || rangeProblem(r) ? null : { from, to: from + rangeMinutes(r) };
  });
  const pairs: [number, number][] = [];
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const a = spans[i];
      const b = spans[j];
      if (a && b && a.from < b.to && b.from < a.to) pairs.push([i, j]);
    }
  }
  return pairs;
}

/** The ranges ordered by opening time, for saving and showing. */
export function sortRanges(ranges: TimeRange[]): TimeRange[] {
  return [...ranges].sort((a, b) => (parseClock(a.from) ?? 0) - (parseClock(b.from) ?? 0));
}

export function emptyWeek(): RoutingTimeGroup['weekly'] {
  return { monday: [], tuesday: [], wednesday: [], thursday: [], friday: [], saturday: [], sunday: [] };
}

/** Copies one day's ranges to other days (the editor's "Copy to weekdays"). */
export function copyDay(weekly: RoutingTimeGroup['weekly'], from: Weekday, to: Weekday[]): RoutingTimeGroup['weekly'] {
  const next = { ...weekly };
  for (const day of to) if (day !== from) next[day] = weekly[from].map((r) => ({ ...r }));
  return next;
}

/** "Mon–Fri 09:00–13:00, 14:00–18:00; Sat 10:00–14:00": consecutive days with the same hours grouped. */
export function summarizeWeek(weekly: RoutingTimeGroup['weekly']): string {
  const keyOf = (d: Weekday) => sortRanges(weekly[d]).map(describeRange).join(', ');
  const parts: string[] = [];
  let i = 0;
  while (i < WEEKDAYS.length) {
    const key = keyOf(WEEKDAYS[i]!.key);
    let j = i;
    while (j + 1 < WEEKDAYS.length && keyOf(WEEKDAYS[j + 1]!.key) === key) j++;
    if (key) parts.push(`${WEEKDAYS[i]!.short}${j > i ? `–${WEEKDAYS[j]!.short}` : ''} ${key}`);
    i = j + 1;
  }
  return parts.length ? parts.join('; ') : 'Closed every day';
}

/** The wall-clock offset of `zone` from UTC at `instant`, in minutes. */
function zoneOffsetMinutes(instant: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(instant / 1000) * 1000) / 60_000);
}

/**
 * The instant at which `zone`'s wall clock reads `local` (`YYYY-MM-DDTHH:MM`, as a
 * datetime-local input gives it): the dry run's "at" is asked in the organization's time zone,
 * not the browser's. A time skipped by a DST change lands an hour later, as clocks do.
 */
export function zonedToInstant(local: string, zone: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
  if (!m) throw new Error(`Not a local date and time: ${local}`);
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
  const first = wall - zoneOffsetMinutes(wall, zone) * 60_000;
  // Once more with the offset in force at the first guess: right across a DST change.
  const second = wall - zoneOffsetMinutes(first, zone) * 60_000;
  const wanted = local.slice(0, 16);
  if (instantToZoned(new Date(second), zone) === wanted) return new Date(second);
  if (instantToZoned(new Date(first), zone) === wanted) return new Date(first);
  // A wall time the clocks skipped: the later reading, as a clock moved forward shows it.
  return new Date(Math.max(first, second));
}

/** `YYYY-MM-DDTHH:MM` of `instant` on `zone`'s wall clock, for a datetime-local input. */
export function instantToZoned(instant: Date, zone: string): string {
  const shifted = new Date(instant.getTime() + zoneOffsetMinutes(instant.getTime(), zone) * 60_000);
  return shifted.toISOString().slice(0, 16);
}
