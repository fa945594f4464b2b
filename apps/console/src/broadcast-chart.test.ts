import { describe, expect, it } from 'vitest';
import { addSample, areaPaths, type BroadcastStatistics, describeStatistics, segments } from './broadcast-chart';

const stats = (over: Partial<BroadcastStatistics>): BroadcastStatistics => ({ total: 0, pending: 0, sent: 0, delivered: 0, read: 0, failed: 0, skipped: 0, unknown: 0, ...over });

describe('the broadcast chart', () => {
  it('stacks the statuses furthest first, leaving out the empty ones', () => {
    const s = stats({ total: 10, read: 5, delivered: 2, failed: 1, pending: 2 });
    expect(segments(s)).toEqual([
      { status: 'read', count: 5, start: 0, width: 0.5 },
      { status: 'delivered', count: 2, start: 0.5, width: 0.2 },
      { status: 'failed', count: 1, start: 0.7, width: 0.1 },
      { status: 'pending', count: 2, start: 0.8, width: 0.2 },
    ]);
    expect(segments(stats({}))).toEqual([]);
  });

  it('says in words what the bar shows', () => {
    expect(describeStatistics(stats({ total: 3, read: 2, failed: 1 }))).toBe('3 recipients: 2 read (67%), 1 failed (33%).');
    expect(describeStatistics(stats({ total: 1, pending: 1 }))).toBe('1 recipient: 1 pending (100%).');
    expect(describeStatistics(stats({}))).toBe('No recipients.');
  });

  it('keeps a sample per change, and one for the flat stretch up to now', () => {
    const a = { at: 0, stats: stats({ total: 2, pending: 2 }) };
    const b = { at: 1000, stats: stats({ total: 2, sent: 1, pending: 1 }) };
    let samples = addSample([], a);
    samples = addSample(samples, b);
    samples = addSample(samples, { at: 2000, stats: stats({ total: 2, sent: 1, pending: 1 }) });
    samples = addSample(samples, { at: 3000, stats: stats({ total: 2, sent: 1, pending: 1 }) });
    expect(samples.map((s) => s.at)).toEqual([0, 1000, 3000]);
    expect(addSample(samples, { at: 4000, stats: stats({ total: 2, read: 2 }) }, 3).map((s) => s.at)).toEqual([1000, 3000, 4000]);
  });

  it('draws each status as a band between the ones stacked before it, filling the height', () => {
    const samples = [
      { at: 0, stats: stats({ total: 4, pending: 4 }) },
      { at: 2000, stats: stats({ total: 4, read: 1, sent: 1, pending: 2 }) },
    ];
    expect(areaPaths(samples, 100, 40)).toEqual([
      { status: 'read', d: 'M0,0L100,0L100,10L0,0Z' },
      { status: 'sent', d: 'M0,0L100,10L100,20L0,0Z' },
      { status: 'pending', d: 'M0,0L100,20L100,40L0,40Z' },
    ]);
    expect(areaPaths(samples.slice(0, 1), 100, 40)).toEqual([]);
  });
});
