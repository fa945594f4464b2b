/**
 * Console benchmark: the web console in Debian's Chromium (playwright-core) against the API and
 * worker started as separate processes in production mode, with the sandbox Graph API.
 *
 * The organization is seeded by SQL with 10,000 conversations (one of them 5,000 messages long).
 * Then, each measured in the page itself:
 *
 * (a) the inbox's first render: from navigation start to the first conversation in the list, in a
 *     fresh browser context (cold cache) each run;
 * (b) opening the 5,000-message conversation: from the click in the list to its newest message
 *     on screen;
 * (c) live delay: signed inbound deliveries posted to /webhooks/meta one at a time, each from
 *     another contact, and the time from the webhook's 200 to the message's preview showing in
 *     the open inbox (webhook -> worker's inbound processor -> domain_events -> the API's event
 *     stream, read every 250 ms -> the console);
 * (d) the JavaScript the first screens (sign-in, inbox) load, raw and compressed.
 *
 *   npm run bench:console [-- --conversations 10000 --messages 5000 --live 200 --spacing 150 --runs 5]
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { freePort, startTemporalDevServer, waitForPort } from '@parley/dev';
import { newWamid, startSandboxGraph } from '@parley/sandbox-graph';
import { createParser } from 'eventsource-parser';
import pg from 'pg';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../../apps/console/scripts/ensure-built';
import { BENCH_SECRETS, benchDatabase, percentile, platformEnv, startProcess, stopProcesses } from '../lib';

const { values } = parseArgs({
  options: {
    conversations: { type: 'string', default: '10000' },
    messages: { type: 'string', default: '5000' },
    live: { type: 'string', default: '200' },
    spacing: { type: 'string', default: '150' },
    runs: { type: 'string', default: '5' },
  },
});
const CONVERSATIONS = Number(values.conversations);
const LONG_MESSAGES = Number(values.messages);
const LIVE = Number(values.live);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const secrets = BENCH_SECRETS;
const WABA_ID = '800000000201';
const PHONE_NUMBER_ID = '800000000202';
const EMAIL = 'bench-console@example.test';
const PASSWORD = 'bench password 1234';
const LONG_NAME = 'Long Conversation';

type Json = Record<string, unknown>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sign = (body: string) => `sha256=${createHmac('sha256', secrets.META_APP_SECRET).update(body).digest('hex')}`;
/** Wall-clock milliseconds with sub-millisecond precision, comparable with the page's own. */
const wallNow = () => performance.timeOrigin + performance.now();
const phoneOf = (n: number) => `1646${String(n).padStart(7, '0')}`;

function stats(xs: number[]) {
  const sorted = [...xs].sort((a, b) => a - b);
  const r = (n: number) => Math.round(n);
  return { n: sorted.length, p50Ms: r(percentile(sorted, 50)), p90Ms: r(percentile(sorted, 90)), p99Ms: r(percentile(sorted, 99)), maxMs: r(sorted.at(-1) ?? 0), minMs: r(sorted[0] ?? 0) };
}

async function call(base: string, method: string, p: string, token: string, body?: unknown): Promise<Json> {
  const res = await fetch(base + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await res.json()) as Json;
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function login(api: string): Promise<{ accessToken: string; refreshToken: string; expiresAt: number }> {
  const res = await fetch(`${api}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: EMAIL, password: PASSWORD }) });
  const body = (await res.json()) as { accessToken: string; refreshToken: string; expiresIn: number };
  if (res.status !== 200) throw new Error(`login: ${res.status} ${JSON.stringify(body)}`);
  return { accessToken: body.accessToken, refreshToken: body.refreshToken, expiresAt: Date.now() + body.expiresIn * 1000 };
}

/**
 * 10,000 contacts, each with an active conversation and one message from them, and one contact
 * with a conversation of 5,000 messages (the newest, so it heads the list). Ids are time-ordered
 * (uuid v7) as the application makes them.
 */
async function seed(databaseUrl: string, organizationId: string, channelId: string) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const t0 = performance.now();
  try {
    await db.query(`create function pg_temp.uuid7(t timestamptz) returns uuid language sql volatile as $$
      select (lpad(to_hex((extract(epoch from t) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid $$`);
    await db.query(`create temporary table seed (n int primary key, contact_id uuid not null, conversation_id uuid not null, phone text not null, at timestamptz not null)`);
    await db.query(
      `insert into seed select g, pg_temp.uuid7(at), pg_temp.uuid7(at), $2 || lpad(g::text, 7, '0'), at
         from generate_series(1, $1::int) g, lateral (select now() - interval '2 days' + g * interval '10 seconds') t(at)`,
      [CONVERSATIONS, '1646'],
    );
    await db.query(
      `insert into contacts (id, organization_id, phone, wa_id, name, fields, opted_out, last_inbound_at, created_at, updated_at)
       select contact_id, $1, '+' || phone, phone, case when n = $2 then $3 else 'Customer ' || n end, '{}', false, at, at, at from seed`,
      [organizationId, CONVERSATIONS, LONG_NAME],
    );
    await db.query(
      `insert into conversations (id, organization_id, contact_id, channel_id, status, unread_count, last_inbound_at, last_message_at, last_message_preview, created_at, updated_at)
       select conversation_id, $1, contact_id, $2, 'active', 1, at, at, case when n = $3 then 'Mensaje ' || $4 else 'Hola, ¿tienen envío a domicilio?' end, at, at from seed`,
      [organizationId, channelId, CONVERSATIONS, LONG_MESSAGES],
    );
    await db.query(
      `insert into messages (id, organization_id, conversation_id, channel_id, direction, role, ai, type, content, wamid, status, status_rank, status_updated_at, created_at)
       select pg_temp.uuid7(at), $1, conversation_id, $2, 'inbound', 'contact', false, 'text', jsonb_build_object('text', 'Hola, ¿tienen envío a domicilio?'),
              'wamid.seed' || n, 'received', 0, at, at
         from seed where n < $3`,
      [organizationId, channelId, CONVERSATIONS],
    );
    // The long conversation: every other message an agent's reply, the newest 'Mensaje <n>'.
    await db.query(
      `insert into messages (id, organization_id, conversation_id, channel_id, direction, role, ai, type, content, wamid, status, status_rank, send_state, status_updated_at, created_at)
       select pg_temp.uuid7(t.at), $1, s.conversation_id, $2, case when g % 2 = 0 then 'outbound' else 'inbound' end,
              case when g % 2 = 0 then 'agent' else 'contact' end, false, 'text', jsonb_build_object('text', 'Mensaje ' || g),
              'wamid.long' || g, case when g % 2 = 0 then 'read' else 'received' end, case when g % 2 = 0 then 3 else 0 end,
              case when g % 2 = 0 then 'accepted' end, t.at, t.at
         from seed s, generate_series(1, $3::int) g, lateral (select s.at - ($3 - g) * interval '1 second') t(at)
        where s.n = $4`,
      [organizationId, channelId, LONG_MESSAGES, CONVERSATIONS],
    );
    await db.query('analyze');
    return { conversations: CONVERSATIONS, messages: CONVERSATIONS - 1 + LONG_MESSAGES, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)) };
  } finally {
    await db.end();
  }
}

/** Stamps, in the page, when the first conversation appears and when each `live-<i>` preview does. */
const OBSERVER = `(() => {
  window.__bench = { firstItemAt: null, seen: {} };
  const look = () => {
    const b = window.__bench;
    if (b.firstItemAt === null && document.querySelector('a.item')) b.firstItemAt = performance.now();
    for (const el of document.querySelectorAll('.item .preview')) {
      const m = /^live-(\\d+)$/.exec(el.textContent || '');
      if (m && !(m[1] in b.seen)) b.seen[m[1]] = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(look).observe(document, { childList: true, subtree: true, characterData: true });
})();`;

/** When, from navigation start, the page had its script, the session check and the conversation list. */
const PHASES = `(() => {
  const resources = performance.getEntriesByType('resource');
  const end = (test) => Math.round(resources.find((e) => test(new URL(e.name).pathname))?.responseEnd ?? -1);
  return {
    scriptLoaded: end((p) => p.endsWith('.js')),
    domContentLoaded: Math.round(performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd),
    meAnswered: end((p) => p === '/v1/me'),
    listAnswered: end((p) => p === '/v1/conversations'),
    firstConversationShown: Math.round(window.__bench.firstItemAt),
  };
})()`;

/** From the click on the long conversation to its newest message on screen, measured in the page. */
async function openLong(page: Page): Promise<number> {
  return (await page.evaluate(`new Promise((resolve, reject) => {
    const link = [...document.querySelectorAll('a.item')].find((a) => a.textContent.includes(${JSON.stringify(LONG_NAME)}));
    if (!link) return reject(new Error('the long conversation is not in the list'));
    const target = ${JSON.stringify(`Mensaje ${LONG_MESSAGES}`)};
    const shown = () => [...document.querySelectorAll('[role="log"] .message-row')].some((r) => r.textContent.includes(target));
    const t0 = performance.now();
    const observer = new MutationObserver(() => {
      if (shown()) { observer.disconnect(); requestAnimationFrame(() => resolve(performance.now() - t0)); }
    });
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
    link.click();
    setTimeout(() => reject(new Error('the long conversation did not open within 30 s')), 30000);
  })`)) as number;
}

async function firstScreens(browser: Browser, api: string) {
  const runs = Number(values.runs);
  const firstRender: number[] = [];
  const listResponse: number[] = [];
  const opens: number[] = [];
  const phases: Record<string, number>[] = [];
  // The JavaScript of the first screens: the sign-in page, then the inbox once signed in.
  const scripts = new Map<string, Buffer>();
  {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('response', (r) => {
      if (r.request().resourceType() === 'script' && r.ok()) void r.body().then((b) => scripts.set(new URL(r.url()).pathname, b));
    });
    await page.goto(`${api}/console/login`);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('a.item').first().waitFor({ timeout: 30_000 });
    await page.waitForLoadState('networkidle').catch(() => undefined);
    await context.close();
  }
  for (let run = 0; run < runs; run++) {
    // A fresh context each run: nothing cached, as on a first visit.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const tokens = await login(api);
    await context.addInitScript(`sessionStorage.setItem('parley.session', ${JSON.stringify(JSON.stringify(tokens))});`);
    await context.addInitScript(OBSERVER);
    let listMs = 0;
    page.on('requestfinished', (r) => {
      if (new URL(r.url()).pathname === '/v1/conversations') listMs = r.timing().responseEnd;
    });
    await page.goto(`${api}/console/inbox`);
    await page.locator('a.item').first().waitFor({ timeout: 30_000 });
    firstRender.push((await page.evaluate('window.__bench.firstItemAt')) as number);
    listResponse.push(listMs);
    phases.push((await page.evaluate(PHASES)) as Record<string, number>);
    await page.getByText('Live', { exact: true }).waitFor();
    opens.push(await openLong(page));
    await context.close();
  }
  let raw = 0;
  let gzip = 0;
  let brotli = 0;
  for (const body of scripts.values()) {
    raw += body.length;
    gzip += gzipSync(body, { level: 9 }).length;
    brotli += brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }).length;
  }
  const kb = (n: number) => Number((n / 1024).toFixed(1));
  return {
    inboxFirstRender: {
      ...stats(firstRender),
      runsMs: firstRender.map(Math.round),
      conversationListResponseMs: stats(listResponse),
      // Milliseconds from navigation start, per run.
      phases,
    },
    openLongConversation: { messages: LONG_MESSAGES, ...stats(opens), runsMs: opens.map(Math.round) },
    firstScreenJavaScript: { files: [...scripts.keys()], rawKB: kb(raw), gzipKB: kb(gzip), brotliKB: kb(brotli) },
  };
}

/**
 * A second reader of the event stream, beside the browser's: when each `live-<i>` message's event
 * reaches a client, which splits the delay into the stream's part and the console's.
 */
function streamWatcher(api: string, token: string) {
  const arrived = new Map<number, number>();
  const abort = new AbortController();
  const done = (async () => {
    const res = await fetch(`${api}/v1/events/stream`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: abort.signal });
    const parser = createParser({
      onEvent: (m) => {
        if (!m.event?.startsWith('message.create')) return;
        const text = (JSON.parse(m.data) as { message?: { content?: { text?: string } } }).message?.content?.text ?? '';
        const match = /^live-(\d+)$/.exec(text);
        if (match && !arrived.has(Number(match[1]))) arrived.set(Number(match[1]), wallNow());
      },
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      parser.feed(value);
    }
  })().catch(() => undefined);
  return { arrived, stop: async () => (abort.abort(), await done) };
}

/** The API's own answer times for the calls behind (a) and (b), without a browser. */
async function apiTimings(api: string, token: string, db: pg.Client) {
  const [long] = (await db.query<{ id: string }>(`select cv.id from conversations cv join contacts ct on ct.id = cv.contact_id where ct.name = $1`, [LONG_NAME])).rows;
  const time = async (path: string) => {
    const xs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const res = await fetch(api + path, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      xs.push(performance.now() - t0);
    }
    return stats(xs);
  };
  return {
    'GET /v1/conversations?status=active&limit=100': await time('/v1/conversations?status=active&limit=100'),
    'GET /v1/conversations/:id/messages?limit=100 (the long one)': await time(`/v1/conversations/${long!.id}/messages?limit=100`),
    'GET /v1/me': await time('/v1/me'),
  };
}

async function liveDelay(browser: Browser, api: string, db: pg.Client) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const tokens = await login(api);
  await context.addInitScript(`sessionStorage.setItem('parley.session', ${JSON.stringify(JSON.stringify(tokens))});`);
  await context.addInitScript(OBSERVER);
  await page.goto(`${api}/console/inbox`);
  await page.locator('a.item').first().waitFor({ timeout: 30_000 });
  await page.getByText('Live', { exact: true }).waitFor();
  // The page's clock against this process's: the midpoint of a round trip.
  const offsets: number[] = [];
  for (let i = 0; i < 5; i++) {
    const before = wallNow();
    const theirs = (await page.evaluate('performance.timeOrigin + performance.now()')) as number;
    offsets.push(theirs - (before + wallNow()) / 2);
  }
  const offset = [...offsets].sort((a, b) => a - b)[2]!;
  const watcher = streamWatcher(api, tokens.accessToken);
  await sleep(500);

  const acks: number[] = [];
  const webhookMs: number[] = [];
  const metadata = { display_phone_number: '15550202', phone_number_id: PHONE_NUMBER_ID };
  for (let i = 0; i < LIVE; i++) {
    // Each from another contact, none of them in the first page the inbox loaded: every message
    // moves a conversation to the top of the list.
    const from = phoneOf(1 + ((i * 37) % (CONVERSATIONS - 200)));
    const message = { from, id: newWamid(from), timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: `live-${i}` } };
    const value = { messaging_product: 'whatsapp', metadata, contacts: [{ profile: { name: `Customer ${i}` }, wa_id: from }], messages: [message] };
    const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: WABA_ID, changes: [{ value, field: 'messages' }] }] });
    const sent = wallNow();
    const res = await fetch(`${api}/webhooks/meta`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(body) }, body });
    await res.arrayBuffer();
    acks[i] = wallNow();
    webhookMs.push(acks[i]! - sent);
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
    await sleep(Number(values.spacing));
  }
  const deadline = Date.now() + 15_000;
  let seen: Record<string, number> = {};
  while (Date.now() < deadline) {
    seen = (await page.evaluate('window.__bench.seen')) as Record<string, number>;
    if (Object.keys(seen).length >= LIVE) break;
    await sleep(200);
  }
  await watcher.stop();
  const delays: number[] = [];
  const toStream: number[] = [];
  const streamToScreen: number[] = [];
  for (let i = 0; i < LIVE; i++) {
    if (seen[i] !== undefined) delays.push(seen[i]! - offset - acks[i]!);
    const at = watcher.arrived.get(i);
    if (at !== undefined) toStream.push(at - acks[i]!);
    if (at !== undefined && seen[i] !== undefined) streamToScreen.push(seen[i]! - offset - at);
  }
  // Where the time goes: from the 200 to the message's event being committed (the worker's part),
  // and from there to the screen (the stream's poll, the conversation re-read, the render).
  const committed = await db.query<{ text: string; at: Date }>(
    `select m.content->>'text' as text, e.created_at as at from messages m
       join domain_events e on e.type like 'message.create%' and (e.data->'message'->>'id') = m.id::text
      where m.content->>'text' like 'live-%'`,
  );
  const toCommit: number[] = [];
  const commitToScreen: number[] = [];
  for (const row of committed.rows) {
    const i = Number(row.text.slice(5));
    toCommit.push(row.at.getTime() - acks[i]!);
    if (seen[i] !== undefined) commitToScreen.push(seen[i]! - offset - row.at.getTime());
  }
  await context.close();
  return {
    messages: LIVE,
    spacingMs: Number(values.spacing),
    shown: delays.length,
    webhookAnswer: stats(webhookMs),
    fromWebhook200ToScreen: stats(delays),
    // The event's created_at is the worker's clock at the insert, not its commit: a lower bound of the worker's part.
    from200ToEventWritten: stats(toCommit),
    fromEventWrittenToScreen: stats(commitToScreen),
    // A second stream reader in this process: the stream's part, then the console's (re-reading the conversation, rendering).
    from200ToStreamEvent: stats(toStream),
    fromStreamEventToScreen: stats(streamToScreen),
    pageClockOffsetMs: Number(offset.toFixed(2)),
  };
}

async function main() {
  await ensureConsoleBuilt({ quiet: true });
  const database = await benchDatabase('parley_bench_console');
  const temporal = await startTemporalDevServer();
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const sandbox = await startSandboxGraph({ port: 0, appId: secrets.META_APP_ID, appSecret: secrets.META_APP_SECRET, webhookUrl: `${api}/webhooks/meta` });
  const env = platformEnv({ port, databaseUrl: database.url, temporalAddress: temporal.address, graphUrl: sandbox.url });
  const children: ChildProcess[] = [];
  let browser: Browser | undefined;
  const db = new pg.Client({ connectionString: database.url });
  try {
    children.push(startProcess('apps/api/src/main.ts', 'api', env));
    await waitForPort(port, 60_000);
    children.push(startProcess('apps/worker/src/main.ts', 'worker', env));
    const org = await call(api, 'POST', '/v1/organizations', secrets.PLATFORM_ADMIN_TOKEN, { name: 'Bench Console', admin: { email: EMAIL, password: PASSWORD } });
    const { accessToken } = await login(api);
    const channel = await call(api, 'POST', '/v1/channels/whatsapp', accessToken, { code: 'bench', wabaId: WABA_ID, phoneNumberId: PHONE_NUMBER_ID, label: 'Bench' });
    const seeded = await seed(database.url, String(org.id), String(channel.id));
    await db.connect();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu'] });
    const report: Json = {
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, Chromium ${browser.version()}`,
      date: new Date().toISOString(),
      loadAverageBefore: os.loadavg().map((l) => Number(l.toFixed(2))),
      seeded,
    };
    Object.assign(report, await firstScreens(browser, api));
    report.apiAlone = await apiTimings(api, (await login(api)).accessToken, db);
    process.stderr.write(`${JSON.stringify(report, null, 2)}\n`);
    report.live = await liveDelay(browser, api, db);
    report.targets = {
      'inbox first render < 1000 ms (every run)': (report.inboxFirstRender as { maxMs: number }).maxMs < 1000,
      'live delay p99 < 1000 ms': (report.live as { fromWebhook200ToScreen: { p99Ms: number } }).fromWebhook200ToScreen.p99Ms < 1000,
      'first-screen JS < 300 KB gzip': (report.firstScreenJavaScript as { gzipKB: number }).gzipKB < 300,
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    await browser?.close();
    await db.end().catch(() => undefined);
    await stopProcesses(children);
    await sandbox.stop();
    await temporal.stop();
    await database.drop();
  }
}

await main();
