import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261121232327_initial } from './Migration20261121232327_initial';
// @imports

/** Every migration, in order. Listed explicitly so bundles and tests never depend on globbing. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261121232327_initial', class: Migration20261121232327_initial },
  // @list
];
