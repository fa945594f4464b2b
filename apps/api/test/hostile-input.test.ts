import { newId } from '@parley/core';
import { Template } from '@parley/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MAX_JSON_DEPTH } from '../src/http/input-guard';
import type { RouteDef } from '../src/http/route';
import { createTenant, startTestApi, uniqueEmail, PASSWORD, type TestApi, type Tenant } from '../../../test/support/api';
import { insertChannel } from '../../../test/support/channels';
import { countRows, expectProblem } from './helpers';
import { Receiver } from './webhook-support';

let api: TestApi;
let t: Tenant;
/** Real resources of `t`, so that nested list routes reach their cursor instead of a 404. */
let ids: Record<'channel' | 'conversation' | 'contact' | 'broadcast' | 'webhook', string>;
let receiver: Receiver;

beforeAll(async () => {
  api = await startTestApi({ env: { ALLOW_INSECURE_WEBHOOKS: 'true' } });
  t = await createTenant(api, { tags: ['hostile-input'] });
  receiver = await Receiver.start();
  const webhook = await api.call('POST', '/v1/webhooks', { token: t.adminToken, body: { url: receiver.url, events: ['message'] } });
  expect(webhook.status, webhook.text).toBe(201);
  const channel = await insertChannel(api, t.organizationId);
  const upsert = await api.call('POST', '/v1/conversations', {
    token: t.adminToken,
    body: { type: 'contact', contact: { profile: { name: 'Ana', telephone: '+14155550142' } } },
  });
  expect(upsert.status, upsert.text).toBe(201);
  await api.orm.em
    .fork()
    .persistAndFlush(new Template(t.organizationId, channel.id, '1', 'hello_world', 'en_US', 'APPROVED', 'UTILITY', 'POSITIONAL', [{ type: 'BODY', text: 'Hello' }]));
  const broadcast = await api.call('POST', '/v1/broadcasts', {
    token: t.adminToken,
    body: { template: { name: 'hello_world', language: 'en_US' }, users: [{ phone: '+14155550143' }, { phone: '+14155550144' }], hold: true },
  });
  expect(broadcast.status, broadcast.text).toBe(202);
  ids = { channel: channel.id, conversation: upsert.body.id, contact: upsert.body.contact.id, broadcast: broadcast.body.id, webhook: webhook.body.id };
});
afterAll(async () => {
  await api.close();
  await receiver.close();
});

const usersNamed = (name: string) => countRows(api, 'select count(*)::int as n from users where organization_id = ? and name = ?', [t.organizationId, name]);

describe('text PostgreSQL cannot store', () => {
  it('a NUL character anywhere in a body is a 400 naming its path, and nothing is written', async () => {
    const email = uniqueEmail('nul');
    const res = await api.call('POST', '/v1/users', {
      token: t.adminToken,
      body: { email, password: PASSWORD, name: 'Agent\u0000Smith', role: 'agent' },
    });
    expectProblem(res, 400, 'invalid_characters');
    expect(res.body.errors).toEqual([{ path: 'name', message: expect.any(String) }]);
    expect(await countRows(api, 'select count(*)::int as n from users where email = ?', [email])).toBe(0);
  });

  it('unpaired surrogates, deep in arrays and in field names, are each reported', async () => {
    // JSON escapes are the only way to carry a lone surrogate; JSON.stringify would pair or replace it.
    const raw = `{"type":"contact","contact":{"profile":{"name":"Ana \\ud800","telephone":"+14155550150"}},"messages":[{"type":"field","text":".plate \\udc00x"},{"type":"field","text":"fine"}],"x\\u0000y":1}`;
    const res = await api.call('POST', '/v1/conversations', { token: t.adminToken, raw, headers: { 'content-type': 'application/json' } });
    expectProblem(res, 400, 'invalid_characters');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['contact.profile.name', 'messages.0.text', 'x\ufffdy']);
    expect(await countRows(api, 'select count(*)::int as n from contacts where organization_id = ? and phone = ?', [t.organizationId, '+14155550150'])).toBe(0);
  });

  it('echoes at most 20 problems, each path cut short, whatever the body holds', async () => {
    const longName = 'k'.repeat(100_000);
    const body = { [longName]: Array.from({ length: 1000 }, () => ({ text: 'a\u0000' })) };
    const res = await api.call('POST', '/v1/users', { token: t.adminToken, body });
    expectProblem(res, 400, 'invalid_characters');
    expect(res.body.errors).toHaveLength(20);
    for (const e of res.body.errors as { path: string }[]) expect(e.path.length).toBeLessThanOrEqual(201);
    expect(res.text.length).toBeLessThan(10_000);
  });

  it('a surrogate pair (an emoji) is fine', async () => {
    const name = `Agent 😀 ${newId()}`;
    const res = await api.call('POST', '/v1/users', { token: t.adminToken, body: { email: uniqueEmail('emoji'), password: PASSWORD, name, role: 'agent' } });
    expect(res.status, res.text).toBe(201);
    expect(await usersNamed(name)).toBe(1);
  });

  it('NUL in a query value or a path parameter is a 400 too', async () => {
    const query = await api.call('GET', '/v1/conversations?status=active%00', { token: t.adminToken });
    expectProblem(query, 400, 'invalid_characters');
    expect(query.body.errors).toEqual([{ path: 'query.status', message: expect.any(String) }]);
    const param = await api.call('GET', `/v1/conversations/${ids.conversation}%00`, { token: t.adminToken });
    expectProblem(param, 400, 'invalid_characters');
    expect(param.body.errors).toEqual([{ path: 'params.id', message: expect.any(String) }]);
    const patched = await api.call('PATCH', `/v1/conversations/%00`, { token: t.adminToken, body: { status: 'resolved' } });
    expectProblem(patched, 400, 'invalid_characters');
  });

  it('an unauthenticated request is still told so first', async () => {
    const res = await api.call('POST', '/v1/users', { body: { name: '\u0000' } });
    expectProblem(res, 401, 'unauthorized');
  });
});

describe('nesting', () => {
  const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

  it('a megabyte of brackets is refused before anything recursive walks it, even with an Idempotency-Key', async () => {
    const n = 500_000;
    const raw = '['.repeat(n) + ']'.repeat(n);
    for (const path of ['/v1/users', '/v1/conversations']) {
      const res = await api.call('POST', path, {
        token: t.adminToken,
        raw,
        headers: { 'content-type': 'application/json', 'idempotency-key': `deep-${newId()}` },
      });
      expectProblem(res, 400, 'nesting_too_deep');
    }
    // The process is fine afterwards.
    expect((await api.call('GET', '/v1/users', { token: t.adminToken })).status).toBe(200);
  });

  it(`objects ${MAX_JSON_DEPTH} levels deep pass the guard; one more level does not`, async () => {
    const headers = { 'content-type': 'application/json' };
    // At the limit the body reaches the route's own validation (its schema has no field `a`).
    const atLimit = await api.call('POST', '/v1/users', { token: t.adminToken, raw: nested(MAX_JSON_DEPTH), headers });
    expectProblem(atLimit, 400, 'validation_error');
    const over = await api.call('POST', '/v1/users', { token: t.adminToken, raw: nested(MAX_JSON_DEPTH + 1), headers });
    expectProblem(over, 400, 'nesting_too_deep');
  });
});

describe('list cursors', () => {
  const b64 = (text: string) => Buffer.from(text).toString('base64url');
  const json = (value: unknown) => b64(JSON.stringify(value));
  const TAMPERED: Record<string, string> = {
    'not base64': '!!!***',
    'base64 of garbage': b64('garbage'),
    'JSON null': json(null),
    'JSON array': json([1, 2]),
    'no after': json({}),
    'after of 36 dashes': json({ after: '-'.repeat(36) }),
    'after of 36 hex digits without dashes': json({ after: 'a'.repeat(36) }),
    'after as a number': json({ after: 12345 }),
    'after as a huge number': json({ after: 1e308 }),
    'after as an object': json({ after: { $gt: '' } }),
    'after almost a uuid': json({ after: '0192f7c4-1a2b-7c3d-8e4f-5a6b7c8d9e0g' }),
    'a huge sequence number': b64('9'.repeat(40)),
    'a sequence number past bigint': b64('9223372036854775808'),
    'a negative sequence number': b64('-1'),
    'a hex sequence number': b64('0x10'),
    'a decimal sequence number': b64('1.5'),
    'too long': 'A'.repeat(513),
  };

  /** Every GET route whose query takes a `cursor`: read from the route table, so new lists join. */
  function listRoutes(routes: RouteDef[]): RouteDef[] {
    return routes.filter((r) => r.method === 'get' && r.query instanceof z.ZodObject && 'cursor' in r.query.shape);
  }

  function pathOf(r: RouteDef): string {
    return r.path.replace(/\/(\w+)\/:\w+/g, (_all, segment: string) => {
      const kind = { channels: 'channel', conversations: 'conversation', contacts: 'contact', broadcasts: 'broadcast', webhooks: 'webhook' }[segment] as keyof typeof ids | undefined;
      if (!kind) throw new Error(`No resource for :param after /${segment} in ${r.path}: add one to the fixture of hostile-input.test.ts.`);
      return `/${segment}/${ids[kind]}`;
    });
  }

  it('finds every list route', () => {
    expect(listRoutes(api.app.routes).map((r) => r.path)).toEqual(
      expect.arrayContaining([
        '/v1/users',
        '/v1/apps',
        '/v1/installations',
        '/v1/channels',
        '/v1/templates',
        '/v1/conversations',
        '/v1/conversations/:id/messages',
        '/v1/contacts/:id/consent',
        '/v1/broadcasts',
        '/v1/broadcasts/:id',
        '/v1/routing/versions',
        '/v1/queues/waiting',
      ]),
    );
  });

  it('answers every tampered cursor of every list route with a 400, never a 500', async () => {
    const failures: string[] = [];
    for (const r of listRoutes(api.app.routes)) {
      const path = pathOf(r);
      const token = r.auth === 'operator' ? api.config.platformAdminToken : t.adminToken;
      const first = await api.call('GET', path, { token });
      expect(first.status, `${path}: ${first.text}`).toBe(200);
      for (const [label, cursor] of Object.entries(TAMPERED)) {
        const res = await api.call('GET', `${path}?cursor=${encodeURIComponent(cursor)}`, { token });
        if (res.status !== 400 || res.body?.code !== 'validation_error') failures.push(`${path} with ${label}: ${res.status} ${res.text}`);
        else expect(res.body.errors).toEqual([expect.objectContaining({ path: 'query.cursor' })]);
      }
      const nul = await api.call('GET', `${path}?cursor=%00`, { token });
      expectProblem(nul, 400, 'invalid_characters');
      for (const repeated of ['cursor=a&cursor=b', 'limit=1&limit=2']) {
        expectProblem(await api.call('GET', `${path}?${repeated}`, { token }), 400, 'validation_error');
      }
    }
    expect(failures).toEqual([]);
  });

  it('a cursor the API handed out still pages', async () => {
    const page = await api.call('GET', `/v1/broadcasts/${ids.broadcast}?limit=1`, { token: t.adminToken });
    expect(page.body.statuses).toHaveLength(1);
    const next = await api.call('GET', `/v1/broadcasts/${ids.broadcast}?limit=1&cursor=${page.body.nextCursor}`, { token: t.adminToken });
    expect(next.status, next.text).toBe(200);
    expect(next.body.statuses).toHaveLength(1);
    expect(next.body.statuses[0].phone).not.toBe(page.body.statuses[0].phone);
  });
});
