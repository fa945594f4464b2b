import { Migration } from '@mikro-orm/migrations';

export class Migration20261129171342_sign_in_attempts extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "sign_in_attempts" ("kind" text not null, "key" text not null, "attempts" int not null, "window_ends_at" timestamptz not null, constraint "sign_in_attempts_pkey" primary key ("kind", "key"));`);
    this.addSql(`create index "sign_in_attempts_window_ends_at" on "sign_in_attempts" ("window_ends_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "sign_in_attempts" cascade;`);
  }

}
