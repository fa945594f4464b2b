import { randomBytes, randomInt } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../../test/support/api';
import { countRows } from './helpers';
import { newOrg, type Org, postSigned } from './messaging-support';

/**
 * Every real webhook body of ../shared/fixtures/meta-webhooks, replayed through the signed webhook
 * into an organization of its own. What each body must leave behind is derived from the body
 * itself, the way a user of the inbox or a partner would read it: each message kept once with its
 * content, statuses moving messages forward, unknown kinds kept as `unsupported`, Meta's notices on
 * the channel, and whatever cannot be applied set aside with a reason, never dropped in silence.
 * A redelivery of the same body creates nothing.
 */
const CORPUS = join(__dirname, '../../../../shared/fixtures/meta-webhooks');
const FILES = readdirSync(CORPUS).filter((f) => f.endsWith('.json')).sort();

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);
const arr = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** Types the inbox shows as themselves; anything else is kept as `unsupported` with its raw type. */
const KNOWN_TYPES = new Set(['text', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contacts', 'interactive', 'button', 'reaction', 'order']);
const STATUS_RANK: Record<string, number> = { sent: 1, delivered: 2, read: 3, played: 3, failed: 4 };

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

/**
 * The body as Meta would send it to this organization's number: its own phone number id and
 * WABA, message ids unique to this run (Parley deduplicates wamids across tenants, as Meta's are
 * unique), and the README's placeholders filled with concrete values.
 */
function substitute(body: Json, org: Org): Json {
  const suffix = randomBytes(6).toString('hex');
  const userPhone = `97250${randomInt(1_000_000, 9_999_999)}`;
  const ids = new Set<string>();
  for (const entry of arr(body.entry)) {
    for (const change of arr(entry.changes)) {
      const value = isObj(change.value) ? change.value : {};
      for (const m of [...arr(value.messages), ...arr(value.message_echoes), ...arr(value.statuses)]) if (typeof m.id === 'string') ids.add(m.id);
    }
  }
  const swap = (s: string): string => {
    if (ids.has(s) || s.startsWith('wamid.') || /^<[A-Z_]*MESSAGE_ID>$/.test(s)) return `${s}.${suffix}`;
    if (s === '<WHATSAPP_USER_PHONE_NUMBER>') return userPhone;
    if (s === '<BUSINESS_DISPLAY_PHONE_NUMBER>') return '15550001111';
    if (s === '<BUSINESS_PHONE_NUMBER_ID>') return org.channel.phoneNumberId;
    if (s === '<WHATSAPP_BUSINESS_ACCOUNT_ID>') return org.channel.wabaId;
    return s;
  };
  const walk = (v: unknown): unknown => (typeof v === 'string' ? swap(v) : Array.isArray(v) ? v.map(walk) : isObj(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)])) : v);
  const out = walk(body) as Json;
  for (const entry of arr(out.entry)) {
    entry.id = org.channel.wabaId;
    for (const change of arr(entry.changes)) {
      // Account and template notices carry no number: they are routed by the WABA alone.
      if (!isObj(change.value) || !(isObj(change.value.metadata) || 'messages' in change.value || 'message_echoes' in change.value || 'statuses' in change.value)) continue;
      change.value = { ...change.value, metadata: { display_phone_number: '15550001111', phone_number_id: org.channel.phoneNumberId } };
    }
  }
  return out;
}

interface Expectations {
  /** wamid -> what the stored message must be. */
  messages: Map<string, { direction: 'inbound' | 'outbound'; type: string; check: (content: Json) => void; silent?: boolean }>;
  /** Original wamid -> the revision it must show. */
  revisions: Map<string, 'edited' | 'deleted'>;
  /** wamid -> the rank (and error code) a status must have moved its message to. */
  statuses: Map<string, { rank: number; code?: number }>;
  /** Raw items that must be set aside, parked, with a reason. */
  parked: Json[];
  notices: { kind: string; code?: number }[];
  welcomes: number;
  /** Marketing preferences the person set in WhatsApp, to be found on their contact. */
  preferences: { waId: string; stop: boolean }[];
  /** Messages the test must create first: originals of edits and revokes, and the sends statuses report on. */
  seedInbound: { wamid: string; from: string }[];
  seedOutbound: string[];
}

function senderOf(m: Json, contacts: Json[]): string | null {
  if (typeof m.from === 'string') return m.from;
  if (typeof m.from_user_id === 'string') return m.from_user_id;
  const c = contacts[0];
  return c && (typeof c.wa_id === 'string' || typeof c.user_id === 'string') ? String(c.wa_id ?? c.user_id) : null;
}

function expectationsOf(body: Json): Expectations {
  const e: Expectations = { messages: new Map(), revisions: new Map(), statuses: new Map(), parked: [], notices: [], welcomes: 0, preferences: [], seedInbound: [], seedOutbound: [] };
  const inThisBody = new Set<string>();
  for (const entry of arr(body.entry)) for (const change of arr(entry.changes)) for (const m of arr(isObj(change.value) ? change.value.messages : [])) if (typeof m.id === 'string') inThisBody.add(m.id);
  for (const entry of arr(body.entry)) {
    for (const change of arr(entry.changes)) {
      const field = typeof change.field === 'string' ? change.field : 'messages';
      const value = isObj(change.value) ? change.value : {};
      const contacts = arr(value.contacts);
      for (const err of arr(value.errors)) e.notices.push({ kind: 'error', code: err.code as number });
      if (field === 'messages' || field === 'smb_message_echoes') {
        for (const [echo, list] of [[false, arr(value.messages)], [true, arr(value.message_echoes)]] as const) {
          for (const m of list) {
            const type = typeof m.type === 'string' ? m.type : isObj(m.location) ? 'location' : 'unsupported';
            const id = typeof m.id === 'string' ? m.id : null;
            const from = senderOf(m, contacts);
            if (type === 'request_welcome') {
              e.welcomes++;
              continue;
            }
            if (type === 'system' && id) {
              // A change of business-scoped id names the person by the id they had, not by `from`.
              e.messages.set(id, { direction: 'inbound', type: 'system', check: (c) => expect(c.system).toBeTruthy() });
              continue;
            }
            if (!id || (!from && !echo)) {
              e.parked.push(m);
              continue;
            }
            if (type === 'edit' || type === 'revoke') {
              const original = String((m[type] as Json).original_message_id);
              e.revisions.set(original, type === 'edit' ? 'edited' : 'deleted');
              if (!inThisBody.has(original)) {
                if (echo) e.seedOutbound.push(original);
                else e.seedInbound.push({ wamid: original, from: from! });
              }
              continue;
            }
            // A kind the inbox knows, sent without its body, has nothing to show but its kind.
            const stored = KNOWN_TYPES.has(type) && m[type] !== undefined && m[type] !== null ? type : 'unsupported';
            // The same wamid twice (a redelivery inside one body) is the first message, once.
            if (e.messages.has(id)) continue;
            e.messages.set(id, {
              direction: echo ? 'outbound' : 'inbound',
              type: stored,
              check: (c) => {
                if (stored === 'unsupported') expect(c.metaType).toBe(type);
                if (stored === 'text') expect(c.text).toBe((m.text as Json).body);
                if (['image', 'video', 'audio', 'document', 'sticker'].includes(type) && isObj(m[type]) && (m[type] as Json).id) {
                  expect((c.media as Json).id).toBe((m[type] as Json).id);
                }
                if (stored === 'interactive') expect(c.interactive).toBeTruthy();
                if (stored === 'order') expect(Array.isArray((c.order as Json).items ?? (c.order as Json).productItems)).toBe(true);
                if (isObj(m.referral)) expect(c.referral).toBeTruthy();
                if (isObj(m.context) && typeof (m.context as Json).id === 'string') expect((c.context as Json).messageId).toBe((m.context as Json).id);
              },
            });
          }
        }
        for (const s of arr(value.statuses)) {
          const id = String(s.id);
          if (!inThisBody.has(id)) e.seedOutbound.push(id);
          const code = arr(s.errors)[0]?.code;
          e.statuses.set(id, { rank: STATUS_RANK[String(s.status)] ?? 0, ...(typeof code === 'number' ? { code } : {}) });
        }
      } else if (field === 'history') {
        for (const chunk of arr(value.history)) {
          for (const thread of arr(chunk.threads)) {
            for (const m of arr(thread.messages)) {
              const fromContact = m.from === thread.id;
              e.messages.set(String(m.id), {
                direction: fromContact ? 'inbound' : 'outbound',
                type: String(m.type),
                check: (c) => expect(c.source).toBe('history'),
                // Imported history tells partners nothing: those events are long gone.
                silent: true,
              });
            }
          }
        }
      } else if (field === 'user_preferences') {
        for (const p of arr(value.user_preferences)) e.preferences.push({ waId: String(p.wa_id), stop: p.value === 'stop' });
      } else {
        e.notices.push({ kind: field === 'message_template_status_update' ? 'template_status' : field === 'account_update' ? 'account_update' : 'unhandled' });
      }
    }
  }
  return e;
}

async function seed(org: Org, e: Expectations): Promise<void> {
  const conn = api.orm.em.fork().getConnection();
  for (const original of e.seedInbound) {
    await postSigned(api, {
      object: 'whatsapp_business_account',
      entry: [{ id: org.channel.wabaId, changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: org.channel.phoneNumberId }, messages: [{ from: original.from, id: original.wamid, timestamp: '1697043000', type: 'text', text: { body: 'the original' } }] } }] }],
    });
  }
  await api.app.services.metaProcessor.settle();
  for (const id of e.seedOutbound) {
    const [contact] = await conn.execute<{ id: string }[]>(
      `insert into contacts (id, organization_id, phone, fields, opted_out, marketing_opted_out, created_at, updated_at) values (gen_random_uuid(), ?, ?, '{}', false, false, now(), now()) returning id`,
      [org.orgId, `+1555${randomInt(1_000_000, 9_999_999)}`],
    );
    const [conversation] = await conn.execute<{ id: string }[]>(
      `insert into conversations (id, organization_id, contact_id, channel_id, status, unread_count, created_at, updated_at) values (gen_random_uuid(), ?, ?, ?, 'active', 0, now(), now()) returning id`,
      [org.orgId, contact!.id, org.channel.id],
    );
    await conn.execute(
      `insert into messages (id, organization_id, conversation_id, channel_id, direction, role, ai, type, content, wamid, status, status_rank, send_state, send_attempts, status_updated_at, created_at)
       values (gen_random_uuid(), ?, ?, ?, 'outbound', 'agent', false, 'text', '{"text":"sent by the business"}', ?, 'queued', 0, 'accepted', 1, now(), now())`,
      [org.orgId, conversation!.id, org.channel.id, id],
    );
  }
}

async function footprint(orgId: string): Promise<Record<string, number>> {
  const tables = ['contacts', 'conversations', 'messages', 'domain_events', 'meta_inbound_failures', 'channel_notices', 'consent_events', 'message_status_events'];
  const counts: Record<string, number> = {};
  for (const t of tables) counts[t] = await countRows(api, `select count(*)::int as n from ${t} where organization_id = ?`, [orgId]);
  counts.revisions = await countRows(api, `select count(*)::int as n from messages where organization_id = ? and (edited_at is not null or revoked_at is not null)`, [orgId]);
  return counts;
}

describe('the real-traffic corpus, replayed through the signed webhook', () => {
  it('holds every body of the corpus', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(100);
  });

  it.each(FILES)('%s', async (file) => {
    const org = await newOrg(api);
    const body = substitute(JSON.parse(readFileSync(join(CORPUS, file), 'utf8')) as Json, org);
    const e = expectationsOf(body);
    await seed(org, e);
    const conn = api.orm.em.fork().getConnection();

    await postSigned(api, body);
    await api.app.services.metaProcessor.settle();

    for (const [wamid, want] of e.messages) {
      const rows = await conn.execute<{ id: string; direction: string; type: string; content: Json }[]>(
        'select id, direction, type, content from messages where organization_id = ? and wamid = ?',
        [org.orgId, wamid],
      );
      expect(rows, `${wamid} stored once`).toHaveLength(1);
      expect({ direction: rows[0]!.direction, type: rows[0]!.type }, wamid).toEqual({ direction: want.direction, type: want.type });
      want.check(rows[0]!.content);
      const event = want.direction === 'inbound' ? 'message.create.contact.chat.contact' : 'message.create.contact.chat.agent';
      expect(await countRows(api, `select count(*)::int as n from domain_events where organization_id = ? and type = ? and data->'message'->>'id' = ?`, [org.orgId, event, rows[0]!.id]), `${event} for ${wamid}`).toBe(want.silent ? 0 : 1);
    }
    for (const [wamid, kind] of e.revisions) {
      const [row] = await conn.execute<{ edited_at: Date | null; revoked_at: Date | null; content: Json }[]>('select edited_at, revoked_at, content from messages where organization_id = ? and wamid = ?', [org.orgId, wamid]);
      expect(row, `original ${wamid}`).toBeDefined();
      if (kind === 'edited') expect(row!.edited_at, `${wamid} edited`).not.toBeNull();
      else expect({ revoked: row!.revoked_at !== null, content: row!.content }).toEqual({ revoked: true, content: {} });
    }
    for (const [wamid, want] of e.statuses) {
      const [row] = await conn.execute<{ status_rank: number; error: { code: number } | null }[]>('select status_rank, error from messages where organization_id = ? and wamid = ?', [org.orgId, wamid]);
      expect(row?.status_rank, `status of ${wamid}`).toBe(want.rank);
      if (want.code !== undefined) expect(row!.error?.code).toBe(want.code);
    }
    const failures = await conn.execute<{ state: string; reason: string; item: Json }[]>('select state, reason, item from meta_inbound_failures where organization_id = ?', [org.orgId]);
    expect(failures.map((f) => f.item).sort(), 'items set aside').toEqual(e.parked.sort());
    for (const f of failures) expect({ state: f.state, hasReason: f.reason.length > 5 }).toEqual({ state: 'parked', hasReason: true });
    const notices = await conn.execute<{ kind: string; code: number | null }[]>('select kind, code from channel_notices where organization_id = ?', [org.orgId]);
    expect(notices.map((n) => `${n.kind}:${n.code ?? ''}`).sort(), 'channel notices').toEqual(e.notices.map((n) => `${n.kind}:${n.code ?? ''}`).sort());
    if (e.welcomes) expect(await countRows(api, 'select count(*)::int as n from conversations where organization_id = ?', [org.orgId])).toBeGreaterThanOrEqual(1);
    for (const p of e.preferences) {
      const [contact] = await conn.execute<{ marketing_opted_out: boolean }[]>('select marketing_opted_out from contacts where organization_id = ? and wa_id = ?', [org.orgId, p.waId]);
      expect(contact?.marketing_opted_out, `marketing preference of ${p.waId}`).toBe(p.stop);
    }

    // Meta redelivers what it believes lost: the same body again creates nothing.
    const before = await footprint(org.orgId);
    await postSigned(api, body);
    await api.app.services.metaProcessor.settle();
    expect(await footprint(org.orgId)).toEqual(before);
  });
});
