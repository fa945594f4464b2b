/**
 * Inbound benchmark, in two parts, against the API and worker as separate processes:
 *
 * 1. Visibility: signed deliveries of one inbound message each, at a steady rate (default 500
 *    per second) from many contacts, shaped like the real bodies in ../shared/fixtures/meta-webhooks.
 *    For each, the time from the webhook's 200 to the message being readable through the API:
 *    a first message from a new contact shows up in `GET /v1/conversations` (newest first, polled
 *    every 20 ms); a sample of messages from contacts who wrote before are looked for in
 *    `GET /v1/conversations/:id/messages`.
 * 2. Status throughput: the organization is filled with 1,000,000 messages by SQL, analysed, and
 *    signed sent, delivered and read webhooks for its latest outbound messages are posted as fast as
 *    the webhook accepts them. Statuses applied per second are compared with the ingest rate.
 *
 *   npm run bench:inbound [-- --rate 500 --seconds 40 --messages 1000000 --status-seconds 30]
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac, randomInt } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, startTemporalDevServer, waitForPort } from '@parley/dev';
import { newWamid, startSandboxGraph } from '@parley/sandbox-graph';
import pg from 'pg';
import { BENCH_SECRETS, benchDatabase, closedLoop, cpuSeconds, cpuSecondsByName, loadSummary, openLoop, percentile, platformEnv, startProcess, stopProcesses } from '../lib';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '40' },
    warmup: { type: 'string', default: '5' },
    returning: { type: 'string', default: '0.3' },
    'returning-sample': { type: 'string', default: '0.1' },
    messages: { type: 'string', default: '1000000' },
    'status-seconds': { type: 'string', default: '30' },
    connections: { type: 'string', default: '64' },
    skip: { type: 'string', default: '' },
  },
});
const rate = Number(values.rate);
const root = path.resolve(import.meta.dirname, '../..');
const corpusDir = path.resolve(root, '../shared/fixtures/meta-webhooks');
const secrets = BENCH_SECRETS;
const WABA_ID = '800000000101';
const PHONE_NUMBER_ID = '800000000102';
const metadata = { display_phone_number: '15550102', phone_number_id: PHONE_NUMBER_ID };
/** Messages of returning contacts looked for at once (the others of the sample are skipped meanwhile). */
const MAX_LOOKING = 4;
/** How long a message may take to show before it counts as never shown. */
const GIVE_UP_MS = 15_000;

const sign = (body: string) => `sha256=${createHmac('sha256', secrets.META_APP_SECRET).update(body).digest('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Json = Record<string, unknown>;

/** Inbound message shapes from the real corpus that each make a new message (not edits, reactions, system notices). */
function corpusMessages(): { texts: Json[]; others: Json[] } {
  const kinds = new Set(['text', 'image', 'audio', 'video', 'document', 'sticker', 'location', 'contacts', 'interactive', 'button', 'order']);
  const texts: Json[] = [];
  const others: Json[] = [];
  for (const file of readdirSync(corpusDir).filter((f) => f.endsWith('.json')).sort()) {
    const body = JSON.parse(readFileSync(path.join(corpusDir, file), 'utf8')) as { entry?: { changes?: { field?: string; value?: { messages?: Json[] } }[] }[] };
    for (const change of (body.entry ?? []).flatMap((e) => e.changes ?? [])) {
      for (const m of change.field === 'messages' ? (change.value?.messages ?? []) : []) {
        if (typeof m.from !== 'string' || !kinds.has(String(m.type)) || !(String(m.type) in m)) continue;
        (m.type === 'text' ? texts : others).push(m);
      }
    }
  }
  return { texts, others };
}

/**
 * Mobile numbers of several countries (the US, Brazil, India, the UK, Nigeria, Indonesia, Mexico in
 * WhatsApp's `521` form, Colombia), each of its country's length; the last seven digits are the
 * contact's index.
 */
const COUNTRIES = ['1415', '551191', '91987', '44770', '234803', '628123', '521551', '57300'];
function phoneOf(contact: number): string {
  return `${COUNTRIES[contact % COUNTRIES.length]}${String(contact % 10_000_000).padStart(7, '0')}`;
}
const contactOfPhone = (phone: string | null) => (phone ? Number(phone.replace(/\D+/g, '').slice(-7)) : NaN);
const FIRST = ['María', 'José', 'Ana', 'Sipho', 'Priya', 'Chen', 'Oluwaseun', 'Lucas', 'Fatima', 'John', 'Siti', 'Camila'];
const LAST = ['García', 'Silva', 'Okafor', 'Sharma', 'Nguyen', 'Smith', 'Santos', 'Hernández', 'Putri', 'Khan'];

interface Platform {
  api: string;
  token: string;
  organizationId: string;
  channelId: string;
  children: ChildProcess[];
  /** Deliveries stored and not yet applied. */
  pending(): Promise<number>;
  /** Process ids of the PostgreSQL backends serving the benchmark's database. */
  backendPids(): Promise<number[]>;
  /** ANALYZE of every table: the statistics a table already in use would have. */
  analyze(): Promise<void>;
  /**
   * One round of autovacuum's analysing (it is off on the benchmark machine): the tables changed
   * by more than `autovacuum_analyze_threshold` rows plus `autovacuum_analyze_scale_factor` of
   * their size since their last ANALYZE. Answers the tables analysed.
   */
  autoAnalyze(): Promise<string[]>;
  /** `autovacuum_naptime`: autovacuum visits a database at most once in this many seconds. */
  autovacuumNaptimeSeconds(): Promise<number>;
  /**
   * For each contact message whose delivery arrived since `since`: ms from the API storing the
   * delivery (before its 200) to the worker storing the message, both stamped by the database.
   */
  receiptToStored(since: Date): Promise<{ second: number; ms: number }[]>;
}

async function call(base: string, method: string, p: string, token: string, body?: unknown): Promise<Json> {
  const res = await fetch(base + p, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Json;
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function login(api: string): Promise<string> {
  const res = await fetch(`${api}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench-inbound@example.test', password: 'bench password 1234' }),
  });
  return ((await res.json()) as { accessToken: string }).accessToken;
}

// ---------------------------------------------------------------------------------------------
// Part 1: from the 200 to readable through the API

async function visibility(p: Platform) {
  const corpus = corpusMessages();
  const webhook = `${p.api}/webhooks/meta`;
  const offset = randomInt(0, 5_000_000);
  let nextContact = offset;
  /** Contacts whose conversation the API has shown: they may write again. */
  const known: { contact: number; conversationId: string }[] = [];
  const conversationOf = new Map<number, string>();
  const sends: { contact: number; wamid: string; kind: string; fresh: boolean; sampled: boolean; measured: boolean }[] = [];
  const kindOf = (m: Json) => [m.type, (m[String(m.type)] as Json | undefined)?.type].filter(Boolean).join('.');
  const newPending = new Map<number, number>(); // contact -> ack time
  const shownEarly = new Map<number, number>(); // contact -> time shown before its ack arrived
  const latencies = { fresh: [] as number[], returning: [] as number[] };
  const lost = { fresh: 0, returning: 0 };
  let measuring = false;
  let corpusIndex = 0;

  const delivery = (i: number) => {
    const returning = known.length > 0 && Math.random() < Number(values.returning);
    const contact = returning ? known[randomInt(0, known.length)]!.contact : nextContact++;
    const from = phoneOf(contact);
    const shape = corpusIndex++ % 10 < 7 ? corpus.texts[i % corpus.texts.length]! : corpus.others[i % corpus.others.length]!;
    const wamid = newWamid(from);
    const message: Json = { ...structuredClone(shape), from, id: wamid, timestamp: String(Math.floor(Date.now() / 1000)) };
    // The sender's business-scoped id, where the shape has one, is the contact's own as well.
    if ('from_user_id' in message) message.from_user_id = `US.${String(contact).padStart(19, '1')}`;
    const name = `${FIRST[contact % FIRST.length]} ${LAST[Math.floor(contact / FIRST.length) % LAST.length]}`;
    const value = { messaging_product: 'whatsapp', metadata, contacts: [{ profile: { name }, wa_id: from }], messages: [message] };
    const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: WABA_ID, changes: [{ value, field: 'messages' }] }] });
    sends[i] = { contact, wamid, kind: kindOf(shape), fresh: !returning, sampled: returning && Math.random() < Number(values['returning-sample']), measured: measuring };
    return { body, headers: { 'x-hub-signature-256': sign(body) } };
  };

  const record = (kind: 'fresh' | 'returning', ms: number) => {
    latencies[kind].push(Math.max(0, ms));
  };

  const onAck = (i: number, at: number) => {
    const s = sends[i]!;
    if (s.fresh) {
      const early = shownEarly.get(s.contact);
      if (early !== undefined) {
        shownEarly.delete(s.contact);
        if (s.measured) record('fresh', early - at);
      } else newPending.set(s.contact, s.measured ? at : -at);
    } else if (s.sampled && s.measured && lookingFor < MAX_LOOKING) void findReturning(conversationOf.get(s.contact)!, s.wamid, at);
  };

  /**
   * Polls the conversation's messages until the message shows: every 20 ms at first, then at a
   * tenth of the time waited so far (the figure stays within 10 %), and never more than
   * MAX_LOOKING at once, so that the measuring never becomes the load.
   */
  let lookingFor = 0;
  const findReturning = async (conversationId: string, wamid: string, ackAt: number) => {
    lookingFor++;
    try {
      while (performance.now() - ackAt < GIVE_UP_MS) {
        const page = (await call(p.api, 'GET', `/v1/conversations/${conversationId}/messages?limit=10`, p.token)) as { data: { wamid: string | null }[] };
        if (page.data.some((m) => m.wamid === wamid)) return record('returning', performance.now() - ackAt);
        await sleep(Math.max(20, (performance.now() - ackAt) / 10));
      }
      lost.returning++;
    } finally {
      lookingFor--;
    }
  };

  // The conversation list, newest first: every conversation not seen before is a new contact's
  // first message. The worker's lanes commit side by side, so a conversation may appear below
  // newer ones already seen. But its id (uuid v7) is never older than the delivery's commit, which
  // came before the 200: each look goes down to the oldest first message still awaited.
  const seen = new Set<string>();
  const idTime = (id: string) => parseInt(id.replaceAll('-', '').slice(0, 12), 16);
  let listing = true;
  let listCalls = 0;
  const lookMs: number[] = [];
  const lister = (async () => {
    while (listing) {
      const started = performance.now();
      let oldestAwaited = Infinity;
      for (const at of newPending.values()) if (at > 0 && at < oldestAwaited) oldestAwaited = at;
      const downTo = performance.timeOrigin + Math.min(oldestAwaited, started) - 100;
      let cursor: string | null = null;
      for (let pageNo = 0; pageNo < 10; pageNo++) {
        const page = (await call(p.api, 'GET', `/v1/conversations?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, p.token)) as {
          data: { id: string; contact: { phone: string | null } }[];
          nextCursor: string | null;
        };
        listCalls++;
        const shownAt = performance.now();
        for (const c of page.data) {
          if (seen.has(c.id)) continue;
          seen.add(c.id);
          const contact = contactOfPhone(c.contact.phone);
          if (!Number.isFinite(contact)) continue;
          conversationOf.set(contact, c.id);
          known.push({ contact, conversationId: c.id });
          const ackAt = newPending.get(contact);
          if (ackAt === undefined) shownEarly.set(contact, shownAt);
          else {
            newPending.delete(contact);
            if (ackAt > 0) record('fresh', shownAt - ackAt);
          }
        }
        const last = page.data[page.data.length - 1];
        if (!last || idTime(last.id) < downTo || !page.nextCursor) break;
        cursor = page.nextCursor;
      }
      lookMs.push(performance.now() - started);
      await sleep(Math.max(0, 20 - (performance.now() - started)));
    }
  })();

  // The tables grow from nothing: without statistics the conversation list plans a sort of every
  // conversation instead of reading the newest few. A platform in use has them, so the warm-up
  // analyses its tables halfway, and measuring starts once the plans made from them settled. From
  // then on autovacuum's rule decides which tables it analyses (those past their threshold). It
  // visits a database once a naptime (a minute); a run shorter than two naptimes still gets a round
  // in its middle, so its cost is always in the figures.
  await openLoop({ url: webhook, rate, seconds: Number(values.warmup) / 2, next: delivery, onAck });
  await p.analyze();
  const secondHalfFrom = sends.length;
  await openLoop({ url: webhook, rate, seconds: Number(values.warmup) / 2, next: (i) => delivery(i + secondHalfFrom), onAck: (i, at) => onAck(i + secondHalfFrom, at) });
  measuring = true;
  const autoAnalysed: { second: number; tables: string[] }[] = [];
  const roundEveryMs = Math.min(await p.autovacuumNaptimeSeconds(), Number(values.seconds) / 2) * 1000;
  const roundsFrom = Date.now();
  const analyzing = setInterval(() => {
    const second = Math.round((Date.now() - roundsFrom) / 1000);
    void p.autoAnalyze().then((tables) => autoAnalysed.push({ second, tables }));
  }, roundEveryMs);
  const measuredFrom = sends.length;
  const measuredSince = new Date();
  const cpuStart = await cpuSnapshot(p);
  const pendingBefore = await p.pending();
  const started = performance.now();
  const load = await openLoop({ url: webhook, rate, seconds: Number(values.seconds), next: (i) => delivery(i + measuredFrom), onAck: (i, at) => onAck(i + measuredFrom, at) });
  const loadSeconds = (performance.now() - started) / 1000;
  clearInterval(analyzing);
  const cpuEnd = await cpuSnapshot(p);
  // What the worker applies on its own, once the webhook load no longer shares the CPUs with it.
  const backlog = await p.pending();
  const drained = (async () => {
    const drainStarted = performance.now();
    for (let left = backlog; left > 0; left = await p.pending()) {
      if (performance.now() - drainStarted > 300_000) return null;
      await sleep(250);
    }
    return (performance.now() - drainStarted) / 1000;
  })();
  // Let the last messages show, then count what never did.
  const deadline = performance.now() + GIVE_UP_MS;
  while ([...newPending.values()].some((at) => at > 0) && performance.now() < deadline) await sleep(50);
  listing = false;
  await lister;
  await sleep(200);
  const drainSeconds = await drained;
  // Once all is applied, one walk through every conversation tells the messages that are there but
  // that the looks missed (too far down while the worker lagged) from those never stored.
  let missedByLooks = 0;
  for (let cursor: string | null = null, more = true; more; ) {
    const page = (await call(p.api, 'GET', `/v1/conversations?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, p.token)) as {
      data: { contact: { phone: string | null } }[];
      nextCursor: string | null;
    };
    for (const c of page.data) {
      const contact = contactOfPhone(c.contact.phone);
      if ((newPending.get(contact) ?? 0) > 0) {
        newPending.delete(contact);
        missedByLooks++;
      }
    }
    cursor = page.nextCursor;
    more = cursor !== null;
  }
  lost.fresh = [...newPending.values()].filter((at) => at > 0).length;
  const lostKinds: Record<string, number> = {};
  for (const s of sends) if (s.fresh && (newPending.get(s.contact) ?? 0) > 0) lostKinds[s.kind] = (lostKinds[s.kind] ?? 0) + 1;

  const stored = await p.receiptToStored(measuredSince);
  const stats = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { n: sorted.length, p50Ms: Math.round(percentile(sorted, 50)), p90Ms: Math.round(percentile(sorted, 90)), p99Ms: Math.round(percentile(sorted, 99)), maxMs: Math.round(sorted[sorted.length - 1] ?? 0) };
  };
  return {
    ratePerSecond: rate,
    seconds: Number(values.seconds),
    corpusShapes: { texts: corpus.texts.length, others: corpus.others.length },
    webhook: loadSummary(load),
    contactsWhoWrote: nextContact - offset,
    readableAfterAck: {
      all: stats([...latencies.fresh, ...latencies.returning]),
      firstMessageOfNewContact: stats(latencies.fresh),
      returningContactSample: stats(latencies.returning),
    },
    // Shown, but found only by the final walk: their time is unknown, and later than the looks gave up.
    firstMessagesMissedByTheLooks: missedByLooks,
    firstMessagesNeverShown: { n: lost.fresh, byKind: lostKinds },
    returningSampleNotShownWithin15s: lost.returning,
    conversationListCallsPerSecond: Math.round(listCalls / loadSeconds),
    conversationListLook: { pagesEach: Number((listCalls / lookMs.length).toFixed(2)), ...stats(lookMs) },
    // The platform's part of the wait, without the looks: the same load, read from the database.
    deliveryStoredToMessageStored: stats(stored.map((s) => s.ms)),
    // Where the tail comes from: the slowest seconds of the run (by when the delivery arrived).
    slowestSecondsStored: slowestSeconds(stored, 5),
    appliedPerSecondDuringLoad: Math.round((pendingBefore + load.acknowledged - backlog) / loadSeconds),
    backlogAfterLoad: backlog,
    appliedPerSecondAfterLoad: backlog && drainSeconds ? Math.round(backlog / drainSeconds) : null,
    cpuDuringLoad: cpuShare(cpuStart, cpuEnd, loadSeconds),
    analysedAsAutovacuumWould: autoAnalysed,
  };
}

/** The `n` seconds of the run with the highest p99, each with its p50, p99 and count, slowest first. */
function slowestSeconds(rows: { second: number; ms: number }[], n: number) {
  const bySecond = new Map<number, number[]>();
  for (const r of rows) {
    const xs = bySecond.get(r.second);
    if (xs) xs.push(r.ms);
    else bySecond.set(r.second, [r.ms]);
  }
  return [...bySecond]
    .map(([second, xs]) => {
      const sorted = xs.sort((a, b) => a - b);
      return { second, n: sorted.length, p50Ms: Math.round(percentile(sorted, 50)), p99Ms: Math.round(percentile(sorted, 99)) };
    })
    .sort((a, b) => b.p99Ms - a.p99Ms)
    .slice(0, n);
}

// ---------------------------------------------------------------------------------------------
// Part 2: statuses in an organization holding a million messages

const BODIES = [
  'Hola, ¿tienen envío a domicilio?',
  'Hi, I ordered yesterday and have not received a confirmation email',
  'Obrigado! Chegou tudo certo 🙏',
  'Can I change the delivery address for order 48213?',
  'ok',
  'Thank you so much!!',
  'Bom dia, qual o horário de funcionamento?',
  'Is this still available?',
  'Gracias 👍',
  'Your order #A-2291 has shipped and will arrive on Thursday.',
  'We have received your request. An agent will reply shortly.',
  'Your appointment is confirmed for 10:30 tomorrow.',
];

async function fillOrganization(p: Platform, databaseUrl: string, total: number, targets: number) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const t0 = performance.now();
  const contacts = Math.max(1, Math.round(total / 10));
  try {
    await db.query(`create temporary table bench_conversations (n int primary key, id uuid not null, contact_id uuid not null, phone text not null)`);
    // Time-ordered ids as the application makes them (uuid v7), so the seeded rows sort by age.
    await db.query(`create function pg_temp.uuid7(t timestamptz) returns uuid language sql volatile as $$
      select (lpad(to_hex((extract(epoch from t) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid $$`);
    await db.query(`create function pg_temp.wamid(wa text, n bigint) returns text language sql immutable as $$
      select 'wamid.' || encode(decode('1c18' || lpad(to_hex(length(wa)), 2, '0') || encode(convert_to(wa, 'UTF8'), 'hex') || '1502001118' || '12'
        || encode(convert_to('b3nch' || lpad(to_hex(n), 13, '0'), 'UTF8'), 'hex') || '00', 'hex'), 'base64') $$`);
    await db.query(
      `insert into bench_conversations (n, id, contact_id, phone)
       select g, pg_temp.uuid7(now() - interval '120 days' + g * interval '1 second'), pg_temp.uuid7(now() - interval '120 days' + g * interval '1 second'),
              '+1' || (6460000000 + g)::text
       from generate_series(1, $1::int) g`,
      [contacts],
    );
    await db.query(
      `insert into contacts (id, organization_id, phone, wa_id, name, fields, opted_out, last_inbound_at, created_at, updated_at)
       select contact_id, $1, phone, substr(phone, 2), 'Customer ' || n, '{}', false, now() - interval '1 day', now() - interval '120 days', now()
       from bench_conversations`,
      [p.organizationId],
    );
    await db.query(
      `insert into conversations (id, organization_id, contact_id, channel_id, status, unread_count, last_message_at, last_message_preview, created_at, updated_at)
       select id, $1, contact_id, $2, case when n % 5 = 0 then 'active' else 'resolved' end, 0, now() - interval '1 day', 'Thank you so much!!',
              now() - interval '120 days', now()
       from bench_conversations`,
      [p.organizationId, p.channelId],
    );
    // Every other message is outbound; the last `targets` outbound ones were just accepted by Meta
    // (sent) and await their delivered and read webhooks; older ones were read long ago.
    await db.query(
      `insert into messages (id, organization_id, conversation_id, channel_id, direction, role, ai, type, content, wamid, status, status_rank,
                             send_state, send_attempts, status_updated_at, created_at)
       select pg_temp.uuid7(at), $1, c.id, $2, case when g % 2 = 0 then 'inbound' else 'outbound' end,
              case when g % 2 = 0 then 'contact' else 'agent' end, false, 'text',
              jsonb_build_object('text', ($5::text[])[1 + g % array_length($5::text[], 1)]),
              pg_temp.wamid(substr(c.phone, 2), g),
              case when g % 2 = 0 then 'received' when g > $3 - 2 * $4 then 'sent' else 'read' end,
              case when g % 2 = 0 then 0 when g > $3 - 2 * $4 then 1 else 3 end,
              case when g % 2 = 0 then null else 'accepted' end, case when g % 2 = 0 then 0 else 1 end, at, at
       from generate_series(1, $3::int) g
       cross join lateral (select now() - interval '90 days' + (g::float8 / $3) * interval '90 days' as at) t
       join bench_conversations c on c.n = 1 + g % $6`,
      [p.organizationId, p.channelId, total, targets, BODIES, contacts],
    );
    const seeded = (performance.now() - t0) / 1000;
    // The ledger of the older outbound messages' statuses, as their webhooks left it.
    await db.query(
      `insert into message_status_events (organization_id, wamid, status, occurred_at, recipient_id, biz_opaque_callback_data, applied_at)
       select m.organization_id, m.wamid, s.status, m.created_at + s.after, null, 'msg:' || m.id, m.created_at + s.after
       from messages m
       cross join (values ('sent', interval '1 second'), ('delivered', interval '3 seconds'), ('read', interval '5 minutes')) s(status, after)
       where m.organization_id = $1 and m.direction = 'outbound' and m.status = 'read'`,
      [p.organizationId],
    );
    const ledgered = (performance.now() - t0) / 1000;
    await db.query('analyze');
    const rows = await db.query<{ id: string; wamid: string; phone: string }>(
      `select m.id, m.wamid, ct.wa_id as phone from messages m join conversations cv on cv.id = m.conversation_id join contacts ct on ct.id = cv.contact_id
       where m.organization_id = $1 and m.status = 'sent' and m.direction = 'outbound' order by m.id`,
      [p.organizationId],
    );
    const [counts] = (
      await db.query<{ messages: number; events: number }>(
        `select (select count(*)::int from messages where organization_id = $1) as messages, (select count(*)::int from message_status_events where organization_id = $1) as events`,
        [p.organizationId],
      )
    ).rows;
    return {
      targets: rows.rows,
      report: {
        messagesInOrganization: counts!.messages,
        statusEventsInOrganization: counts!.events,
        contacts,
        seedSeconds: { messages: Math.round(seeded), statusLedger: Math.round(ledgered - seeded), analyze: Math.round((performance.now() - t0) / 1000 - ledgered) },
      },
    };
  } finally {
    await db.end();
  }
}

async function statusThroughput(p: Platform, databaseUrl: string) {
  const total = Number(values.messages);
  const seconds = Number(values['status-seconds']);
  // Enough outbound messages awaiting statuses for the whole run at up to ~5,000 per second.
  const targetsWanted = Math.min(Math.floor(total / 4), Math.ceil((seconds * 5000) / 3));
  const filled = await fillOrganization(p, databaseUrl, total, targetsWanted);
  const targets = filled.targets;
  const template = JSON.parse(readFileSync(path.join(corpusDir, 'coxcox__status_sent_utility.json'), 'utf8')) as Json;
  const templateStatus = (((template.entry as Json[])[0]!.changes as Json[])[0]!.value as { statuses: Json[] }).statuses[0]!;
  const statusNames = ['sent', 'delivered', 'read'] as const;
  const delivery = (i: number) => {
    const target = targets[Math.floor(i / 3)]!;
    const status = statusNames[i % 3]!;
    const s: Json = {
      ...structuredClone(templateStatus),
      id: target.wamid,
      status,
      timestamp: String(Math.floor(Date.now() / 1000)),
      recipient_id: target.phone,
      // Every send carries its message's tag (OutboundSender), and Meta echoes it.
      biz_opaque_callback_data: `msg:${target.id}`,
    };
    if (status === 'read') {
      delete s.conversation;
      delete s.pricing;
    }
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: WABA_ID, changes: [{ value: { messaging_product: 'whatsapp', metadata, statuses: [s] }, field: 'messages' }] }],
    });
    return { body, headers: { 'x-hub-signature-256': sign(body) } };
  };

  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const [{ base }] = (await db.query<{ base: string }>('select coalesce(max(id), 0)::text as base from meta_webhook_deliveries')).rows as [{ base: string }];
    const progress = async () => {
      const [row] = (
        await db.query<{ stored: number; applied: number }>(
          `select count(*)::int as stored, count(*) filter (where processed_at is not null)::int as applied from meta_webhook_deliveries where id > $1`,
          [base],
        )
      ).rows;
      return row!;
    };
    const timeline: { s: number; acknowledged: number; applied: number }[] = [];
    let acknowledged = 0;
    const started = performance.now();
    const sampler = setInterval(() => {
      void progress().then((r) => timeline.push({ s: Math.round((performance.now() - started) / 100) / 10, acknowledged, applied: r.applied }));
    }, 1000);
    const cpuStart = await cpuSnapshot(p);
    const load = await closedLoop({
      url: `${p.api}/webhooks/meta`,
      connections: Number(values.connections),
      seconds,
      limit: targets.length * 3,
      next: delivery,
      onAck: () => acknowledged++,
    });
    const loadSeconds = (performance.now() - started) / 1000;
    const cpuEnd = await cpuSnapshot(p);
    const atLoadEnd = await progress();
    const drainDeadline = performance.now() + 600_000;
    let last = atLoadEnd;
    while (last.applied < last.stored && performance.now() < drainDeadline) {
      await sleep(250);
      last = await progress();
    }
    clearInterval(sampler);
    const allSeconds = (performance.now() - started) / 1000;
    const postedFor = Math.ceil(load.sent / 3);
    const [ranks] = (
      await db.query<{ read: number; delivered: number; sent: number }>(
        `select count(*) filter (where status = 'read')::int as read, count(*) filter (where status = 'delivered')::int as delivered,
                count(*) filter (where status = 'sent')::int as sent
         from messages where id = any($1::uuid[])`,
        [targets.slice(0, postedFor).map((t) => t.id)],
      )
    ).rows;
    const ingestRate = load.acknowledged / loadSeconds;
    const appliedDuringLoad = atLoadEnd.applied / loadSeconds;
    const appliedOverall = last.applied / allSeconds;
    return {
      organization: filled.report,
      outboundMessagesAwaitingStatuses: targets.length,
      webhook: loadSummary(load),
      statusesAcknowledgedPerSecond: Math.round(ingestRate),
      statusesAppliedPerSecondDuringLoad: Math.round(appliedDuringLoad),
      backlogAtLoadEnd: atLoadEnd.stored - atLoadEnd.applied,
      secondsToApplyAllAfterLoad: Math.round((allSeconds - loadSeconds) * 10) / 10,
      // The worker alone, once the webhook load no longer shares the CPUs with it.
      statusesAppliedPerSecondAfterLoad: allSeconds > loadSeconds ? Math.round((last.applied - atLoadEnd.applied) / (allSeconds - loadSeconds)) : null,
      statusesAppliedPerSecondOverall: Math.round(appliedOverall),
      appliedToIngestRatio: Number((appliedDuringLoad / ingestRate).toFixed(3)),
      allApplied: last.applied === last.stored && last.stored === load.acknowledged,
      messagesAfterwards: ranks,
      timeline,
      cpuDuringLoad: cpuShare(cpuStart, cpuEnd, loadSeconds),
    };
  } finally {
    await db.end();
  }
}

// ---------------------------------------------------------------------------------------------

async function cpuSnapshot(p: Platform) {
  const backends = (await p.backendPids()).map((pid) => cpuSeconds(pid));
  return {
    api: cpuSeconds(p.children[0]!.pid),
    worker: cpuSeconds(p.children[1]!.pid),
    'load generator (this process)': cpuSeconds(process.pid),
    "postgres (this database's connections)": backends.reduce<[number, number]>((a, b) => [a[0] + b[0], a[1] + b[1]], [0, 0]),
    'postgres (all, other work on the machine included)': cpuSecondsByName('postgres'),
  };
}

function cpuShare(before: Awaited<ReturnType<typeof cpuSnapshot>>, after: Awaited<ReturnType<typeof cpuSnapshot>>, seconds: number) {
  return Object.fromEntries(
    Object.entries(after).map(([k, [user, system]]) => {
      const [user0, system0] = before[k as keyof typeof before];
      return [k, `${Math.round(((user - user0 + system - system0) / seconds) * 100)} % of a core`];
    }),
  );
}

async function main() {
  const database = await benchDatabase('parley_bench_inbound');
  const temporal = await startTemporalDevServer();
  const port = await freePort();
  // Stands in for Meta in case a message is sent (an opt-out keyword's auto-reply).
  const sandbox = await startSandboxGraph({ port: 0, appId: secrets.META_APP_ID, appSecret: secrets.META_APP_SECRET, webhookUrl: `http://127.0.0.1:${port}/webhooks/meta` });
  const env = platformEnv({ port, databaseUrl: database.url, temporalAddress: temporal.address, graphUrl: sandbox.url, extra: { DATABASE_POOL_MAX: '20' } });
  const children: ChildProcess[] = [];
  const run = (entry: string, name: string) => children.push(startProcess(entry, name, env));
  try {
    run('apps/api/src/main.ts', 'api');
    await waitForPort(port, 60_000);
    run('apps/worker/src/main.ts', 'worker');
    const api = `http://127.0.0.1:${port}`;
    const org = await call(api, 'POST', '/v1/organizations', secrets.PLATFORM_ADMIN_TOKEN, {
      name: 'Bench',
      admin: { email: 'bench-inbound@example.test', password: 'bench password 1234' },
    });
    const token = await login(api);
    const channel = await call(api, 'POST', '/v1/channels/whatsapp', token, { code: 'bench', wabaId: WABA_ID, phoneNumberId: PHONE_NUMBER_ID, label: 'Bench' });
    // The clock starts once the worker applies deliveries (it may take a while to start on a busy machine).
    const probe = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: WABA_ID, changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata, messages: [{ from: '15550109999', id: newWamid('15550109999'), timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'ping' } }] } }] }],
    });
    await fetch(`${api}/webhooks/meta`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(probe) }, body: probe });
    const pending = async () =>
      (await database.orm.em.fork().getConnection().execute<{ n: number }[]>('select count(*)::int as n from meta_webhook_deliveries where processed_at is null'))[0]!.n;
    const backendPids = async () =>
      (await database.orm.em.fork().getConnection().execute<{ pid: number }[]>('select pid from pg_stat_activity where datname = current_database()')).map((r) => r.pid);
    const analyze = async () => void (await database.orm.em.fork().getConnection().execute('analyze'));
    const setting = async (name: string) =>
      Number((await database.orm.em.fork().getConnection().execute<{ setting: string }[]>('select setting from pg_settings where name = ?', [name]))[0]!.setting);
    const autoAnalyze = async () => {
      const [threshold, scale] = [await setting('autovacuum_analyze_threshold'), await setting('autovacuum_analyze_scale_factor')];
      const due = await database.orm.em.fork().getConnection().execute<{ name: string }[]>(
        `select quote_ident(s.relname) as name from pg_stat_user_tables s join pg_class c on c.oid = s.relid
          where s.n_mod_since_analyze > ? + ? * greatest(c.reltuples, 0)`,
        [threshold, scale],
      );
      for (const { name } of due) await database.orm.em.fork().getConnection().execute(`analyze ${name}`);
      return due.map((t) => t.name);
    };
    const autovacuumNaptimeSeconds = () => setting('autovacuum_naptime');
    const receiptToStored = async (since: Date) =>
      (
        await database.orm.em.fork().getConnection().execute<{ second: number; ms: number }[]>(
          `select floor(extract(epoch from d.received_at - ?::timestamptz))::int as second, extract(epoch from m.status_updated_at - d.received_at) * 1000 as ms
           from meta_webhook_deliveries d
           join messages m on m.wamid = d.payload->'entry'->0->'changes'->0->'value'->'messages'->0->>'id' and m.direction = 'inbound'
           where d.received_at >= ?`,
          [since, since],
        )
      ).map((r) => ({ second: Number(r.second), ms: Number(r.ms) }));
    const platform: Platform = { api, token, organizationId: String(org.id), channelId: String(channel.id), children, pending, backendPids, analyze, autoAnalyze, autovacuumNaptimeSeconds, receiptToStored };
    for (let waited = 0; ; waited += 200) {
      if ((await pending()) === 0) break;
      if (waited > 120_000) throw new Error('the worker applied nothing within two minutes');
      await sleep(200);
    }
    const report: Json = {
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      date: new Date().toISOString(),
      // Other work on the machine skews every figure: the load averages before the run.
      loadAverageBefore: os.loadavg().map((l) => Number(l.toFixed(2))),
    };
    if (!values.skip.includes('visibility')) {
      report.visibility = await visibility(platform);
      // Messages the worker set aside instead of storing (a corpus shape it refuses), by reason.
      report.setAside = await database.orm.em
        .fork()
        .getConnection()
        .execute(`select item_kind as kind, left(reason, 120) as reason, count(*)::int as n from meta_inbound_failures group by 1, 2 order by 3 desc`)
        .catch(() => null);
      process.stderr.write(`${JSON.stringify(report.visibility, null, 2)}\n`);
    }
    if (!values.skip.includes('statuses')) {
      platform.token = await login(api);
      report.statuses = await statusThroughput(platform, database.url);
    }
    console.log(JSON.stringify(report, null, 2));
  } finally {
    await stopProcesses(children);
    await sandbox.stop();
    await temporal.stop();
    await database.drop();
  }
}

await main();
