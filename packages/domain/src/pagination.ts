import { isId, ValidationError } from '@parley/core';

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
  const parsed = parseJson(Buffer.from(cursor, 'base64url').toString('utf8'));
  const after = parsed && typeof parsed === 'object' ? (parsed as { after?: unknown }).after : undefined;
  // Only an id can reach the database: anything else would fail there as a cast, not as bad input.
  if (typeof after === 'string' && isId(after)) return after;
  throw malformedCursor();
}

/** The largest id a Postgres bigint holds. */
const MAX_SEQUENCE = 2n ** 63n - 1n;

/**
 * Cursors over rows kept in their insertion order (a bigint sequence id, such as a broadcast's
 * recipients): the last id of a page. Anything but an id a bigint column holds is refused here.
 */
export function decodeSequenceCursor(cursor: string | undefined): bigint | undefined {
  if (cursor === undefined) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (/^\d{1,19}$/.test(text) && BigInt(text) <= MAX_SEQUENCE) return BigInt(text);
  throw malformedCursor();
}

export function encodeSequenceCursor(lastId: bigint | string): string {
  return Buffer.from(String(lastId)).toString('base64url');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const malformedCursor = () => new ValidationError([{ path: 'query.cursor', message: 'Unknown or malformed cursor.' }]);

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
