import { Migrator } from '@mikro-orm/migrations';
import { MikroORM, type EntityManager, type Options } from '@mikro-orm/postgresql';
import { DATABASE_MESSAGE } from '@parley/core';
import { migrations } from '../../../migrations';
import { entities } from './entities';

export type { EntityManager };
export { MikroORM };

/**
 * Tenancy lives here, once: every tenant-owned entity gets the default `tenant` filter, and the
 * organization itself the `tenantSelf` filter. Both demand an organization id; a query run without
 * one throws instead of silently reading across tenants. Code that must cross tenants (login by
 * email, the operator, the Meta webhook) says so with `UNSCOPED`.
 */
export const TENANT_FILTERS = ['tenant', 'tenantSelf'] as const;
export const UNSCOPED = { filters: { tenant: false, tenantSelf: false } } as const;

const TENANT_ENTITIES = [
  'User',
  'App',
  'Installation',
  'TokenFamily',
  'RefreshToken',
  'Channel',
  'ChannelNotice',
  'Template',
  'Contact',
  'Conversation',
  'Message',
  'DomainEvent',
  'MessageStatusEvent',
  'ConsentEvent',
  'Broadcast',
  'BroadcastRecipient',
];

export function scopeToOrganization(em: EntityManager, organizationId: string): void {
  for (const name of TENANT_FILTERS) em.setFilterParams(name, { organizationId });
}

/** Per-connection limits in milliseconds; 0 turns one off (PostgreSQL's own meaning). */
export interface DatabaseTimeouts {
  /** A statement running longer is cancelled (`statement_timeout`). */
  statementMs: number;
  /** A lock waited for longer fails the statement (`lock_timeout`). */
  lockMs: number;
  /** A transaction left idle longer ends its session (`idle_in_transaction_session_timeout`). */
  idleInTransactionMs: number;
}

/** One request or activity never legitimately needs more; a stuck one must not hold locks forever. */
export const DEFAULT_DATABASE_TIMEOUTS: Readonly<DatabaseTimeouts> = Object.freeze({ statementMs: 30_000, lockMs: 10_000, idleInTransactionMs: 60_000 });

/**
 * Migrations may rewrite large tables: no statement or lock limit, and they run on a connection of
 * their own so the limits of the application's connections stay as configured.
 */
const MIGRATION_TIMEOUTS = { statementMs: 0, lockMs: 0 } as const;

export interface OrmSettings {
  url: string;
  poolMax?: number;
  debug?: boolean;
  /** Unset fields take DEFAULT_DATABASE_TIMEOUTS. */
  timeouts?: Partial<DatabaseTimeouts> | undefined;
}

/** The raw pg client the pool hands out (only what is used here). */
interface RawConnection {
  query(sql: string, callback: (err: Error | null) => void): void;
  connection: { on(event: 'errorMessage', listener: (err: Error) => void): void };
}

/**
 * Runs once on every new connection: sets the timeouts, and keeps PostgreSQL's message of each
 * error as it arrived. The query builder later prefixes the statement (bound values inlined) to the
 * message, so safeErrorMessage() reads this copy instead.
 */
function prepareConnection(timeouts: DatabaseTimeouts) {
  const settings = [
    `set statement_timeout = ${timeouts.statementMs}`,
    `set lock_timeout = ${timeouts.lockMs}`,
    `set idle_in_transaction_session_timeout = ${timeouts.idleInTransactionMs}`,
  ].join('; ');
  return (conn: RawConnection, done: (err: Error | null, conn: RawConnection) => void) => {
    conn.connection.on('errorMessage', (err) => {
      Object.defineProperty(err, DATABASE_MESSAGE, { value: err.message, writable: true, configurable: true });
    });
    conn.query(settings, (err) => done(err, conn));
  };
}

export function ormOptions(options: OrmSettings): Options {
  const timeouts = { ...DEFAULT_DATABASE_TIMEOUTS, ...definedOnly(options.timeouts ?? {}) };
  return {
    clientUrl: options.url,
    entities,
    extensions: [Migrator],
    forceUtcTimezone: true,
    allowGlobalContext: false,
    debug: options.debug ?? false,
    pool: { min: 0, max: options.poolMax ?? 10, afterCreate: prepareConnection(timeouts) },
    filters: {
      tenant: {
        cond: (args: { organizationId: string }) => ({ organization: args.organizationId }),
        entity: TENANT_ENTITIES,
        default: true,
      },
      tenantSelf: {
        cond: (args: { organizationId: string }) => ({ id: args.organizationId }),
        entity: ['Organization'],
        default: true,
      },
    },
    migrations: {
      tableName: 'schema_migrations',
      migrationsList: migrations,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
      emit: 'ts',
      path: 'migrations',
      pathTs: 'migrations',
    },
  };
}

export async function createOrm(options: OrmSettings): Promise<MikroORM> {
  return MikroORM.init(ormOptions(options));
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Applies pending migrations; the only way the schema changes. */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const own = await createOrm({ url: orm.config.get('clientUrl')!, poolMax: 1, timeouts: MIGRATION_TIMEOUTS });
  try {
    const applied = await own.getMigrator().up();
    return applied.map((m) => m.name);
  } finally {
    await own.close(true);
  }
}
