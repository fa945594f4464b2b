/**
 * Routing benchmark, in-process against a fresh PostgreSQL database (the runtime's cost is the
 * database work and the evaluation; no HTTP in between):
 *
 * 1. Added latency: contacts write at a steady pace; each message is stored as the inbound
 *    processor stores a first message (contact, conversation, message and their events in one
 *    transaction, whose trigger writes the routing row and notifies). The RoutingRunner, woken by
 *    LISTEN as in the worker, routes it to a queue with an auto-response (enqueue, placeholders,
 *    the message queued through the send path). Measured: from the commit of the stored message to
 *    the commit of its routing (p50, p99; target p99 under 50 ms).
 * 2. Decisions per second at 1,000 active trees: 10 organizations, each with a live version of
 *    100 decision trees, each behind a time condition on its own channel. (a) The runtime's plan
 *    with the dry run's tree walk and answer matching, over contacts spread across the 1,000
 *    trees; (b) the runner routing a backlog of new conversations spread across the 1,000 channels
 *    into their trees (the tree start itself is the tree runtime's and is left out).
 *
 *   npm run bench:routing [-- --pace 100 --seconds 20 --backlog 5000 --decisions 20000]
 *
 * With `--processes`, the added time is measured instead against the API and the worker as
 * separate processes, through the webhook and the real wake path (processes.ts):
 *
 *   npm run bench:routing -- --processes [--pace 50 --seconds 20]
 */
import { randomInt } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createLogger, newId, systemClock } from '@parley/core';
import {
  channelPlan,
  contactRef,
  conversationCreated,
  createVersion,
  dryRun,
  EventBatch,
  insertInboundMessage,
  liveDocument,
  messageCreated,
  planDestination,
  type RoutingDocument,
  RoutingDispatcher,
  RoutingRunner,
  ROUTING_INBOUND_WAKE_CHANNEL,
  type SqlRunner,
  sqlRunner,
  tenantSql,
  WakeListener,
} from '@parley/domain';
import { createOrm } from '@parley/db';
import { matchAnswer } from '../../packages/domain/src/routing/matching';
import { benchDatabase, percentile } from '../lib';

const { values } = parseArgs({
  options: {
    pace: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '20' },
    backlog: { type: 'string', default: '5000' },
    decisions: { type: 'string', default: '20000' },
    processes: { type: 'boolean', default: false },
  },
});
if (values.processes) {
  const { processBench } = await import('./processes');
  console.log(JSON.stringify(await processBench({ pace: Number(values.pace), seconds: Number(values.seconds) }), null, 2));
  process.exit(0);
}
const PACE = Number(values.pace);
const SECONDS = Number(values.seconds);
const BACKLOG = Number(values.backlog);
const DECISIONS = Number(values.decisions);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logger = createLogger({ level: 'warn' });

async function organization(sql: SqlRunner, name: string): Promise<string> {
  const id = newId();
  await sql.run(`insert into organizations (id, name, settings, created_at, updated_at) values (?, ?, '{"timeZone":"Europe/Madrid"}'::jsonb, now(), now())`, [id, name]);
  return id;
}

async function channel(sql: SqlRunner, organizationId: string): Promise<string> {
  const id = newId();
  await sql.run(
    `insert into channels (id, organization_id, label, waba_id, phone_number_id, display_phone_number, verified_name, business_token_ciphertext, created_at, updated_at)
     values (?, ?, 'Bench', ?, ?, '+1 555', 'Bench', 'x', now(), now())`,
    [id, organizationId, String(randomInt(1e9, 9e9)), `${randomInt(1e9, 9e9)}${randomInt(1e5, 9e5)}`],
  );
  return id;
}

/** What the inbound processor writes for a contact's first message, in one transaction. */
async function storeFirstMessage(sql: SqlRunner, organizationId: string, channelId: string, phone: string, text: string): Promise<string> {
  const now = new Date();
  const contactId = newId();
  await sql.run(`insert into contacts (id, organization_id, name, phone, last_inbound_at, created_at, updated_at) values (?, ?, 'Bench contact', ?, ?, ?, ?)`, [
    contactId,
    organizationId,
    phone,
    now,
    now,
    now,
  ]);
  const conversationId = newId();
  await sql.run(
    `insert into conversations (id, organization_id, contact_id, channel_id, status, unread_count, last_inbound_at, last_message_at, last_message_preview, created_at, updated_at)
     values (?, ?, ?, ?, 'active', 1, ?, ?, ?, ?, ?)`,
    [conversationId, organizationId, contactId, channelId, now, now, text, now, now],
  );
  const row = await insertInboundMessage(tenantSql(sql, organizationId), { conversationId, channelId, type: 'text', content: { text }, wamid: `wamid.${newId()}`, sentAt: now, now });
  const batch = new EventBatch();
  batch.add(organizationId, 'conversation.create', await conversationCreated(sql, organizationId, conversationId, now), now);
  batch.add(organizationId, 'message.create.contact.chat.contact', messageCreated(row!, contactRef({ id: contactId, name: 'Bench contact', phone })), now);
  await batch.flush(sql);
  return conversationId;
}

function treeDocument(channelIds: string[], index: number): RoutingDocument {
  const group = { id: newId(), name: 'Hours', weekly: { monday: [], tuesday: [], wednesday: [], thursday: [], friday: [], saturday: [], sunday: [] }, holidays: [], overrides: [], includes: [] } as RoutingDocument['timeGroups'][number];
  for (const day of Object.keys(group.weekly) as (keyof typeof group.weekly)[]) group.weekly[day] = [{ from: '00:00', to: '24:00' }];
  const queue = { id: newId(), name: `Sales ${index}`, priority: 0, agentIds: [], autoResponse: null };
  const doc: RoutingDocument = { queues: [queue], timeGroups: [group], timeConditions: [], decisionTrees: [], chatbots: [], terminates: [], channels: [] };
  channelIds.forEach((channelId, i) => {
    const treeId = newId();
    doc.decisionTrees.push({
      id: treeId,
      name: `Tree ${i}`,
      tree: {
        defaultLanguage: 'en',
        start: 'menu',
        decisions: [
          {
            id: 'menu',
            actions: [],
            next: {
              type: 'answer',
              question: 'How can we help?',
              choices: [
                { id: 'sales', title: 'Sales', similar: ['buy', 'price'], target: { kind: 'queue', id: queue.id } },
                { id: 'order', pattern: '^#?\\d{6}$', target: 'order' },
                { id: 'support', title: 'Support', similar: ['help', 'broken'], target: { kind: 'terminate' } },
              ],
              default: 'menu',
            },
          },
          { id: 'order', actions: [], next: { type: 'immediate', target: { kind: 'queue', id: queue.id } } },
        ],
      },
    } as RoutingDocument['decisionTrees'][number]);
    const conditionId = newId();
    doc.timeConditions.push({ id: conditionId, name: `Hours ${i}`, timeGroupId: group.id, whenOpen: { kind: 'decision_tree', id: treeId }, whenClosed: { kind: 'terminate' } });
    doc.channels.push({ channelId, first: { kind: 'time_condition', id: conditionId }, attachments: 'both' });
  });
  return doc;
}

const db = await benchDatabase('bench_routing');
const cores = os.cpus().length;
try {
  const sql = sqlRunner(db.orm.em.fork());

  // ---- 1. Added latency: stored message -> routed (queue + auto-response) ----
  const org = await organization(sql, 'Latency');
  const channelId = await channel(sql, org);
  const queueId = newId();
  await createVersion(
    sql,
    org,
    {
      queues: [{ id: queueId, name: 'Sales', priority: 0, agentIds: [], autoResponse: 'You are number {{queue.position}}; about {{queue.averageWaitMinutes}} min.' }],
      timeGroups: [],
      timeConditions: [],
      decisionTrees: [],
      chatbots: [],
      terminates: [],
      channels: [{ channelId, first: { kind: 'queue', id: queueId }, attachments: 'both' }],
    },
    { source: 'apply', createdBy: null },
    new Date(),
  );
  const storedAt = new Map<string, number>();
  const routedAt = new Map<string, number>();
  class TimedRunner extends RoutingRunner {
    protected override async claimAndRoute(conversationId: string | null) {
      const result = await super.claimAndRoute(conversationId);
      if (result.outcome === 'routed' && result.conversationId) routedAt.set(result.conversationId, performance.now());
      return result;
    }
  }
  // The worker's own pool, apart from the inbound side's, as in production (separate processes).
  const workerOrm = await createOrm({ url: db.url, poolMax: 5 });
  const inboundOrm = await createOrm({ url: db.url, poolMax: 10 });
  const runner = new TimedRunner(workerOrm, new RoutingDispatcher(systemClock, null), logger, { pollMs: 1000 });
  const wake = new WakeListener(db.url, { [ROUTING_INBOUND_WAKE_CHANNEL]: () => runner.kick() }, logger);
  runner.start();
  wake.start();
  await sleep(500);
  const total = PACE * SECONDS;
  const started = performance.now();
  const writes: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / PACE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    writes.push(
      inboundOrm.em
        .fork()
        .transactional((tx) => storeFirstMessage(sqlRunner(tx), org, channelId, `+1415${String(1_000_000 + i)}`, 'Hi'))
        .then((id) => {
          storedAt.set(id, performance.now());
        }),
    );
  }
  await Promise.all(writes);
  const deadline = performance.now() + 30_000;
  while (routedAt.size < total && performance.now() < deadline) await sleep(50);
  await wake.stop();
  await runner.stop();
  await inboundOrm.close(true);
  const added = [...storedAt].filter(([id]) => routedAt.has(id)).map(([id, at]) => Math.max(0, routedAt.get(id)! - at)).sort((a, b) => a - b);
  const [{ n: replies }] = (await sql.all<{ n: string }>(`select count(*) as n from messages where organization_id = ? and direction = 'outbound'`, [org])) as [{ n: string }];

  // ---- 2. Decisions per second at 1,000 active trees ----
  const orgs: { id: string; channels: string[] }[] = [];
  for (let o = 0; o < 10; o++) {
    const id = await organization(sql, `Trees ${o}`);
    const channels: string[] = [];
    for (let c = 0; c < 100; c++) channels.push(await channel(sql, id));
    await createVersion(sql, id, treeDocument(channels, o), { source: 'apply', createdBy: null }, new Date());
    orgs.push({ id, channels });
  }
  const answers = ['I want to buy', '#123456', 'broken phone', 'Sales', '2', 'hola?', 'pric', 'help me'];
  // (a0) The evaluation alone, on the documents in memory: the channel's plan, its time
  // condition in the organization's zone, and the tree's answer matching.
  const docs = [];
  for (const o of orgs) docs.push({ ...o, document: (await liveDocument(sql, o.id, new Date()))!.document });
  const pureStart = performance.now();
  const PURE = DECISIONS * 10;
  for (let i = 0; i < PURE; i++) {
    const o = docs[i % docs.length]!;
    const plan = channelPlan(o.document, o.channels[(i * 7) % o.channels.length]!, null)!;
    const { destination } = planDestination(o.document, plan.routing.first, new Date(), 'Europe/Madrid');
    const tree = o.document.decisionTrees.find((t) => t.id === destination.id)!;
    matchAnswer(tree.tree.decisions[0]!, answers[i % answers.length]!);
  }
  const pureSeconds = (performance.now() - pureStart) / 1000;
  const planStart = performance.now();
  for (let i = 0; i < DECISIONS; i++) {
    const o = orgs[i % orgs.length]!;
    await dryRun(sql, o.id, { channelId: o.channels[(i * 7) % o.channels.length]!, from: '+14155550100', text: answers[i % answers.length], type: 'text', against: 'live' }, new Date());
  }
  const planSeconds = (performance.now() - planStart) / 1000;

  const backlogIds: string[] = [];
  for (let i = 0; i < BACKLOG; i++) {
    const o = orgs[i % orgs.length]!;
    backlogIds.push(
      await db.orm.em.fork().transactional((tx) => storeFirstMessage(sqlRunner(tx), o.id, o.channels[Math.floor(i / orgs.length) % o.channels.length]!, `+1416${String(1_000_000 + i)}`, 'Hi')),
    );
  }
  let treesStarted = 0;
  const treeRunner = new RoutingRunner(
    workerOrm,
    new RoutingDispatcher(systemClock, {
      startDecisionTree: async () => {
        treesStarted++;
      },
      startChatbot: async () => undefined,
    }),
    logger,
  );
  const routeStart = performance.now();
  await treeRunner.settle();
  const routeSeconds = (performance.now() - routeStart) / 1000;
  await workerOrm.close(true);

  const figures = {
    cores,
    latency: {
      pace: PACE,
      messages: total,
      routed: added.length,
      autoResponsesQueued: Number(replies),
      addedMs: { p50: Number(percentile(added, 50).toFixed(1)), p99: Number(percentile(added, 99).toFixed(1)), max: Number((added[added.length - 1] ?? 0).toFixed(1)) },
    },
    decisions: {
      activeTrees: orgs.length * 100,
      evaluationPerSecond: Math.round(PURE / pureSeconds),
      dryRunWithDatabasePerSecond: Math.round(DECISIONS / planSeconds),
      backlog: BACKLOG,
      treesStarted,
      routedIntoTreesPerSecond: Math.round(BACKLOG / routeSeconds),
    },
  };
  console.log(JSON.stringify(figures, null, 2));
} finally {
  await db.drop();
}
