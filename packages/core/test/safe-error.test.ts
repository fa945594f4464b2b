import { Writable } from 'node:stream';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { createLogger, safeErrorMessage } from '@parley/core';
import { createOrm, type MikroORM } from '@parley/db';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/** What a customer wrote, and who: neither may leave the database in an error. */
const PHONE = '+14155550142';
const TEXT = 'my card number is 4111 1111 1111 1111';
const table = `safe_error_${process.pid}`;

let orm: MikroORM;
beforeAll(async () => {
  orm = await createOrm({ url: inject('databaseUrl'), poolMax: 2 });
  const sql = orm.em.getConnection();
  await sql.execute(`create table ${table} (id int primary key, phone text not null unique, body text, n int)`);
  await sql.execute(`insert into ${table} values (1, ?, ?, 1)`, [PHONE, TEXT]);
});
afterAll(async () => {
  await orm.em.getConnection().execute(`drop table if exists ${table}`);
  await orm.close(true);
});

async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error('the statement did not fail');
}

/** The failures under test, each as the code meets it: raw from a statement, or converted by the ORM. */
const FAILURES = {
  'a duplicate key, raw': {
    run: () => orm.em.getConnection().execute(`insert into ${table} (id, phone, body) values (2, ?, ?)`, [PHONE, TEXT]),
    expected: `duplicate key value violates unique constraint "${table}_phone_key" (23505)`,
  },
  'a duplicate key, converted by the ORM': {
    run: () => orm.em.fork().getDriver().nativeInsert(table, { id: 3, phone: PHONE, body: TEXT }),
    expected: `duplicate key value violates unique constraint "${table}_phone_key" (23505)`,
  },
  'a value PostgreSQL quotes back': {
    run: () => orm.em.getConnection().execute(`update ${table} set n = ? where phone = ?`, [TEXT, PHONE]),
    expected: 'invalid input syntax for type integer: "…" (22P02)',
  },
  'a value holding " - " quoted back': {
    run: () => orm.em.getConnection().execute(`select ?::uuid`, [`${PHONE} - ${TEXT}`]),
    expected: 'invalid input syntax for type uuid: "…" (22P02)',
  },
};

describe('safeErrorMessage', () => {
  for (const [name, { run, expected }] of Object.entries(FAILURES)) {
    it(`keeps the server's message and code of ${name}, never the statement or values`, async () => {
      const err = await failure(run);
      // The premise: the error as thrown carries both.
      expect(String((err as Error).message)).toContain(PHONE);
      const message = safeErrorMessage(err);
      expect(message).toBe(expected);
      expect(message).not.toContain('+1415');
      expect(message).not.toContain('4111');
    });
  }

  it('reads errors of a plain pg client (no kept message) the same way', async () => {
    const client = new pg.Client({ connectionString: inject('databaseUrl') });
    await client.connect();
    try {
      const raw = await failure(() => client.query(`insert into ${table} (id, phone, body) values (4, $1, $2)`, [PHONE, TEXT]));
      expect(safeErrorMessage(raw)).toBe(`duplicate key value violates unique constraint "${table}_phone_key" (23505)`);
      const quoted = await failure(() => client.query('select $1::uuid', [PHONE]));
      expect(safeErrorMessage(quoted)).toBe('invalid input syntax for type uuid: "…" (22P02)');
      // Without the kept message a " - " cannot be told from the statement's: nothing of the value is kept.
      const dashed = await failure(() => client.query('select $1::uuid', [`${PHONE} - ${TEXT}`]));
      expect(safeErrorMessage(dashed)).toBe('database error (22P02)');
    } finally {
      await client.end();
    }
    // Through a query builder that prefixed the statement, a value holding " - " leaves an unbalanced quote.
    const prefixed = Object.assign(new Error(`select '${PHONE} - ${TEXT}'::uuid - invalid input syntax for type uuid: "${PHONE} - ${TEXT}"`), {
      code: '22P02',
      severity: 'ERROR',
    });
    expect(safeErrorMessage(prefixed)).toBe('database error (22P02)');
  });

  it('leaves other errors as they are', () => {
    expect(safeErrorMessage(new TypeError('x is not a function'))).toBe('x is not a function');
    expect(safeErrorMessage('plain')).toBe('plain');
  });
});

describe('the logger', () => {
  it('logs database errors, and errors caused by them, with type, code, constraint and frames but no statement or values', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const log = createLogger({ level: 'info', destination });
    const converted = await failure(FAILURES['a duplicate key, converted by the ORM'].run);
    expect(converted).toBeInstanceOf(UniqueConstraintViolationException);
    log.error({ err: converted }, 'insert failed');
    for (const { run } of Object.values(FAILURES)) log.error({ err: await failure(run) }, 'statement failed');
    log.warn({ err: new Error('could not store the delivery', { cause: converted }) }, 'wrapped');
    log.error(await failure(FAILURES['a value PostgreSQL quotes back'].run), 'as the first argument');
    // The Temporal SDK logs its errors under `error`.
    log.warn({ error: converted }, 'Activity failed');

    expect(lines).toHaveLength(8);
    const output = lines.join('\n');
    expect(output).not.toContain('+1415');
    expect(output).not.toContain('4111');
    expect(output).not.toContain('insert into');
    const first = JSON.parse(lines[0]!) as { err: Record<string, string> };
    expect(first.err).toMatchObject({
      type: 'UniqueConstraintViolationException',
      code: '23505',
      constraint: `${table}_phone_key`,
      message: `duplicate key value violates unique constraint "${table}_phone_key" (23505)`,
    });
    expect(first.err.stack).toMatch(/^UniqueConstraintViolationException: duplicate key value violates unique constraint .*\n\s+at /);
    const wrapped = JSON.parse(lines[5]!) as { err: { message: string; stack: string } };
    expect(wrapped.err.message).toContain('could not store the delivery');
    expect(wrapped.err.stack).toContain('caused by: UniqueConstraintViolationException: duplicate key value');
    expect((JSON.parse(lines[7]!) as { error: { code: string } }).error.code).toBe('23505');
  });
});
