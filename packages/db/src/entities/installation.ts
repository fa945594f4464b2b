import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';
import { App } from './app';
import { organizationProperty } from './tenant';

export type InstallationStatus = 'active' | 'uninstalled';

/** An app hired by a tenant; partner tokens act through it, inside the tenant's organization. */
export class Installation {
  id: string = newId();
  status: InstallationStatus = 'active';
  createdAt: Date = new Date();
  uninstalledAt?: Date | null = null;

  constructor(
    public organization: string,
    public app: string,
    public scopes: string[],
    public installedBy: string | null,
  ) {}
}

export const InstallationSchema = new EntitySchema<Installation>({
  class: Installation,
  tableName: 'installations',
  indexes: [{ name: 'installations_active_unique', expression: 'create unique index "installations_active_unique" on "installations" ("organization_id", "app_id") where "status" = \'active\'' }],
  properties: {
    id: { type: 'uuid', primary: true },
    organization: organizationProperty,
    // The app is usually another organization's (the bot store crosses tenants). Left on, the
    // tenant filter would follow this relation and hide such installations from their own tenant.
    app: { kind: 'm:1', entity: () => App, mapToPk: true, fieldName: 'app_id', deleteRule: 'cascade', filters: { tenant: false } },
    scopes: { type: 'text[]' },
    status: { type: 'text' },
    installedBy: { type: 'uuid', fieldName: 'installed_by', nullable: true },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    uninstalledAt: { type: 'timestamptz', fieldName: 'uninstalled_at', nullable: true },
  },
});
