// @vitest-environment happy-dom
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BroadcastStatistics, Sample } from '../broadcast-chart';
import { BroadcastChart } from './BroadcastChart';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let container: HTMLElement;
let root: Root;
beforeEach(() => {
  container = document.createElement('div');
  document.body.append(container);
  root = createRoot(container);
});
afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

const stats = (over: Partial<BroadcastStatistics>): BroadcastStatistics => ({ total: 0, pending: 0, sent: 0, delivered: 0, read: 0, failed: 0, skipped: 0, unknown: 0, ...over });
const images = () => [...container.querySelectorAll('svg[role="img"]')].map((svg) => svg.getAttribute('aria-label'));
const count = (status: string) => container.querySelector(`[data-stat="${status}"]`)?.textContent;

describe('the broadcast chart', () => {
  it('shows where the recipients stand, in words as well, with every count in its legend', () => {
    const now = stats({ total: 4, read: 2, failed: 1, pending: 1 });
    act(() => root.render(<BroadcastChart stats={now} samples={[{ at: 0, stats: now }]} />));
    expect(images()).toEqual(['Recipients by status: 4 recipients: 2 read (50%), 1 failed (25%), 1 pending (25%).']);
    expect([count('total'), count('read'), count('failed'), count('pending'), count('sent')]).toEqual(['4', '2', '1', '1', '0']);
    // Unconfirmed sends are named only when there are some.
    expect(count('unknown')).toBeUndefined();
    expect(container.querySelectorAll('.bc-bar rect.bc-read, .bc-bar rect.bc-failed, .bc-bar rect.bc-pending')).toHaveLength(3);
  });

  it('adds how the shares moved once it has watched for two seconds', () => {
    const start = stats({ total: 2, pending: 2 });
    const end = stats({ total: 2, read: 1, unknown: 1 });
    const samples: Sample[] = [
      { at: 0, stats: start },
      { at: 1500, stats: end },
    ];
    act(() => root.render(<BroadcastChart stats={end} samples={samples} />));
    expect(images()).toHaveLength(1);
    act(() => root.render(<BroadcastChart stats={end} samples={[...samples, { at: 4000, stats: end }]} />));
    expect(images()[1]).toBe('Over the last 4 s. At the start: 2 recipients: 2 pending (100%). Now: 2 recipients: 1 read (50%), 1 unconfirmed (50%).');
    expect(container.querySelectorAll('.bc-area path')).toHaveLength(3);
    expect(count('unknown')).toBe('1');
  });
});
