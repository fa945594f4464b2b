import { Migration } from '@mikro-orm/migrations';

export class Migration20261122014731_broadcast_send_window extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "channel_send_log" ("id" bigserial primary key, "channel_id" uuid not null, "drawn_at" timestamptz not null, "count" int not null);`);
    this.addSql(`create index "channel_send_log_channel_drawn" on "channel_send_log" ("channel_id", "drawn_at");`);

    // A function, not a statement: its queries after the lock see every draw committed before it
    // got the lock, where one statement would read the log as of before it waited.
    this.addSql(`create function draw_send_budget(p_channel uuid, p_limit float8, p_capacity float8, p_window int, p_wanted int)
  returns table (n int, drawn_at timestamptz, log_id bigint)
  language plpgsql volatile as $fn$
declare
  v_tokens float8;
  v_refilled timestamptz;
  v_now timestamptz;
  v_bucket float8;
  v_taken bigint;
  v_n int;
  v_log bigint;
begin
  select b.tokens, b.refilled_at into v_tokens, v_refilled from channel_send_budgets b where b.channel_id = p_channel for update;
  if not found then
    insert into channel_send_budgets (channel_id, tokens, refilled_at) values (p_channel, 0, clock_timestamp()) on conflict (channel_id) do nothing;
    return query select 0, clock_timestamp(), null::bigint;
    return;
  end if;
  v_now := clock_timestamp();
  v_bucket := least(p_capacity, v_tokens + extract(epoch from (v_now - v_refilled)) * p_limit);
  select coalesce(sum(l.count), 0) into v_taken from channel_send_log l where l.channel_id = p_channel and l.drawn_at > v_now - interval '1 second';
  v_n := greatest(0, floor(least(v_bucket, p_window - v_taken, p_wanted)))::int;
  update channel_send_budgets set tokens = v_bucket - v_n, refilled_at = v_now where channel_id = p_channel;
  delete from channel_send_log l where l.channel_id = p_channel and l.drawn_at < v_now - interval '2 seconds';
  if v_n > 0 then
    insert into channel_send_log (channel_id, drawn_at, count) values (p_channel, v_now, v_n) returning id into v_log;
  end if;
  return query select v_n, v_now, v_log;
end
$fn$;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists draw_send_budget(uuid, float8, float8, int, int);`);
    this.addSql(`drop table if exists "channel_send_log" cascade;`);
  }

}
