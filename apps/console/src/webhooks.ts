import { matchesPattern, type EventName } from '../../../packages/sdk/src/events';
import type { paths } from '../../../packages/sdk/src/generated/openapi';

export type Subscription = paths['/v1/webhooks']['get']['responses'][200]['content']['application/json']['data'][number];
export type SubscriptionWithSecret = paths['/v1/webhooks']['post']['responses'][201]['content']['application/json'];
export type Delivery = paths['/v1/webhooks/{id}/deliveries']['get']['responses'][200]['content']['application/json']['data'][number];
export type DeliveryQuery = NonNullable<paths['/v1/webhooks/{id}/deliveries']['get']['parameters']['query']>;
export type Backlog = paths['/v1/webhooks/backlog']['get']['responses'][200]['content']['application/json'];

/**
 * The event catalog as the picker shows it. Keyed by the SDK's event names (read from the
 * OpenAPI document's `webhooks`), so an event added to the platform fails the console's
 * typecheck until it has a label here, instead of silently missing from the picker.
 */
const EVENT_LABELS: Record<EventName, string> = {
  'message.create.contact.chat.contact': 'A contact wrote',
  'message.create.contact.chat.agent': 'An agent’s message was accepted for sending',
  'message.create.contact.chat.bot': 'A bot’s message was accepted for sending',
  'message.update': 'A message’s status changed, or it was edited or deleted',
  'conversation.create': 'A conversation started',
  'conversation.update': 'A conversation’s status, assignee, request or unread count changed',
  'broadcast.update': 'A broadcast started or ended',
  'broadcast.completed': 'A broadcast sent to every recipient',
  'webhook.disabled': 'One of these subscriptions was disabled',
};

export interface EventGroup {
  /** The prefix that subscribes to every event of the group (`message`). */
  prefix: string;
  events: { name: EventName; label: string }[];
}

/** The catalog grouped by its first segment, in the catalog's order. */
export const EVENT_GROUPS: EventGroup[] = (() => {
  const groups = new Map<string, EventGroup>();
  for (const [name, label] of Object.entries(EVENT_LABELS) as [EventName, string][]) {
    const prefix = name.split('.')[0]!;
    const group = groups.get(prefix) ?? { prefix, events: [] };
    group.events.push({ name, label });
    groups.set(prefix, group);
  }
  return [...groups.values()];
})();

export const EVENT_NAMES = Object.keys(EVENT_LABELS) as EventName[];

/** True when a pattern other than `pattern` itself in `selected` already covers it. */
export function coveredBy(selected: readonly string[], pattern: string): string | undefined {
  return selected.find((p) => p !== pattern && matchesPattern(p, pattern));
}

/**
 * What to send as `events`: distinct, without a name or prefix that a broader selected prefix
 * already covers (the platform would deliver it once either way, but the list would mislead).
 */
export function normalizeEvents(selected: readonly string[]): string[] {
  const distinct = [...new Set(selected.map((s) => s.trim()).filter(Boolean))];
  return distinct.filter((p) => !coveredBy(distinct, p)).sort();
}

/** Selected patterns the picker has no checkbox for (a mid-level prefix set through the API). */
export function patternsOutsidePicker(selected: readonly string[]): string[] {
  const known = new Set<string>([...EVENT_NAMES, ...EVENT_GROUPS.map((g) => g.prefix)]);
  return selected.filter((p) => !known.has(p));
}

/** Catalog events a list of patterns receives. */
export function receivedEvents(patterns: readonly string[]): EventName[] {
  return EVENT_NAMES.filter((name) => patterns.some((p) => matchesPattern(p, name)));
}

export function toggle(selected: readonly string[], pattern: string, on: boolean): string[] {
  const rest = selected.filter((p) => p !== pattern);
  return on ? [...rest, pattern] : rest;
}

/** `datetime-local` input values are the browser's local time; the API takes ISO 8601. */
export function localInputToIso(value: string): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export interface LogFilters {
  status: '' | 'pending' | 'succeeded' | 'failed';
  eventType: string;
  since: string;
  until: string;
}

export const NO_FILTERS: LogFilters = { status: '', eventType: '', since: '', until: '' };

/** The delivery log query for the filter form, or the problem that stops it. */
export const LOG_PAGE = 50;

export function deliveryQuery(f: LogFilters, limit = LOG_PAGE): { query: DeliveryQuery } | { problem: string } {
  const since = localInputToIso(f.since);
  const until = localInputToIso(f.until);
  if (f.since && !since) return { problem: 'The start time is not a valid time.' };
  if (f.until && !until) return { problem: 'The end time is not a valid time.' };
  if (since && until && since >= until) return { problem: 'The start must be before the end.' };
  const eventType = f.eventType.trim();
  return {
    query: {
      limit,
      ...(f.status ? { status: f.status } : {}),
      ...(eventType ? { eventType } : {}),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
    },
  };
}

/**
 * The log after the first page was read again. Without older pages loaded it is that page. With
 * them, what lies below the page's end stays, so a periodic refresh does not throw away what the
 * person scrolled to. The log is ordered by delivery id, newest first (ids are time-ordered
 * UUIDv7, so they compare as strings); a delivery gone from the first page's range no longer
 * matches the filters and goes.
 */
export function refreshFirstPage<T extends { id: string }>(shown: readonly T[], firstPage: readonly T[], pageSize: number): T[] {
  const end = firstPage.at(-1)?.id;
  if (shown.length <= pageSize || firstPage.length < pageSize || end === undefined) return [...firstPage];
  return [...firstPage, ...shown.filter((d) => d.id < end)];
}

/** The replay range, both ends required and in order. */
export function replayRange(sinceInput: string, untilInput: string): { since: string; until: string } | { problem: string } {
  const since = localInputToIso(sinceInput);
  const until = localInputToIso(untilInput);
  if (!since || !until) return { problem: 'Give both the start and the end of the range.' };
  if (since >= until) return { problem: 'The start must be before the end.' };
  return { since, until };
}

export function formatLatency(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3600)} h`;
}

/** One sentence for the backlog card. */
export function backlogSummary(b: Backlog): string {
  if (b.pendingDeliveries === 0 && b.undispatchedEvents === 0) return 'Everything is delivered.';
  const parts = [`${b.pendingDeliveries} ${b.pendingDeliveries === 1 ? 'delivery' : 'deliveries'} waiting`];
  if (b.undispatchedEvents) parts.push(`${b.undispatchedEvents} ${b.undispatchedEvents === 1 ? 'event' : 'events'} not yet fanned out`);
  return `${parts.join(', ')}; the oldest undelivered event is ${formatAge(b.oldestUndeliveredAgeSeconds)} old.`;
}

/** Why a subscription is disabled, in words (the platform stores a short reason). */
export function disabledText(s: Pick<Subscription, 'status' | 'disabledReason' | 'disabledAt'>): string | null {
  if (s.status !== 'disabled') return null;
  const when = s.disabledAt ? ` on ${new Date(s.disabledAt).toLocaleString()}` : '';
  return `Disabled${when}${s.disabledReason ? `: ${s.disabledReason}` : ''}.`;
}
