import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { type Clock, ConflictError, DomainError, sha256Hex, UnprocessableError, ValidationError } from '@parley/core';
import { IdempotencyRecord } from '@parley/db';
import type { Reply } from './route';

const RETENTION_MS = 24 * 60 * 60 * 1000;
/** A request that has held its key this long without finishing is taken to have died. */
const ABANDONED_AFTER_MS = 5 * 60 * 1000;
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
 * `Idempotency-Key` handling. The key is claimed with an insert that a unique index arbitrates, so
 * two concurrent requests with one key never both run. The answer (any non-5xx, problems included)
 * is kept for 24 hours and replayed; a 5xx releases the key so the client may try again.
 */
export class IdempotencyService {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  async run(
    input: { scope: string; key: string; method: string; path: string; body: unknown },
    produce: () => Promise<Reply>,
  ): Promise<Reply & { replayed: boolean }> {
    if (!KEY.test(input.key)) {
      throw new ValidationError([{ path: 'Idempotency-Key', message: 'Use 1-255 printable ASCII characters.' }]);
    }
    const requestHash = sha256Hex(JSON.stringify([input.method, input.path, canonical(input.body)]));
    const em = this.orm.em.fork();
    const claimed = await this.claim(em, input.scope, input.key, requestHash);
    if (claimed.kind === 'replay') return { ...claimed.reply, replayed: true };

    let reply: Reply;
    try {
      reply = await produce();
    } catch (err) {
      if (err instanceof DomainError && err.status < 500) {
        await this.complete(em, claimed.record, {
          status: err.status,
          body: undefined,
          headers: {},
          error: err,
        });
      } else {
        await em.nativeDelete(IdempotencyRecord, { id: claimed.record.id });
      }
      throw err;
    }
    if (reply.status >= 500) await em.nativeDelete(IdempotencyRecord, { id: claimed.record.id });
    else await this.complete(em, claimed.record, { ...reply });
    return { ...reply, replayed: false };
  }

  private async claim(
    em: EntityManager,
    scope: string,
    key: string,
    requestHash: string,
  ): Promise<{ kind: 'claimed'; record: IdempotencyRecord } | { kind: 'replay'; reply: Reply }> {
    const now = this.clock.now();
    for (let attempt = 0; attempt < 3; attempt++) {
      const record = new IdempotencyRecord(scope, key, requestHash, now, new Date(now.getTime() + RETENTION_MS));
      try {
        await em.fork().persistAndFlush(record);
        return { kind: 'claimed', record };
      } catch (err) {
        if (!(err instanceof UniqueConstraintViolationException)) throw err;
      }
      const existing = await em.fork().findOne(IdempotencyRecord, { scope, key });
      if (!existing) continue;
      const expired = existing.expiresAt.getTime() <= now.getTime();
      const abandoned = existing.state === 'in_progress' && now.getTime() - existing.createdAt.getTime() > ABANDONED_AFTER_MS;
      if (expired || abandoned) {
        await em.nativeDelete(IdempotencyRecord, { id: existing.id, state: existing.state });
        continue;
      }
      if (existing.requestHash !== requestHash) {
        throw new UnprocessableError('idempotency_key_reused', 'This Idempotency-Key was used with a different request.');
      }
      if (existing.state === 'in_progress') {
        throw new ConflictError('idempotency_request_in_progress', 'A request with this Idempotency-Key is still being processed.');
      }
      const stored = existing.responseBody as StoredReply;
      if (stored.error) {
        const e = stored.error;
        throw new DomainError(e.status, e.code, e.title, e.detail, e.errors, e.extra);
      }
      return { kind: 'replay', reply: { status: existing.responseStatus ?? 200, body: stored.body, headers: stored.headers } };
    }
    throw new ConflictError('idempotency_request_in_progress', 'A request with this Idempotency-Key is still being processed.');
  }

  private async complete(
    em: EntityManager,
    record: IdempotencyRecord,
    reply: Reply & { error?: DomainError },
  ): Promise<void> {
    const stored: StoredReply = {
      body: reply.body,
      headers: reply.headers ?? {},
      ...(reply.error
        ? {
            error: {
              status: reply.error.status,
              code: reply.error.code,
              title: reply.error.title,
              detail: reply.error.message,
              errors: reply.error.errors,
              extra: reply.error.extra,
            },
          }
        : {}),
    };
    await em.nativeUpdate(
      IdempotencyRecord,
      { id: record.id },
      { state: 'completed', responseStatus: reply.status, responseBody: stored },
    );
  }
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
