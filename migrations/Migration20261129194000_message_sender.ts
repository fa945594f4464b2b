import { Migration } from '@mikro-orm/migrations';

/**
 * Who queued an outbound message, beyond its role: an agent (ref: user id), a partner (ref:
 * installation id), the AI assistant, or the platform (ref: why, such as consent). Null for what
 * was not queued through queueMessage (contacts' messages, the business app's echoes, history).
 */
export class Migration20261129194000_message_sender extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "messages" add column "sender_kind" text null, add column "sender_ref" text null;`);
    this.addSql(`alter table "messages" add constraint "messages_sender_kind_check" check ("sender_kind" in ('agent', 'partner', 'assistant', 'system'));`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "messages" drop constraint "messages_sender_kind_check";`);
    this.addSql(`alter table "messages" drop column "sender_kind", drop column "sender_ref";`);
  }

}
