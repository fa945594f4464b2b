import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '@parley/core';
import pg from 'pg';

/**
 * Channels notified when work is committed: `meta_inbound` by the webhook once it stored
 * deliveries (WakeNotifier), `outbox` by a trigger on messages queued for sending (migration
 * 20261129174213_wake_notifications), whoever writes them.
 */
export const WAKE_CHANNELS = { metaInbound: 'meta_inbound', outbox: 'outbox' } as const;

/**
 * Announces work already committed, from outside the transaction that wrote it. A NOTIFY inside
 * that transaction would hold PostgreSQL's one cluster-wide notification lock through its WAL
 * flush and so serialize such commits (four concurrent one-row inserts: about half the rows per
 * second); sent afterwards, its transaction writes nothing and holds the lock only briefly. At
 * most one is in flight, and calls meanwhile fold into one more, so none announces less than was
 * committed before it. A lost notification only leaves the work to the next poll, so it never
 * throws.
 */
export class WakeNotifier {
  private sending = false;
  private again = false;
  private connection: ReturnType<MikroORM['em']['getConnection']> | undefined;

  constructor(
    private readonly orm: MikroORM,
    private readonly channel: string,
    private readonly logger: Logger,
  ) {}

  notify(): void {
    if (this.sending) {
      this.again = true;
      return;
    }
    this.sending = true;
    // Made once: a notification runs outside any transaction, so it needs no EntityManager of its own.
    this.connection ??= this.orm.em.fork().getConnection();
    void this.connection
      .execute('select pg_notify(?, ?)', [this.channel, ''])
      .catch((err: unknown) => this.logger.debug({ err, channel: this.channel }, 'wake-up notification not sent; the poll will find the work'))
      .finally(() => {
        this.sending = false;
        if (this.again) {
          this.again = false;
          this.notify();
        }
      });
  }
}

export interface WakeBackoff {
  minMs: number;
  maxMs: number;
}

/**
 * One connection that LISTENs and calls a channel's handler on each of its notifications, so a
 * job starts as soon as its work commits instead of at its next poll. Notifications are only an
 * early start: they are lost while the connection is down, and some databases accept LISTEN but
 * never deliver (the embedded PGlite of `npm start`), so the jobs keep polling on their timers.
 * A lost connection is re-made with backoff, and every handler runs once after each (re)connect
 * for what was committed while no one listened.
 */
export class WakeListener {
  private client: pg.Client | undefined;
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = true;

  constructor(
    private readonly url: string,
    private readonly handlers: Readonly<Record<string, () => void>>,
    private readonly logger: Logger,
    private readonly backoff: WakeBackoff = { minMs: 250, maxMs: 30_000 },
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    // Idle by design: TCP keep-alive notices a peer that vanished without closing.
    const client = new pg.Client({ connectionString: this.url, keepAlive: true, application_name: 'parley-wake' });
    this.client = client;
    let lost = false;
    const drop = (err?: unknown) => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = undefined;
      void client.end().catch(() => undefined);
      if (!this.stopped) this.reconnectLater(err);
    };
    client.on('error', drop);
    client.on('end', () => drop());
    client.on('notification', (n) => this.handlers[n.channel]?.());
    try {
      await client.connect();
      for (const channel of Object.keys(this.handlers)) await client.query(`listen ${client.escapeIdentifier(channel)}`);
    } catch (err) {
      drop(err);
      return;
    }
    if (lost || this.stopped) return;
    if (this.failures) this.logger.info('wake-up connection listening again');
    this.failures = 0;
    for (const wake of Object.values(this.handlers)) wake();
  }

  private reconnectLater(err: unknown): void {
    const delay = Math.min(this.backoff.maxMs, this.backoff.minMs * 2 ** this.failures) * (0.5 + Math.random() / 2);
    this.failures++;
    // Said once per outage; the jobs' polls carry on meanwhile.
    const log = this.failures === 1 ? this.logger.warn.bind(this.logger) : this.logger.debug.bind(this.logger);
    log({ err, retryInMs: Math.round(delay) }, 'wake-up connection unavailable; jobs poll until it is back');
    this.retry = setTimeout(() => void this.connect(), delay);
    this.retry.unref();
  }
}
