import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261121232327_initial } from './Migration20261121232327_initial';
import { Migration20261121233346_channels_and_messages } from './Migration20261121233346_channels_and_messages';
import { Migration20261122000058_messaging } from './Migration20261122000058_messaging';
import { Migration20261122001112_broadcasts } from './Migration20261122001112_broadcasts';
import { Migration20261122003632_broadcast_pending_index } from './Migration20261122003632_broadcast_pending_index';
import { Migration20261122014731_broadcast_send_window } from './Migration20261122014731_broadcast_send_window';
// @imports

/** Every migration, in order. Listed explicitly so bundles and tests never depend on globbing. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261121232327_initial', class: Migration20261121232327_initial },
  { name: 'Migration20261121233346_channels_and_messages', class: Migration20261121233346_channels_and_messages },
  { name: 'Migration20261122000058_messaging', class: Migration20261122000058_messaging },
  { name: 'Migration20261122001112_broadcasts', class: Migration20261122001112_broadcasts },
  { name: 'Migration20261122003632_broadcast_pending_index', class: Migration20261122003632_broadcast_pending_index },
  { name: 'Migration20261122014731_broadcast_send_window', class: Migration20261122014731_broadcast_send_window },
  // @list
];
