import { Writable } from 'node:stream';
import { createLogger } from '@parley/core';
import { PollingJob, WAKE_CHANNELS, WakeListener, WakeNotifier } from '@parley/domain';
import { freePort } from '@parley/dev';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApi, type TestApi } from '../../../test/support/api';
import { inbound } from '../../../test/fixtures/meta';
import { contactWrites, conversationOf, newOrg, newPhone, postSigned } from './messaging-support';

/**
 * The worker's wake-up: work committed through the API starts the job that handles it at once,
 * not at its next poll, and the listening connection comes back after it is lost. The jobs here
 * poll once an hour, so only a wake-up can run them within the test. The database is shared with
 * other test files, whose work may wake them too: every assertion is about work happening.
 */

/** A job that only counts its drains. */
class CountingJob extends PollingJob {
  drains = 0;
  constructor() {
    super(createLogger({ level: 'silent' }), 60 * 60 * 1000, 'counting');
  }
  async drain(): Promise<number> {
    this.drains++;
    return 0;
  }
}

let api: TestApi;
const listeners: WakeListener[] = [];
beforeAll(async () => {
  api = await startTestApi();
});
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.stop()));
});
afterAll(async () => api.close());

/** A listener waking one job per channel, started and listening (its first catch-up kick seen). */
async function listening(): Promise<{ inbound: CountingJob; outbox: CountingJob }> {
  const jobs = { inbound: new CountingJob(), outbox: new CountingJob() };
  const listener = new WakeListener(
    api.config.database.url!,
    { [WAKE_CHANNELS.metaInbound]: () => jobs.inbound.kick(), [WAKE_CHANNELS.outbox]: () => jobs.outbox.kick() },
    createLogger({ level: 'silent' }),
    { minMs: 20, maxMs: 200 },
  );
  listeners.push(listener);
  listener.start();
  await vi.waitFor(() => expect(jobs.inbound.drains).toBeGreaterThan(0), { timeout: 10_000 });
  await jobs.inbound.settle();
  await jobs.outbox.settle();
  return jobs;
}

describe('waking the worker', () => {
  it('a Meta delivery the webhook stored kicks the inbound job', async () => {
    const org = await newOrg(api);
    const jobs = await listening();
    const before = jobs.inbound.drains;
    await postSigned(api, inbound(org.route, newPhone(), { type: 'text', text: { body: 'Hola' } }).payload);
    await vi.waitFor(() => expect(jobs.inbound.drains).toBeGreaterThan(before), { timeout: 5_000 });
  });

  it('a message queued through the API kicks the outbox', async () => {
    const org = await newOrg(api);
    const from = newPhone();
    await contactWrites(api, org.route, from);
    const { id } = await conversationOf(api, org.token, from);
    const jobs = await listening();
    const before = jobs.outbox.drains;
    const sent = await api.call('POST', `/v1/conversations/${id}/messages`, { token: org.token, body: { type: 'text', text: 'On its way' } });
    expect(sent.status, sent.text).toBe(202);
    await vi.waitFor(() => expect(jobs.outbox.drains).toBeGreaterThan(before), { timeout: 5_000 });
  });

  it('listens again after its connection is cut, catching up on what it may have missed', async () => {
    const org = await newOrg(api);
    const jobs = await listening();
    const sql = api.orm.em.fork().getConnection();
    const cut = await sql.execute<{ pid: number }[]>(
      `select pg_terminate_backend(pid) as pid from pg_stat_activity where application_name = 'parley-wake' and datname = current_database()`,
    );
    expect(cut.length).toBeGreaterThan(0);
    const before = { inbound: jobs.inbound.drains, outbox: jobs.outbox.drains };
    // Back on a new connection: each job is kicked once for what was committed meanwhile.
    await vi.waitFor(
      async () => {
        const [row] = await sql.execute<{ n: number }[]>(
          `select count(*)::int as n from pg_stat_activity where application_name = 'parley-wake' and datname = current_database()`,
        );
        expect(row!.n).toBeGreaterThan(0);
        expect(jobs.outbox.drains).toBeGreaterThan(before.outbox);
      },
      { timeout: 10_000 },
    );
    await jobs.inbound.settle();
    const after = jobs.inbound.drains;
    await postSigned(api, inbound(org.route, newPhone(), { type: 'text', text: { body: 'Still there?' } }).payload);
    await vi.waitFor(() => expect(jobs.inbound.drains).toBeGreaterThan(after), { timeout: 5_000 });
  });

  it('announces a burst of commits with at most one notification in flight, and one more after it', async () => {
    const jobs = await listening();
    const connection = api.orm.em.getConnection();
    const execute = vi.spyOn(connection, 'execute');
    try {
      const notifier = new WakeNotifier(api.orm, WAKE_CHANNELS.metaInbound, createLogger({ level: 'silent' }));
      const before = jobs.inbound.drains;
      for (let i = 0; i < 50; i++) notifier.notify();
      await vi.waitFor(() => expect(jobs.inbound.drains).toBeGreaterThan(before), { timeout: 5_000 });
      await vi.waitFor(() => expect(execute.mock.calls.filter(([sql]) => String(sql).includes('pg_notify'))).toHaveLength(2), { timeout: 5_000 });
    } finally {
      execute.mockRestore();
    }
  });

  it('with no database to listen to, says so once, keeps trying, and stops cleanly', async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
          done();
        },
      }),
    });
    const url = new URL(api.config.database.url!);
    url.port = String(await freePort());
    let kicks = 0;
    const listener = new WakeListener(url.toString(), { [WAKE_CHANNELS.metaInbound]: () => kicks++ }, logger, { minMs: 10, maxMs: 40 });
    listener.start();
    await vi.waitFor(() => expect(lines.length).toBeGreaterThanOrEqual(4), { timeout: 5_000 });
    await listener.stop();
    const attempts = lines.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(lines.length).toBe(attempts);
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1);
    expect(lines.every((l) => l.msg === 'wake-up connection unavailable; jobs poll until it is back')).toBe(true);
    expect(kicks).toBe(0);
  });
});
