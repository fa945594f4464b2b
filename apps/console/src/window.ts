/**
 * The 24-hour customer-service window as the composer shows it. Free-form replies are allowed
 * only while it is open; after that only templates may be sent.
 */
export interface WindowState {
  open: boolean;
  /** Milliseconds left; 0 once closed. */
  remainingMs: number;
  /** "23:59:12", "4:05" — hours only when there are any. */
  label: string;
  /** The last hour: the composer warns. */
  closingSoon: boolean;
}

const HOUR = 3_600_000;

export function windowState(windowExpiresAt: string | null | undefined, now: number): WindowState {
  const expires = windowExpiresAt ? Date.parse(windowExpiresAt) : Number.NaN;
  if (Number.isNaN(expires) || expires <= now) return { open: false, remainingMs: 0, label: '0:00', closingSoon: false };
  const remainingMs = expires - now;
  return { open: true, remainingMs, label: formatRemaining(remainingMs), closingSoon: remainingMs <= HOUR };
}

export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

/** When the label next changes, so a timer ticks exactly on the second and stops at the close. */
export function nextTickIn(state: WindowState): number | undefined {
  if (!state.open) return undefined;
  return state.remainingMs % 1000 || 1000;
}
