// @vitest-environment happy-dom
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatRemaining, nextTickIn, windowState } from '../window';
import { templateKeys, useWindow } from './Composer';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

describe('the 24-hour window', () => {
  const now = Date.parse('2026-11-29T12:00:00Z');

  it('is open with the time left, warning in the last hour', () => {
    expect(windowState('2026-11-30T11:59:59Z', now)).toEqual({ open: true, remainingMs: 86_399_000, label: '23:59:59', closingSoon: false });
    expect(windowState('2026-11-29T12:59:00Z', now)).toMatchObject({ open: true, label: '59:00', closingSoon: true });
  });

  it('is closed at and after its end, and when the contact never wrote', () => {
    expect(windowState('2026-11-29T12:00:00Z', now).open).toBe(false);
    expect(windowState('2026-11-28T12:00:00Z', now)).toEqual({ open: false, remainingMs: 0, label: '0:00', closingSoon: false });
    expect(windowState(null, now).open).toBe(false);
    expect(windowState('not a date', now).open).toBe(false);
  });

  it('formats hours, minutes and seconds', () => {
    expect(formatRemaining(5_000)).toBe('0:05');
    expect(formatRemaining(3_600_000 + 65_000)).toBe('1:01:05');
  });

  it('ticks on the next whole second while open, never once closed', () => {
    expect(nextTickIn(windowState('2026-11-29T12:00:01.250Z', now))).toBe(250);
    expect(nextTickIn(windowState('2026-11-29T12:00:02Z', now))).toBe(1000);
    expect(nextTickIn(windowState(null, now))).toBeUndefined();
  });
});

describe('the composer counting down', () => {
  let container: HTMLElement;
  let root: Root;

  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.parse('2026-11-29T12:00:00Z'));
    container = document.createElement('div');
    document.body.append(container);
    root = createRoot(container);
  });
  afterEach(() => {
    act(() => root.unmount());
    container.remove();
    vi.useRealTimers();
  });

  function Countdown({ expires }: { expires: string | null }) {
    const w = useWindow(expires);
    return <p>{w.open ? `open ${w.label}` : 'templates only'}</p>;
  }

  it('counts down every second and switches to templates when the window closes', () => {
    act(() => root.render(<Countdown expires="2026-11-29T12:00:03Z" />));
    expect(container.textContent).toBe('open 0:03');
    act(() => {
      vi.advanceTimersByTime(1000);
    });
    expect(container.textContent).toBe('open 0:02');
    act(() => {
      vi.advanceTimersByTime(2000);
    });
    expect(container.textContent).toBe('templates only');
    // Closed: no timer is left running.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reopens when a new inbound message moves the window', () => {
    act(() => root.render(<Countdown expires="2026-11-29T11:00:00Z" />));
    expect(container.textContent).toBe('templates only');
    act(() => root.render(<Countdown expires="2026-11-30T12:00:00Z" />));
    expect(container.textContent).toBe('open 24:00:00');
  });
});

describe('template parameters', () => {
  it('asks for the header and each body variable once', () => {
    const components = [
      { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}' },
      { type: 'BODY', text: 'Hi {{1}}, your order {{2}} ships {{1}}' },
      { type: 'FOOTER', text: 'Thanks' },
    ];
    expect(templateKeys({ components })).toEqual(['header', '1', '2']);
    expect(templateKeys({ components: [{ type: 'HEADER', format: 'IMAGE' }, { type: 'BODY', text: 'Hello {{ name }}' }] })).toEqual(['header', 'name']);
    expect(templateKeys({ components: [{ type: 'BODY', text: 'No variables' }] })).toEqual([]);
  });
});
