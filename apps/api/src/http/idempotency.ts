import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { type Clock, ConflictError, DomainError, newId, sha256Hex, UnprocessableError, ValidationError } from '@parley/core';
import { IdempotencyRecord } from '@parley/db';
import { SharedTransaction, sqlRunner } from '@parley/domain';
import type { Reply } from './route';

const RETENTION_MS = 24 * 60 * 60 * 1000;
const KEY = /^[\x21-\x7e]{1,255}$/;

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * `Idempotency-Key` handling. The key's record is written in the same transaction as everything
 * the handler writes (see SharedTransaction), so they commit together or not at all: a request
 * that dies half-way leaves neither its key nor its writes, and a retry runs afresh. While one
 * request holds a key, a concurrent one with that key waits on the unique index, then replays
 * the answer (or runs, if the first rolled back). Any non-5xx answer, problems included, is kept
 * for 24 hours; a 5xx or an unexpected error rolls everything back.
 */
export class IdempotencyService {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  async run(
    input: { scope: string; key: string; method: string; path: string; body: unknown; em: EntityManager },
    produce: (em: EntityManager) => Promise<Reply>,
  ): Promise<Reply & { replayed: boolean }> {
    if (!KEY.test(input.key)) {
      throw new ValidationError([{ path: 'Idempotency-Key', message: 'Use 1-255 printable ASCII characters.' }]);
    }
    const requestHash = sha256Hex(JSON.stringify([input.method, input.path, canonical(input.body)]));
    for (let attempt = 0; attempt < 3; attempt++) {
      const tx = await SharedTransaction.begin(input.em);
      let outcome: Outcome;
      try {
        outcome = await this.runOnce(tx, input.scope, input.key, requestHash, produce);
      } catch (err) {
        await tx.rollback().catch(() => undefined);
        throw err;
      }
      if (outcome.kind === 'taken' || outcome.kind === 'failed') {
        await tx.rollback();
        if (outcome.kind === 'failed') return { ...outcome.reply, replayed: false };
      } else {
        await tx.commit();
        if (outcome.kind === 'refused') throw outcome.error;
        return { ...outcome.reply, replayed: false };
      }
      const existing = await this.orm.em.fork().findOne(IdempotencyRecord, { scope: input.scope, key: input.key, state: 'completed' });
      // Gone meanwhile (expired and purged): claim it again.
      if (!existing) continue;
      if (existing.requestHash !== requestHash) {
        throw new UnprocessableError('idempotency_key_reused', 'This Idempotency-Key was used with a different request.');
      }
      const stored = existing.responseBody as StoredReply;
      if (stored.error) {
        const e = stored.error;
        throw new DomainError(e.status, e.code, e.title, e.detail, e.errors, e.extra);
      }
      return { status: existing.responseStatus ?? 200, body: stored.body, headers: stored.headers, replayed: true };
    }
    throw inProgress();
  }

  /** Claims the key and runs the handler inside `tx`, recording its answer there; commits nothing. */
  private async runOnce(tx: EntityManager, scope: string, key: string, requestHash: string, produce: (em: EntityManager) => Promise<Reply>): Promise<Outcome> {
    let recordId: string | null;
    try {
      recordId = await this.claim(tx, scope, key, requestHash);
    } catch (err) {
      throw waitedTooLong(err) ? inProgress() : err;
    }
    if (!recordId) return { kind: 'taken' };
    const sql = sqlRunner(tx);
    await sql.run('savepoint idempotent_handler');
    let outcome: Outcome;
    try {
      const reply = await produce(tx);
      if (reply.status >= 500) return { kind: 'failed', reply };
      outcome = { kind: 'done', reply };
    } catch (err) {
      if (!(err instanceof DomainError && err.status < 500)) throw err;
      // A refusal is answered the same way again, and whatever the handler wrote before it is undone
      // (its entities too, which the commit's flush would otherwise write again).
      await sql.run('rollback to savepoint idempotent_handler');
      tx.clear();
      outcome = { kind: 'refused', error: err };
    }
    await this.complete(tx, recordId, outcome);
    return outcome;
  }

  /**
   * Inserts the key's record; null when the key is taken. A record past its 24 hours is replaced,
   * and so is one left `in_progress`, which only a version that claimed keys outside the handler's
   * transaction could leave behind.
   */
  private async claim(tx: EntityManager, scope: string, key: string, requestHash: string): Promise<string | null> {
    const now = this.clock.now();
    const sql = sqlRunner(tx);
    await sql.run(`delete from idempotency_keys where scope = ? and key = ? and (expires_at <= ? or state = 'in_progress')`, [scope, key, now]);
    const [row] = await sql.all<{ id: string }>(
      `insert into idempotency_keys (id, scope, key, request_hash, state, created_at, expires_at)
       values (?, ?, ?, ?, 'in_progress', ?, ?) on conflict (scope, key) do nothing returning id`,
      [newId(), scope, key, requestHash, now, new Date(now.getTime() + RETENTION_MS)],
    );
    return row?.id ?? null;
  }

  private async complete(tx: EntityManager, recordId: string, outcome: Extract<Outcome, { kind: 'done' | 'refused' }>): Promise<void> {
    let status: number;
    let stored: StoredReply;
    if (outcome.kind === 'done') {
      status = outcome.reply.status;
      stored = { body: outcome.reply.body, headers: outcome.reply.headers ?? {} };
    } else {
      const e = outcome.error;
      status = e.status;
      stored = { body: undefined, headers: {}, error: { status: e.status, code: e.code, title: e.title, detail: e.message, errors: e.errors, extra: e.extra } };
    }
    await sqlRunner(tx).run(`update idempotency_keys set state = 'completed', response_status = ?, response_body = ?::jsonb where id = ?`, [
      status,
      JSON.stringify(stored),
      recordId,
    ]);
  }
}

type Outcome =
  /** Another request holds or held the key. */
  | { kind: 'taken' }
  | { kind: 'done'; reply: Reply }
  | { kind: 'refused'; error: DomainError }
  /** A 5xx answer: nothing is kept. */
  | { kind: 'failed'; reply: Reply };

function inProgress(): ConflictError {
  return new ConflictError('idempotency_request_in_progress', 'A request with this Idempotency-Key is still being processed.');
}

/** The database gave up waiting for the request that holds the key (lock or statement timeout). */
function waitedTooLong(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '55P03' || code === '57014';
}

interface StoredReply {
  body: unknown;
  headers: Record<string, string>;
  error?: {
    status: number;
    code: string;
    title: string;
    detail: string;
    errors: { path: string; message: string }[] | undefined;
    extra: Record<string, unknown> | undefined;
  };
}
