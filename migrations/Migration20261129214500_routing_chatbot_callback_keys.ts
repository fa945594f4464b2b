import { Migration } from '@mikro-orm/migrations';

/**
 * A chatbot's callbacks by `Idempotency-Key` (docs/routing.md, "Chatbot connectors"): a bot whose
 * HTTP client timed out after the platform sent its answer retries it, and the key's row, written
 * in the transaction that sent, answers the retry without sending again. Keys belong to the
 * conversation's session and go with it.
 */
export class Migration20261129214500_routing_chatbot_callback_keys extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "routing_chatbot_callbacks" (
  "session_id" uuid not null references "routing_sessions" ("id") on delete cascade,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "key" text not null,
  "request_hash" text not null,
  "response_status" int not null,
  "response_body" jsonb not null,
  "created_at" timestamptz not null,
  primary key ("session_id", "key")
);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "routing_chatbot_callbacks";`);
  }

}
