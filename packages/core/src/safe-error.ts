/**
 * Database errors arrive with the statement in their message: the query builder prefixes
 * PostgreSQL's own message with the SQL, and the ORM inlines bound values (phones, message texts)
 * into that SQL. PostgreSQL's `detail` repeats the values too (`Key (phone)=(+1415...)`). What may
 * be logged or stored is the server's message and its SQLSTATE code, nothing else.
 */

/**
 * Where the connection layer keeps PostgreSQL's message as it arrived, before the statement was
 * prefixed to it (set by @parley/db on every connection; the ORM copies it onto its exceptions).
 */
export const DATABASE_MESSAGE = 'databaseMessage';

/** Fields of a PostgreSQL error that name schema objects only, never data. */
const SAFE_DATABASE_FIELDS = ['code', 'severity', 'schema', 'table', 'column', 'dataType', 'constraint', 'routine'] as const;

/** A double-quoted name after these words is a schema object or setting; any other quoted text may be data. */
const NAMED_BY = /(?:constraint|relation|column|table|index|type|schema|sequence|function|database|role|encoding|extension|trigger|view|operator|domain|collation|savepoint|cursor|statement|parameter)\s+$/i;

/** `    at fn (file:1:2)`; a line of SQL starting with `at` does not end like one. */
const STACK_FRAME = /^\s+at \S.*(?::\d+:\d+\)?|\((?:native|<anonymous>)\))$/;

interface DatabaseErrorLike extends Error {
  code: string;
  [DATABASE_MESSAGE]?: unknown;
}

/** A PostgreSQL error (from the driver, or converted by the ORM): a SQLSTATE code and server fields. */
export function isDatabaseError(err: unknown): err is DatabaseErrorLike {
  if (!(err instanceof Error)) return false;
  const e = err as Partial<DatabaseErrorLike> & { severity?: unknown; routine?: unknown };
  return typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && (DATABASE_MESSAGE in e || 'severity' in e || 'routine' in e);
}

/** PostgreSQL's message with quoted values (`invalid input syntax for type uuid: "..."`) blanked. */
function redactValues(message: string): string {
  return message.replace(/"(?:[^"]|"")*"/g, (quoted, offset: number) => (NAMED_BY.test(message.slice(0, offset)) ? quoted : '"…"'));
}

function serverMessage(err: DatabaseErrorLike): string {
  const kept = err[DATABASE_MESSAGE];
  if (typeof kept === 'string') return redactValues(kept);
  // Without the kept message (a client other than the ORM's pool), the server's text is what
  // follows the statement's " - ", if any. A value holding " - " could leave part of itself behind,
  // so an unbalanced quote gives up on the text.
  const cut = err.message.lastIndexOf(' - ');
  const tail = cut < 0 ? err.message : err.message.slice(cut + 3);
  return (tail.match(/"/g)?.length ?? 0) % 2 === 0 ? redactValues(tail) : 'database error';
}

/**
 * The message of any thrown value, fit for logs and stored errors. For a database error: the
 * server's message and its code, such as `duplicate key value violates unique constraint "x"
 * (23505)`, never the statement, its parameters or the values PostgreSQL quotes back.
 */
export function safeErrorMessage(err: unknown): string {
  if (isDatabaseError(err)) return `${serverMessage(err)} (${err.code})`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * A copy of an error that is safe to serialize: database errors keep their type, code, schema
 * names and stack frames, with the statement taken out of the message and the stack. Causes are
 * made safe the same way; other errors are returned as they are.
 */
export function redactError<T>(err: T, seen = new Set<unknown>()): T {
  if (!(err instanceof Error) || seen.has(err)) return err;
  seen.add(err);
  const cause = (err as { cause?: unknown }).cause;
  if (!isDatabaseError(err)) {
    const safeCause = redactError(cause, seen);
    if (safeCause === cause) return err;
    const copy = Object.assign(Object.create(Object.getPrototypeOf(err) as object) as Error, err);
    copy.message = err.message;
    copy.stack = err.stack;
    copy.cause = safeCause;
    return copy as T;
  }
  const message = safeErrorMessage(err);
  const copy = Object.create(Object.getPrototypeOf(err) as object) as Error & Record<string, unknown>;
  for (const field of SAFE_DATABASE_FIELDS) {
    const value = (err as unknown as Record<string, unknown>)[field];
    if (value !== undefined) copy[field] = value;
  }
  copy.name = err.name;
  copy.message = message;
  // Frames only: the first lines of a stack repeat the message, statement included.
  const frames = (err.stack ?? '').split('\n').filter((line) => STACK_FRAME.test(line));
  copy.stack = [`${err.name}: ${message}`, ...frames].join('\n');
  if (cause !== undefined) copy.cause = redactError(cause, seen);
  return copy as T;
}
