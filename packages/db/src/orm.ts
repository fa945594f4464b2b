import { Migrator } from '@mikro-orm/migrations';
import { MikroORM, type EntityManager, type Options } from '@mikro-orm/postgresql';
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

export function ormOptions(options: { url: string; poolMax?: number; debug?: boolean }): Options {
  return {
    clientUrl: options.url,
    entities,
    extensions: [Migrator],
    forceUtcTimezone: true,
    allowGlobalContext: false,
    debug: options.debug ?? false,
    pool: { min: 0, max: options.poolMax ?? 10 },
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

export async function createOrm(options: { url: string; poolMax?: number; debug?: boolean }): Promise<MikroORM> {
  return MikroORM.init(ormOptions(options));
}

/** Applies pending migrations; the only way the schema changes. */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}
