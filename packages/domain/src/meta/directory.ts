import type { MikroORM } from '@mikro-orm/postgresql';
import type { Channel } from '@parley/db';
import type { ChannelDirectory } from '../channels';
import { type SqlRunner, sqlArray, sqlRunner } from '../sql';

export interface ChannelRoute {
  channelId: string;
  organizationId: string;
  wabaId: string;
  phoneNumberId: string;
}

const POSITIVE_TTL_MS = 60_000;

/**
 * Routes Meta's `phone_number_id` to a channel and organization. The webhook's hot path asks
 * `resolve`, whose answers are cached: a miss always asks the database, so a channel connected
 * through another API instance is seen at once; a disconnected one is forgotten at once in the
 * process that disconnected it, and at most a minute late elsewhere, where it only decides that a
 * delivery is stored. What a delivery changes is routed by `resolveFresh` and `resolveWaba`,
 * inside the applying transaction, so it never lands on a disconnected (or re-connected) channel.
 */
export class PhoneNumberDirectory implements ChannelDirectory {
  private readonly cache = new Map<string, { route: ChannelRoute; until: number }>();

  constructor(private readonly orm: MikroORM) {}

  remember(channel: Channel): void {
    this.cache.set(channel.phoneNumberId, {
      route: { channelId: channel.id, organizationId: channel.organization, wabaId: channel.wabaId, phoneNumberId: channel.phoneNumberId },
      until: Date.now() + POSITIVE_TTL_MS,
    });
  }

  forget(phoneNumberId: string): void {
    this.cache.delete(phoneNumberId);
  }

  /**
   * `sql` runs the lookup inside the caller's transaction; a second connection would wait behind
   * that transaction on a single-connection database (the embedded PGlite).
   */
  async resolve(phoneNumberIds: string[], sql?: SqlRunner): Promise<Map<string, ChannelRoute>> {
    const found = new Map<string, ChannelRoute>();
    const missing: string[] = [];
    const now = Date.now();
    if (!phoneNumberIds.length) return found;
    for (const id of new Set(phoneNumberIds)) {
      const hit = this.cache.get(id);
      if (hit && hit.until > now) found.set(id, hit.route);
      else missing.push(id);
    }
    if (missing.length) {
      const rows = await (sql ?? sqlRunner(this.orm.em.fork())).all<RouteRow>(
        `select ${ROUTE_COLUMNS} from channels where status = 'active' and phone_number_id in (?)`,
        [missing],
      );
      for (const r of rows) {
        const route = toRoute(r);
        this.cache.set(r.phone_number_id, { route, until: now + POSITIVE_TTL_MS });
        found.set(r.phone_number_id, route);
      }
    }
    return found;
  }

  /** The active channel of each phone number id, read now (inside the caller's transaction). */
  async resolveFresh(phoneNumberIds: string[], sql: SqlRunner): Promise<Map<string, ChannelRoute>> {
    const rows = await sql.prepared<RouteRow>(`select ${ROUTE_COLUMNS} from channels where status = 'active' and phone_number_id = any(?::text[])`, [sqlArray([...new Set(phoneNumberIds)])]);
    return new Map(rows.map((r) => [r.phone_number_id, toRoute(r)]));
  }

  /**
   * The channel of a WhatsApp Business Account, for notices that name no phone number (account
   * updates, template statuses): its oldest active number, the same every time.
   */
  async resolveWaba(wabaId: string, sql: SqlRunner): Promise<ChannelRoute | undefined> {
    const [row] = await sql.all<RouteRow>(`select ${ROUTE_COLUMNS} from channels where status = 'active' and waba_id = ? order by created_at, id limit 1`, [wabaId]);
    return row ? toRoute(row) : undefined;
  }
}

interface RouteRow {
  id: string;
  organization_id: string;
  waba_id: string;
  phone_number_id: string;
}

const ROUTE_COLUMNS = 'id, organization_id, waba_id, phone_number_id';

function toRoute(r: RouteRow): ChannelRoute {
  return { channelId: r.id, organizationId: r.organization_id, wabaId: r.waba_id, phoneNumberId: r.phone_number_id };
}
