import { randomBytes } from 'node:crypto';
import { Message, UNSCOPED } from '@parley/db';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, installApp, PASSWORD, startTestApi, uniqueEmail, type TestApi, type Tenant } from '../../../test/support/api';
import { insertChannel, metaId } from '../../../test/support/channels';
import { inbound, MESSAGE_BODIES, type Route, sign } from '../../../test/fixtures/meta';
import { expectProblem, problemShape } from './helpers';

/**
 * Inbound media stays at Meta: GET .../media looks the media id up with the channel's business
 * token, then downloads the short-lived URL Meta gave, and answers the bytes. Meta is faked with
 * nock; its media URL is served from the Graph origin, one of the hosts the client may send the
 * token to.
 */

const GRAPH = 'https://graph.test';
const VERSION = 'v23.0';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ env: { META_GRAPH_URL: GRAPH, META_APP_ID: '987654321012345' } });
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => {
  nock.cleanAll();
});
afterAll(async () => {
  nock.enableNetConnect();
  await api.close();
});

interface Inbox {
  tenant: Tenant;
  token: string;
  route: Route;
}

async function inbox(options: { tags?: string[] } = {}): Promise<Inbox> {
  const tenant = await createTenant(api, options);
  const token = `EAAG${randomBytes(32).toString('hex')}`;
  const channel = await insertChannel(api, tenant.organizationId, { token });
  return { tenant, token, route: { wabaId: channel.wabaId, phoneNumberId: channel.phoneNumberId } };
}

/** Delivers one inbound message through the signed webhook; answers its conversation and message ids. */
async function receive(box: Inbox, body: Record<string, unknown>, from = '50212345678'): Promise<{ conversationId: string; messageId: string }> {
  const { payload, id } = inbound(box.route, from, body);
  const raw = JSON.stringify(payload);
  const res = await api.call('POST', '/webhooks/meta', {
    raw,
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(raw, api.config.meta.appSecret) },
  });
  expect(res.status).toBe(200);
  await api.app.services.metaProcessor.settle();
  const message = await api.orm.em.fork().findOneOrFail(Message, { wamid: id }, UNSCOPED);
  return { conversationId: message.conversation, messageId: message.id };
}

function image(mediaId: string, mimeType = 'image/jpeg') {
  return { type: 'image', image: { caption: 'My receipt', mime_type: mimeType, sha256: 'abc123=', id: mediaId } };
}

function mediaPath(conversationId: string, messageId: string): string {
  return `/v1/conversations/${conversationId}/messages/${messageId}/media`;
}

/** The raw bytes of an API answer (api.call decodes text). */
async function download(path: string, token: string): Promise<{ status: number; contentType: string | null; bytes: Buffer; text: string }> {
  const res = await fetch(api.url + path, { headers: { authorization: `Bearer ${token}` } });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, contentType: res.headers.get('content-type'), bytes, text: bytes.toString('latin1') };
}

interface FakeMedia {
  calls: string[];
  url: string;
}

/** Meta's two steps: GET /{media-id} for the URL, then the URL itself; both demand the business token. */
function fakeMedia(
  token: string,
  mediaId: string,
  file: { bytes: Buffer; contentType?: string; mimeType?: string },
  options: { url?: string } = {},
): FakeMedia {
  const calls: string[] = [];
  const hash = randomBytes(8).toString('hex');
  const url = options.url ?? `${GRAPH}/whatsapp_business/attachments/?mid=${mediaId}&ext=1767225600&hash=${hash}`;
  nock(GRAPH)
    .get(`/${VERSION}/${mediaId}`)
    .matchHeader('authorization', `Bearer ${token}`)
    .reply(() => {
      calls.push('lookup');
      return [
        200,
        {
          messaging_product: 'whatsapp',
          url,
          mime_type: file.mimeType ?? file.contentType ?? 'image/jpeg',
          sha256: 'abc123=',
          file_size: String(file.bytes.length),
          id: mediaId,
        },
      ];
    });
  if (!options.url) {
    nock(GRAPH)
      .get('/whatsapp_business/attachments/')
      .query({ mid: mediaId, ext: '1767225600', hash })
      .matchHeader('authorization', `Bearer ${token}`)
      .reply(() => {
        calls.push('download');
        return [200, file.bytes, file.contentType ? { 'content-type': file.contentType } : {}];
      });
  }
  return { calls, url };
}

async function agentOf(tenant: Tenant): Promise<string> {
  const email = uniqueEmail('agent');
  const created = await api.call('POST', '/v1/users', { token: tenant.adminToken, body: { email, password: PASSWORD, name: 'Agent', role: 'agent' } });
  expect(created.status).toBe(201);
  const login = await api.call('POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
  return login.body.accessToken;
}

describe('GET /v1/conversations/:id/messages/:messageId/media', () => {
  it('looks the media up with the business token, downloads it, and answers the bytes with their type', async () => {
    const box = await inbox();
    const mediaId = metaId();
    const { conversationId, messageId } = await receive(box, image(mediaId));
    // Every byte value, so any text decoding on the way would show.
    const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096)]);
    const meta = fakeMedia(box.token, mediaId, { bytes, contentType: 'image/jpeg' });

    const res = await download(mediaPath(conversationId, messageId), box.tenant.adminToken);
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('image/jpeg');
    expect(res.bytes.equals(bytes)).toBe(true);
    expect(meta.calls).toEqual(['lookup', 'download']);
    expect(nock.pendingMocks()).toEqual([]);

    // The message itself still says which media it carries, and the token is never shown.
    const listed = await api.call('GET', `/v1/conversations/${conversationId}/messages`, { token: box.tenant.adminToken });
    expect(listed.body.data[0]).toMatchObject({ id: messageId, type: 'image', content: { media: { id: mediaId, mimeType: 'image/jpeg' } } });
    expect(listed.text).not.toContain(box.token);
  });

  it('answers each kind of media with the type Meta serves, to agents and partners with conversations:read', async () => {
    const box = await inbox({ tags: ['general'] });
    const agent = await agentOf(box.tenant);
    const publisher = await createTenant(api, { tags: ['general'] });
    const partner = await installApp(api, publisher, box.tenant, { appScopes: ['conversations:read'], grant: ['conversations:read'] });
    const kinds = [
      { body: MESSAGE_BODIES.document!, key: 'document', type: 'application/pdf', token: agent },
      { body: MESSAGE_BODIES.audio!, key: 'audio', type: 'audio/ogg', token: partner.accessToken },
      { body: MESSAGE_BODIES.sticker!, key: 'sticker', type: 'image/webp', token: box.tenant.adminToken },
    ];
    for (const kind of kinds) {
      const mediaId = metaId();
      const inner = kind.body[kind.key] as Record<string, unknown>;
      const { conversationId, messageId } = await receive(box, { ...kind.body, [kind.key]: { ...inner, id: mediaId } }, '50233334444');
      const bytes = randomBytes(1024);
      fakeMedia(box.token, mediaId, { bytes, contentType: kind.type });
      const res = await download(mediaPath(conversationId, messageId), kind.token);
      expect(res.status).toBe(200);
      expect(res.contentType).toBe(kind.type);
      expect(res.bytes.equals(bytes)).toBe(true);
    }
  });

  it("answers 502 graph_error with Meta's code and message when the lookup fails", async () => {
    const box = await inbox();
    const mediaId = metaId();
    const { conversationId, messageId } = await receive(box, image(mediaId));
    nock(GRAPH)
      .get(`/${VERSION}/${mediaId}`)
      .matchHeader('authorization', `Bearer ${box.token}`)
      .reply(400, {
        error: {
          message: `Unsupported get request. Object with ID '${mediaId}' does not exist (token ${box.token})`,
          type: 'GraphMethodException',
          code: 100,
          error_subcode: 33,
          fbtrace_id: 'AxYz123',
        },
      });
    const res = await api.call('GET', mediaPath(conversationId, messageId), { token: box.tenant.adminToken });
    expectProblem(res, 502, 'graph_error');
    expect(res.body.meta).toMatchObject({ code: 100, subcode: 33, fbtraceId: 'AxYz123' });
    expect(res.body.meta.message).toContain(`Unsupported get request. Object with ID '${mediaId}' does not exist`);
    expect(res.text).not.toContain(box.token);
  });

  it('answers 502 graph_error when the download itself fails or Meta is unreachable', async () => {
    const box = await inbox();
    const mediaId = metaId();
    const { conversationId, messageId } = await receive(box, image(mediaId));
    // The lookup works, the (expired) URL answers 404.
    const lookupOnly = fakeMedia(box.token, mediaId, { bytes: Buffer.alloc(0) }, { url: `${GRAPH}/whatsapp_business/attachments/?mid=${mediaId}` });
    nock(GRAPH).get('/whatsapp_business/attachments/').query({ mid: mediaId }).reply(404, 'URL signature expired');
    const expired = await api.call('GET', mediaPath(conversationId, messageId), { token: box.tenant.adminToken });
    expectProblem(expired, 502, 'graph_error');
    expect(expired.body.meta.code).toBe(-1);
    expect(lookupOnly.calls).toEqual(['lookup']);
    expect(nock.pendingMocks()).toEqual([]);

    // No fake at all: nock refuses the connection.
    const down = await api.call('GET', mediaPath(conversationId, messageId), { token: box.tenant.adminToken });
    expectProblem(down, 502, 'graph_error');
    expect(down.body.meta.code).toBe(-1);
  });

  it('never sends the business token to a media URL outside Meta', async () => {
    const box = await inbox();
    const mediaId = metaId();
    const { conversationId, messageId } = await receive(box, image(mediaId));
    fakeMedia(box.token, mediaId, { bytes: Buffer.alloc(0) }, { url: 'https://collector.example/steal?mid=1' });
    const collector = nock('https://collector.example').get('/steal').query(true).reply(200, 'thanks');
    const res = await api.call('GET', mediaPath(conversationId, messageId), { token: box.tenant.adminToken });
    expectProblem(res, 502, 'graph_error');
    expect(collector.isDone()).toBe(false);
  });

  it('answers 404 for a message without media and for unknown or mismatched ids, asking Meta nothing', async () => {
    const box = await inbox();
    const text = await receive(box, MESSAGE_BODIES.text!);
    const location = await receive(box, MESSAGE_BODIES.location!);
    const other = await receive(box, image(metaId()), '50299990000');
    expect(other.conversationId).not.toBe(text.conversationId);
    const missing = '00000000-0000-7000-8000-000000000000';
    const token = box.tenant.adminToken;
    const paths = [
      mediaPath(text.conversationId, text.messageId),
      mediaPath(location.conversationId, location.messageId),
      mediaPath(text.conversationId, missing),
      mediaPath(text.conversationId, 'not-an-id'),
      mediaPath(missing, other.messageId),
      // A real message with media, asked for under another conversation.
      mediaPath(text.conversationId, other.messageId),
    ];
    for (const path of paths) expectProblem(await api.call('GET', path, { token }), 404, 'not_found');
  });

  it("answers another tenant 404, exactly as for media that does not exist", async () => {
    const a = await inbox();
    const b = await inbox();
    const mediaId = metaId();
    const theirs = await receive(a, image(mediaId));
    const own = await receive(b, image(metaId()));
    const lookup = nock(GRAPH).get(`/${VERSION}/${mediaId}`).reply(200, { url: `${GRAPH}/x`, mime_type: 'image/jpeg', id: mediaId });
    const missing = '00000000-0000-7000-8000-000000000000';
    const token = b.tenant.adminToken;

    const foreign = await api.call('GET', mediaPath(theirs.conversationId, theirs.messageId), { token });
    expectProblem(foreign, 404, 'not_found');
    expect(problemShape(foreign)).toEqual(problemShape(await api.call('GET', mediaPath(missing, theirs.messageId), { token })));
    // B's own conversation with A's message in it.
    const mixed = await api.call('GET', mediaPath(own.conversationId, theirs.messageId), { token });
    expectProblem(mixed, 404, 'not_found');
    expect(problemShape(mixed)).toEqual(problemShape(await api.call('GET', mediaPath(own.conversationId, missing), { token })));
    expect(lookup.isDone()).toBe(false);
  });

  it('answers 403 to a partner without conversations:read, and 401 without a token', async () => {
    const box = await inbox({ tags: ['general'] });
    const { conversationId, messageId } = await receive(box, image(metaId()));
    const publisher = await createTenant(api, { tags: ['general'] });
    const partner = await installApp(api, publisher, box.tenant, { appScopes: ['messages:write', 'templates:read'], grant: ['messages:write'] });
    expectProblem(await api.call('GET', mediaPath(conversationId, messageId), { token: partner.accessToken }), 403, 'forbidden');
    expectProblem(await api.call('GET', mediaPath(conversationId, messageId)), 401, 'unauthorized');
  });
});
