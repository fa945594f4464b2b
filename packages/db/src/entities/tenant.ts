import { Organization } from './organization';

/**
 * Every tenant-owned row carries its organization as a plain id (mapped to a foreign key). The
 * constructor of each such entity takes it first, so no tenant row can be built without one.
 */
export const organizationProperty = {
  kind: 'm:1' as const,
  entity: () => Organization,
  mapToPk: true,
  fieldName: 'organization_id',
  deleteRule: 'cascade' as const,
  index: true,
};
