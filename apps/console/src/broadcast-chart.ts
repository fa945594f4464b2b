import type { components } from '../../../packages/sdk/src/generated/openapi';

export type Broadcast = components['schemas']['Broadcast'];
export type BroadcastStatistics = Broadcast['statistics'];

/**
 * The recipient statuses a broadcast's statistics split into, furthest first: stacked in this
 * order, the bar reads from "reached the person" to "still waiting". `unknown` is a send whose
 * outcome Meta never confirmed.
 */
export const STATUSES = ['read', 'delivered', 'sent', 'failed', 'skipped', 'unknown', 'pending'] as const;
export type ChartStatus = (typeof STATUSES)[number];

export const STATUS_LABEL: Record<ChartStatus, string> = {
  read: 'Read',
  delivered: 'Delivered',
  sent: 'Sent',
  failed: 'Failed',
  skipped: 'Skipped',
  unknown: 'Unconfirmed',
  pending: 'Pending',
};

export interface Segment {
  status: ChartStatus;
  count: number;
  /** Where the segment starts and how wide it is, as fractions of the whole (0..1). */
  start: number;
  width: number;
}

/** The stacked bar's segments; statuses with no recipient are left out. */
export function segments(stats: BroadcastStatistics): Segment[] {
  const total = stats.total || 0;
  if (!total) return [];
  const out: Segment[] = [];
  let before = 0;
  for (const status of STATUSES) {
    const count = stats[status] ?? 0;
    if (!count) continue;
    out.push({ status, count, start: before / total, width: count / total });
    before += count;
  }
  return out;
}

/** The chart's text alternative: every non-empty status with its count and share. */
export function describeStatistics(stats: BroadcastStatistics): string {
  if (!stats.total) return 'No recipients.';
  const parts = segments(stats).map((s) => `${s.count} ${STATUS_LABEL[s.status].toLowerCase()} (${Math.round(s.width * 100)}%)`);
  return `${stats.total} recipient${stats.total === 1 ? '' : 's'}: ${parts.join(', ')}.`;
}

export interface Sample {
  /** Milliseconds since the epoch. */
  at: number;
  stats: BroadcastStatistics;
}

/** Appends a sample when the figures changed; a repeat of the last one only moves time on. */
export function addSample(samples: readonly Sample[], next: Sample, max = 300): Sample[] {
  const last = samples[samples.length - 1];
  if (last && STATUSES.every((s) => last.stats[s] === next.stats[s]) && last.stats.total === next.stats.total) {
    // Kept as a second point so the flat stretch up to now is drawn.
    const before = samples[samples.length - 2];
    if (before && STATUSES.every((s) => before.stats[s] === next.stats[s])) return [...samples.slice(0, -1), next];
    return [...samples, next];
  }
  const out = [...samples, next];
  return out.length > max ? out.slice(out.length - max) : out;
}

/**
 * One closed SVG path per status for a stacked area chart of the samples over time, in a
 * `width` x `height` box: each status's band lies between the statuses stacked before it and
 * itself, so the bands always fill the whole height (every recipient has one status).
 */
export function areaPaths(samples: readonly Sample[], width: number, height: number): Array<{ status: ChartStatus; d: string }> {
  if (samples.length < 2) return [];
  const t0 = samples[0]!.at;
  const span = Math.max(1, samples[samples.length - 1]!.at - t0);
  const x = (s: Sample) => round(((s.at - t0) / span) * width);
  // Boundaries from the top (y = 0) down: status i occupies [below[i], below[i+1]].
  const bounds = samples.map((s) => {
    const total = s.stats.total || 1;
    const ys = [0];
    let acc = 0;
    for (const status of STATUSES) {
      acc += s.stats[status] ?? 0;
      ys.push(round((acc / total) * height));
    }
    return ys;
  });
  const out: Array<{ status: ChartStatus; d: string }> = [];
  STATUSES.forEach((status, i) => {
    if (samples.every((s) => !(s.stats[status] ?? 0))) return;
    const top = samples.map((s, k) => `${x(s)},${bounds[k]![i]}`);
    const bottom = samples.map((s, k) => `${x(s)},${bounds[k]![i + 1]}`).reverse();
    out.push({ status, d: `M${top.join('L')}L${bottom.join('L')}Z` });
  });
  return out;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
