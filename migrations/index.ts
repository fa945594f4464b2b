import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261121232327_initial } from './Migration20261121232327_initial';
import { Migration20261121233346_channels_and_messages } from './Migration20261121233346_channels_and_messages';
import { Migration20261122000058_messaging } from './Migration20261122000058_messaging';
import { Migration20261122001112_broadcasts } from './Migration20261122001112_broadcasts';
import { Migration20261122003632_broadcast_pending_index } from './Migration20261122003632_broadcast_pending_index';
import { Migration20261122014731_broadcast_send_window } from './Migration20261122014731_broadcast_send_window';
import { Migration20261129170500_inbound_fidelity } from './Migration20261129170500_inbound_fidelity';
import { Migration20261129174213_wake_notifications } from './Migration20261129174213_wake_notifications';
import { Migration20261129171342_sign_in_attempts } from './Migration20261129171342_sign_in_attempts';
import { Migration20261129175533_broadcast_recipient_phone } from './Migration20261129175533_broadcast_recipient_phone';
import { Migration20261129180419_message_unknown_outcome } from './Migration20261129180419_message_unknown_outcome';
import { Migration20261129190500_partner_webhooks } from './Migration20261129190500_partner_webhooks';
import { Migration20261129193600_assistant } from './Migration20261129193600_assistant';
import { Migration20261129194000_message_sender } from './Migration20261129194000_message_sender';
import { Migration20261129200500_routing } from './Migration20261129200500_routing';
import { Migration20261129201000_assistant_active_turns } from './Migration20261129201000_assistant_active_turns';
import { Migration20261129210500_routing_runtime } from './Migration20261129210500_routing_runtime';
import { Migration20261129211000_routing_inbound } from './Migration20261129211000_routing_inbound';
import { Migration20261129212500_domain_events_seq } from './Migration20261129212500_domain_events_seq';
import { Migration20261129213000_routing_session_end } from './Migration20261129213000_routing_session_end';
import { Migration20261129214500_routing_chatbot_callback_keys } from './Migration20261129214500_routing_chatbot_callback_keys';
import { Migration20261130010000_routing_session_end_signal } from './Migration20261130010000_routing_session_end_signal';
import { Migration20261130050000_bulk_statistics_and_covered_indexes } from './Migration20261130050000_bulk_statistics_and_covered_indexes';
// @imports

/** Every migration, in order. Listed explicitly so bundles and tests never depend on globbing. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261121232327_initial', class: Migration20261121232327_initial },
  { name: 'Migration20261121233346_channels_and_messages', class: Migration20261121233346_channels_and_messages },
  { name: 'Migration20261122000058_messaging', class: Migration20261122000058_messaging },
  { name: 'Migration20261122001112_broadcasts', class: Migration20261122001112_broadcasts },
  { name: 'Migration20261122003632_broadcast_pending_index', class: Migration20261122003632_broadcast_pending_index },
  { name: 'Migration20261122014731_broadcast_send_window', class: Migration20261122014731_broadcast_send_window },
  { name: 'Migration20261129170500_inbound_fidelity', class: Migration20261129170500_inbound_fidelity },
  { name: 'Migration20261129174213_wake_notifications', class: Migration20261129174213_wake_notifications },
  { name: 'Migration20261129171342_sign_in_attempts', class: Migration20261129171342_sign_in_attempts },
  { name: 'Migration20261129175533_broadcast_recipient_phone', class: Migration20261129175533_broadcast_recipient_phone },
  { name: 'Migration20261129180419_message_unknown_outcome', class: Migration20261129180419_message_unknown_outcome },
  { name: 'Migration20261129190500_partner_webhooks', class: Migration20261129190500_partner_webhooks },
  { name: 'Migration20261129193600_assistant', class: Migration20261129193600_assistant },
  { name: 'Migration20261129194000_message_sender', class: Migration20261129194000_message_sender },
  { name: 'Migration20261129200500_routing', class: Migration20261129200500_routing },
  { name: 'Migration20261129201000_assistant_active_turns', class: Migration20261129201000_assistant_active_turns },
  { name: 'Migration20261129210500_routing_runtime', class: Migration20261129210500_routing_runtime },
  { name: 'Migration20261129211000_routing_inbound', class: Migration20261129211000_routing_inbound },
  { name: 'Migration20261129212500_domain_events_seq', class: Migration20261129212500_domain_events_seq },
  { name: 'Migration20261129213000_routing_session_end', class: Migration20261129213000_routing_session_end },
  { name: 'Migration20261129214500_routing_chatbot_callback_keys', class: Migration20261129214500_routing_chatbot_callback_keys },
  { name: 'Migration20261130010000_routing_session_end_signal', class: Migration20261130010000_routing_session_end_signal },
  { name: 'Migration20261130050000_bulk_statistics_and_covered_indexes', class: Migration20261130050000_bulk_statistics_and_covered_indexes },
  // @list
];
