import type { SqlRunner } from '../sql';

/**
 * A transaction acting for one organization. Every repository function takes one first, so no
 * row of a tenant can be read or written without naming the tenant.
 */
export interface TenantSql {
  readonly organizationId: string;
  readonly sql: SqlRunner;
}

export function tenantSql(sql: SqlRunner, organizationId: string): TenantSql {
  return { sql, organizationId };
}
