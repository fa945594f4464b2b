import { DateTime, IANAZone } from 'luxon';
import { type RoutingDocument, type TimeGroup, type TimeRange, WEEKDAYS } from './config';
import type { Destination } from './tree';

/**
 * Business hours. Ranges are wall-clock times in the organization's time zone, compared with the
 * local time luxon gives for the instant, so a DST change moves the hours with the clock: on a
 * spring-forward day 01:00-03:00 is open one real hour, on a fall-back day 01:00-02:00 two.
 */

export const DEFAULT_TIME_ZONE = 'UTC';

export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

export class RoutingCycleError extends Error {
  constructor(readonly cycle: string[], what: string) {
    super(`${what} form a cycle: ${cycle.join(' -> ')}`);
    this.name = 'RoutingCycleError';
  }
}

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** A cycle among `edges` reachable from `start`, as the ids along it (first id repeated last), or null. */
export function findCycle(start: string, edges: (id: string) => readonly string[]): string[] | null {
  const onPath: string[] = [];
  const done = new Set<string>();
  const visit = (id: string): string[] | null => {
    const at = onPath.indexOf(id);
    if (at >= 0) return [...onPath.slice(at), id];
    if (done.has(id)) return null;
    onPath.push(id);
    for (const next of edges(id)) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    onPath.pop();
    done.add(id);
    return null;
  };
  return visit(start);
}

/** Included groups that include each other, or null. */
export function findIncludeCycle(groups: readonly TimeGroup[]): string[] | null {
  const byId = new Map(groups.map((g) => [g.id, g]));
  for (const g of groups) {
    const cycle = findCycle(g.id, (id) => byId.get(id)?.includes ?? []);
    if (cycle) return cycle;
  }
  return null;
}

/** The group followed by everything it includes, depth first, each once. Refuses include cycles. */
function flatten(group: TimeGroup, groups: readonly TimeGroup[]): TimeGroup[] {
  const byId = new Map(groups.map((g) => [g.id, g]));
  byId.set(group.id, group);
  const cycle = findCycle(group.id, (id) => byId.get(id)?.includes ?? []);
  if (cycle) throw new RoutingCycleError(cycle, 'Included time groups');
  const out: TimeGroup[] = [];
  const seen = new Set<string>();
  const walk = (g: TimeGroup) => {
    if (seen.has(g.id)) return;
    seen.add(g.id);
    out.push(g);
    for (const id of g.includes) {
      const inner = byId.get(id);
      if (inner) walk(inner);
    }
  };
  walk(group);
  return out;
}

type Day = { closed: true } | { closed: false; ranges: TimeRange[] };

/**
 * What a calendar date looks like for the group: a dated override (the group's own first, then
 * its included groups' in include order) replaces everything; otherwise a holiday of any of them
 * closes the day; otherwise the weekly ranges of all of them apply together.
 */
function resolveDay(flat: readonly TimeGroup[], date: DateTime): Day {
  const iso = date.toISODate()!;
  for (const g of flat) {
    const override = g.overrides.find((o) => o.date === iso);
    if (override) return override.closed ? { closed: true } : { closed: false, ranges: override.ranges ?? [] };
  }
  if (flat.some((g) => g.holidays.some((h) => h.date === iso))) return { closed: true };
  const weekday = WEEKDAYS[date.weekday - 1]!;
  return { closed: false, ranges: flat.flatMap((g) => g.weekly[weekday] ?? []) };
}

/**
 * Whether the group is open at `instant` in `zone`. `groups` supplies the groups it includes.
 * A range past midnight (22:00-02:00) belongs to the day it starts on: its early-morning part
 * follows that day's holidays and overrides, while a date that is closed is closed all day.
 */
export function isOpen(group: TimeGroup, instant: Date, zone: string, groups: readonly TimeGroup[] = []): boolean {
  const local = DateTime.fromJSDate(instant, { zone });
  if (!local.isValid) throw new Error(`Invalid time zone: ${zone}`);
  const flat = flatten(group, groups);
  // Calendar arithmetic on the date alone, so no DST gap can make "yesterday" an invalid time.
  const today = DateTime.fromObject({ year: local.year, month: local.month, day: local.day }, { zone: 'UTC' });
  const now = local.hour * 60 + local.minute;
  const day = resolveDay(flat, today);
  if (day.closed) return false;
  for (const r of day.ranges) {
    const from = minutesOf(r.from);
    const to = minutesOf(r.to);
    if (from < to ? now >= from && now < to : now >= from) return true;
  }
  const yesterday = resolveDay(flat, today.minus({ days: 1 }));
  if (yesterday.closed) return false;
  return yesterday.ranges.some((r) => minutesOf(r.from) > minutesOf(r.to) && now < minutesOf(r.to));
}

export interface TimeConditionStep {
  timeConditionId: string;
  timeGroupId: string;
  open: boolean;
}

/** Time conditions that lead to each other in a loop, or null. */
export function findTimeConditionCycle(doc: Pick<RoutingDocument, 'timeConditions'>): string[] | null {
  const byId = new Map(doc.timeConditions.map((t) => [t.id, t]));
  const next = (id: string) => {
    const tc = byId.get(id);
    if (!tc) return [];
    return [tc.whenOpen, tc.whenClosed].filter((d) => d.kind === 'time_condition' && d.id).map((d) => d.id!);
  };
  for (const tc of doc.timeConditions) {
    const cycle = findCycle(tc.id, next);
    if (cycle) return cycle;
  }
  return null;
}

/**
 * Follows a time condition, and the time conditions it leads to, to the first destination that is
 * not a time condition. Pure: the caller brings the live document, the instant and the zone.
 */
export function evaluateTimeCondition(
  doc: Pick<RoutingDocument, 'timeConditions' | 'timeGroups'>,
  timeConditionId: string,
  instant: Date,
  zone: string,
): { destination: Destination; path: TimeConditionStep[] } {
  const path: TimeConditionStep[] = [];
  let id = timeConditionId;
  for (;;) {
    if (path.some((s) => s.timeConditionId === id)) throw new RoutingCycleError([...path.map((s) => s.timeConditionId), id], 'Time conditions');
    const tc = doc.timeConditions.find((t) => t.id === id);
    if (!tc) throw new Error(`Unknown time condition ${id}`);
    const group = doc.timeGroups.find((g) => g.id === tc.timeGroupId);
    if (!group) throw new Error(`Unknown time group ${tc.timeGroupId}`);
    const open = isOpen(group, instant, zone, doc.timeGroups);
    path.push({ timeConditionId: tc.id, timeGroupId: group.id, open });
    const destination = open ? tc.whenOpen : tc.whenClosed;
    if (destination.kind !== 'time_condition') return { destination, path };
    id = destination.id!;
  }
}
