import type { Logger } from '@parley/core';
import pg from 'pg';

/**
 * Channels the database notifies when work is committed (triggers of migration
 * 20261129174213_wake_notifications): a stored Meta delivery, a message queued for sending.
 */
export const WAKE_CHANNELS = { metaInbound: 'meta_inbound', outbox: 'outbox' } as const;

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
