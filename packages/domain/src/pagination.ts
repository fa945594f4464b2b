import { ValidationError } from '@parley/core';

/**
 * Keyset paging over time-ordered ids, newest first. The cursor is opaque to clients: the last id
 * of a page, wrapped so that its shape can change without breaking them.
 */
export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string' && /^[0-9a-f-]{36}$/.test(parsed.after)) return parsed.after;
  } catch {
    // fall through to the validation error
  }
  throw new ValidationError([{ path: 'cursor', message: 'Unknown or malformed cursor.' }]);
}

export function encodeCursor(lastId: string): string {
  return Buffer.from(JSON.stringify({ after: lastId })).toString('base64url');
}

/** Fetch `limit + 1` rows; the extra one only tells whether another page exists. */
export function toPage<E extends { id: string }, T>(rows: E[], limit: number, map: (row: E) => T): Page<T> {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { data: pageRows.map(map), nextCursor: more && last ? encodeCursor(last.id) : null };
}

export function keysetWhere(cursor: string | undefined): { id?: { $lt: string } } {
  const after = decodeCursor(cursor);
  return after ? { id: { $lt: after } } : {};
}
