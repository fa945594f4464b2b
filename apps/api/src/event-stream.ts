import { PassThrough } from 'node:stream';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '@parley/core';

interface EventRow {
  seq: string;
  organization_id: string;
  type: string;
  /** Null for organizations nobody in this process is streaming. */
  data_json: string | null;
}

export interface EventStreamOptions {
  /** How often new events are looked for while anyone is streaming. */
  intervalMs?: number;
  /** How long a missing `seq` is waited for before it is taken for a rolled-back insert. */
  gapWaitMs?: number;
  /** A comment line this often keeps proxies from closing an idle stream. */
  heartbeatMs?: number;
  /** At most this many events are replayed after a reconnect; past it the client is told to reload. */
  replayLimit?: number;
}

const BATCH = 1000;

/**
 * The live feed behind GET /v1/events/stream: the domain events table read in `seq` order, each
 * event written to the streams of its own organization only. One reader per API process serves
 * every stream, and only while there is one.
 *
 * It polls rather than waiting on NOTIFY: a notification from every transaction that records an
 * event would take PostgreSQL's notification lock in each of those commits, which serializes the
 * inbound and status paths (see packages/domain/src/wake.ts), and the embedded database of
 * `npm start` never delivers notifications anyway. One indexed range read four times a second is
 * well inside the one-second budget for a message to show.
 *
 * `seq` is taken when a row is inserted but becomes visible when its transaction commits, so a
 * lower `seq` can appear after a higher one. The cursor therefore only moves over an unbroken run
 * of `seq`s; events past a gap are sent as they show up (the client keys them by id) and the gap
 * is waited for a few seconds before it is taken for an insert that rolled back.
 */
export class EventStreamHub {
  private readonly streams = new Map<string, Set<PassThrough>>();
  private cursor: bigint | undefined;
  private readonly sent = new Set<bigint>();
  private readonly gaps = new Map<bigint, number>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;
  private readonly options: Required<EventStreamOptions>;

  constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
    options: EventStreamOptions = {},
  ) {
    this.options = { intervalMs: 250, gapWaitMs: 5000, heartbeatMs: 15_000, replayLimit: 500, ...options };
  }

  get size(): number {
    let n = 0;
    for (const set of this.streams.values()) n += set.size;
    return n;
  }

  /**
   * A stream of the organization's events from now on, after those since `lastEventId` (the last
   * `seq` the client saw) when it reconnects.
   */
  async open(organizationId: string, lastEventId?: string): Promise<PassThrough> {
    if (this.closed) throw new Error('the event stream is shutting down');
    const stream = new PassThrough();
    stream.write('retry: 2000\n\n');
    if (this.size === 0) await this.resetCursor();
    // Listening before the replay is read: an event between the two is sent twice, never lost.
    let set = this.streams.get(organizationId);
    if (!set) this.streams.set(organizationId, (set = new Set()));
    set.add(stream);
    stream.once('close', () => this.drop(organizationId, stream));
    this.ensureTimers();

    // Where this stream starts, so a client that reconnects before any event has an id to resume from.
    stream.write(`id: ${lastEventId && /^\d{1,19}$/.test(lastEventId) ? lastEventId : (this.cursor ?? 0n).toString()}\nevent: ready\ndata: {}\n\n`);
    if (lastEventId && /^\d{1,19}$/.test(lastEventId)) {
      const rows = await this.sql<EventRow>(
        `select seq::text as seq, organization_id, type, data::text as data_json from domain_events
         where organization_id = ? and seq > ? order by seq limit ?`,
        [organizationId, lastEventId, this.options.replayLimit + 1],
      );
      if (rows.length > this.options.replayLimit) stream.write('event: reset\ndata: {}\n\n');
      else for (const row of rows) write(stream, row);
    }
    return stream;
  }

  /** Ends every stream (the API is stopping) so no open connection holds the shutdown. */
  close(): void {
    this.closed = true;
    this.stopTimers();
    for (const set of this.streams.values()) for (const stream of set) stream.end();
    this.streams.clear();
  }

  private drop(organizationId: string, stream: PassThrough): void {
    const set = this.streams.get(organizationId);
    set?.delete(stream);
    if (set && set.size === 0) this.streams.delete(organizationId);
    if (this.size === 0) this.stopTimers();
  }

  private async resetCursor(): Promise<void> {
    const [row] = await this.sql<{ max: string | null }>('select max(seq)::text as max from domain_events', []);
    this.cursor = BigInt(row?.max ?? '0');
    this.sent.clear();
    this.gaps.clear();
  }

  private ensureTimers(): void {
    this.timer ??= setInterval(() => void this.poll(), this.options.intervalMs);
    this.heartbeat ??= setInterval(() => {
      for (const set of this.streams.values()) for (const stream of set) stream.write(': ping\n\n');
    }, this.options.heartbeatMs);
  }

  private stopTimers(): void {
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    this.timer = undefined;
    this.heartbeat = undefined;
  }

  /** One read (or several while they come back full); overlapping ticks wait for it. */
  poll(): Promise<void> {
    this.polling ??= this.readAll()
      .catch((err: unknown) => this.logger.warn({ err }, 'event stream read failed; retrying'))
      .finally(() => {
        this.polling = undefined;
      });
    return this.polling;
  }

  private async readAll(): Promise<void> {
    for (;;) {
      if (this.cursor === undefined || this.closed || this.size === 0) return;
      const organizations = [...this.streams.keys()];
      const rows = await this.sql<EventRow>(
        `select seq::text as seq, organization_id, type,
                case when organization_id = any(?::uuid[]) then data::text end as data_json
         from domain_events where seq > ? order by seq limit ?`,
        [`{${organizations.join(',')}}`, this.cursor.toString(), BATCH],
      );
      const before = this.cursor;
      this.deliver(rows);
      if (rows.length < BATCH || this.cursor === before) return;
    }
  }

  private deliver(rows: EventRow[]): void {
    const now = Date.now();
    let advancing = true;
    for (const row of rows) {
      const seq = BigInt(row.seq);
      if (!this.sent.has(seq)) {
        this.sent.add(seq);
        if (row.data_json !== null) for (const stream of this.streams.get(row.organization_id) ?? []) write(stream, row);
      }
      if (!advancing || this.cursor === undefined) continue;
      const expected = this.cursor + 1n;
      if (seq > expected) {
        const first = this.gaps.get(expected) ?? now;
        this.gaps.set(expected, first);
        if (now - first < this.options.gapWaitMs) {
          advancing = false;
          continue;
        }
        this.logger.debug({ from: expected.toString(), to: (seq - 1n).toString() }, 'event stream skips a seq gap (rolled-back inserts)');
      }
      this.cursor = seq;
    }
    if (this.cursor === undefined) return;
    for (const seq of this.sent) if (seq <= this.cursor) this.sent.delete(seq);
    for (const seq of this.gaps.keys()) if (seq <= this.cursor) this.gaps.delete(seq);
  }

  private async sql<T>(query: string, params: unknown[]): Promise<T[]> {
    return this.orm.em.fork().getConnection().execute<T[]>(query, params);
  }
}

function write(stream: PassThrough, row: EventRow): void {
  // jsonb's text form is one line, as a `data:` field must be.
  stream.write(`id: ${row.seq}\nevent: ${row.type}\ndata: ${row.data_json}\n\n`);
}
