import type { SqlRunner } from '../sql';

/**
 * A transaction acting for one organization. Every repository function takes one first, so no
 * row of a tenant can be read or written without naming the tenant.
 */
export interface TenantSql {
  readonly organizationId: string;
  readonly sql: SqlRunner;
}

/**
 * A piece of a statement (a step of a WITH clause, a relation): SQL with `?` placeholders and
 * their values, in order. The repositories hand out their rules as parts, so that one statement
 * can chain several tables' rules (`storeContactMessage`).
 */
export interface SqlPart {
  sql: string;
  params: unknown[];
}

export function tenantSql(sql: SqlRunner, organizationId: string): TenantSql {
  return { sql, organizationId };
}
