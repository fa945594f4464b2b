import type { EntityManager } from '@mikro-orm/postgresql';
import type { TenantPrincipal } from './access';

/**
 * What a tenant-side service call runs in: an EntityManager whose tenant filters are already set
 * to `organizationId` (by the auth middleware), and the principal acting.
 */
export interface TenantScope {
  em: EntityManager;
  organizationId: string;
  principal: TenantPrincipal;
}
