import { Readable } from 'node:stream';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GraphClient, GraphError, type SendMessagePayload, type Template } from '@parley/graph';
import { APP_ID, APP_SECRET, BASE, makeClient, PHONE_ID, TOKEN, VERSION, WABA_ID } from './helpers';

const graph = () => nock(BASE).matchHeader('authorization', `Bearer ${TOKEN}`);

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending, 'every mocked Graph call was made').toEqual([]);
});
afterAll(() => nock.enableNetConnect());

describe('GraphClient construction', () => {
  it('builds URLs from baseUrl and version, tolerating a trailing slash', async () => {
    const client = new GraphClient({ baseUrl: `${BASE}/`, version: VERSION, appId: APP_ID, appSecret: APP_SECRET });
    graph().post(`/${VERSION}/${WABA_ID}/subscribed_apps`).reply(200, { success: true });
    await expect(client.subscribeApp(TOKEN, WABA_ID)).resolves.toEqual({ success: true });
  });
});

describe('exchangeCode', () => {
  it('sends client_id, client_secret and code as query parameters and no Authorization header', async () => {
    let authorization: string | undefined;
    nock(BASE)
      .get(`/${VERSION}/oauth/access_token`)
      .query({ client_id: APP_ID, client_secret: APP_SECRET, code: 'signup-code-1' })
      .reply(function () {
        authorization = this.req.headers.authorization as string | undefined;
        return [200, { access_token: TOKEN, token_type: 'bearer' }];
      });
    await expect(makeClient().exchangeCode('signup-code-1')).resolves.toEqual({ accessToken: TOKEN, tokenType: 'bearer' });
    expect(authorization).toBeUndefined();
  });

  it('rejects an answer without access_token', async () => {
    nock(BASE).get(`/${VERSION}/oauth/access_token`).query(true).reply(200, { token_type: 'bearer' });
    await expect(makeClient().exchangeCode('c')).rejects.toMatchObject({ name: 'GraphError', type: 'InvalidResponse', classification: 'permanent' });
  });
});

describe('getPhoneNumber', () => {
  it('asks for the documented fields with the bearer token and maps them to camelCase', async () => {
    graph()
      .get(`/${VERSION}/${PHONE_ID}`)
      .query({ fields: 'display_phone_number,verified_name,quality_rating,code_verification_status,platform_type,throughput' })
      .reply(200, {
        display_phone_number: '+1 555-010-0123',
        verified_name: 'Parley Test',
        quality_rating: 'GREEN',
        code_verification_status: 'VERIFIED',
        platform_type: 'CLOUD_API',
        throughput: { level: 'STANDARD' },
        id: PHONE_ID,
      });
    await expect(makeClient().getPhoneNumber(TOKEN, PHONE_ID)).resolves.toEqual({
      id: PHONE_ID,
      displayPhoneNumber: '+1 555-010-0123',
      verifiedName: 'Parley Test',
      qualityRating: 'GREEN',
      codeVerificationStatus: 'VERIFIED',
      platformType: 'CLOUD_API',
      throughputLevel: 'STANDARD',
    });
  });

  it('leaves absent optional fields out', async () => {
    graph().get(`/${VERSION}/${PHONE_ID}`).query(true).reply(200, { id: PHONE_ID, display_phone_number: '15550100123', verified_name: 'X' });
    const number = await makeClient().getPhoneNumber(TOKEN, PHONE_ID);
    expect(number).toEqual({ id: PHONE_ID, displayPhoneNumber: '15550100123', verifiedName: 'X' });
    expect(Object.keys(number)).not.toContain('qualityRating');
  });

  it('encodes ids so they cannot reach another endpoint', async () => {
    graph().get(`/${VERSION}/..%2Fme%3Fx%3D1`).query(true).reply(200, { id: '1' });
    await makeClient().getPhoneNumber(TOKEN, '../me?x=1');
  });
});

describe('subscribeApp and registerNumber', () => {
  it('subscribeApp POSTs to /{wabaId}/subscribed_apps', async () => {
    graph().post(`/${VERSION}/${WABA_ID}/subscribed_apps`).reply(200, { success: true });
    await expect(makeClient().subscribeApp(TOKEN, WABA_ID)).resolves.toEqual({ success: true });
  });

  it('registerNumber POSTs messaging_product and pin as JSON', async () => {
    let body: unknown;
    let contentType: string | undefined;
    graph()
      .post(`/${VERSION}/${PHONE_ID}/register`)
      .reply(function (_uri, requestBody) {
        body = requestBody;
        contentType = this.req.headers['content-type'] as string;
        return [200, { success: true }];
      });
    await expect(makeClient().registerNumber(TOKEN, PHONE_ID, '123456')).resolves.toEqual({ success: true });
    expect(body).toEqual({ messaging_product: 'whatsapp', pin: '123456' });
    expect(contentType).toBe('application/json');
  });

  it('treats success: false as an invalid answer', async () => {
    graph().post(`/${VERSION}/${WABA_ID}/subscribed_apps`).reply(200, { success: false });
    await expect(makeClient().subscribeApp(TOKEN, WABA_ID)).rejects.toMatchObject({ type: 'InvalidResponse' });
  });
});

function template(n: number): Template {
  return {
    id: `tpl-${n}`,
    name: `template_${n}`,
    language: 'en_US',
    status: 'APPROVED',
    category: 'UTILITY',
    components: [
      { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}', example: { header_text: ['#1'] } },
      { type: 'BODY', text: 'Hi {{1}}, your order {{2}} shipped.', example: { body_text: [['Ana', '#1']] } },
      { type: 'FOOTER', text: 'Parley' },
      {
        type: 'BUTTONS',
        buttons: [
          { type: 'URL', text: 'Track', url: 'https://x.test/track/{{1}}', example: ['https://x.test/track/1'] },
          { type: 'PHONE_NUMBER', text: 'Call', phone_number: '+15550100123' },
          { type: 'QUICK_REPLY', text: 'Stop' },
        ],
      },
    ],
  };
}

describe('listTemplates', () => {
  it('asks for the template fields with a limit and returns data without a cursor on the last page', async () => {
    graph()
      .get(`/${VERSION}/${WABA_ID}/message_templates`)
      .query({ fields: 'name,language,status,category,components,id', limit: '100' })
      // Meta sends cursors on the last page too; only `next` means there is more.
      .reply(200, { data: [template(1)], paging: { cursors: { before: 'b1', after: 'a1' } } });
    const page = await makeClient().listTemplates(TOKEN, WABA_ID);
    expect(page).toEqual({ data: [template(1)] });
    expect('after' in page).toBe(false);
  });

  it('passes after and limit, and returns the next cursor when paging.next exists', async () => {
    graph()
      .get(`/${VERSION}/${WABA_ID}/message_templates`)
      .query({ fields: 'name,language,status,category,components,id', limit: '2', after: 'cur-1' })
      .reply(200, { data: [template(1), template(2)], paging: { cursors: { before: 'b', after: 'cur-2' }, next: `${BASE}/next` } });
    await expect(makeClient().listTemplates(TOKEN, WABA_ID, { after: 'cur-1', limit: 2 })).resolves.toEqual({
      data: [template(1), template(2)],
      after: 'cur-2',
    });
  });

  it('keeps fields the type does not know', async () => {
    const extra = { ...template(1), parameter_format: 'POSITIONAL', sub_category: 'ORDER_DETAILS', quality_score: { score: 'GREEN' } };
    extra.components.push({ type: 'CAROUSEL', cards: [{ components: [] }] });
    graph().get(`/${VERSION}/${WABA_ID}/message_templates`).query(true).reply(200, { data: [extra], paging: { cursors: {} } });
    const { data } = await makeClient().listTemplates(TOKEN, WABA_ID);
    expect(data[0]).toEqual(extra);
    expect(data[0]!.sub_category).toBe('ORDER_DETAILS');
  });

  it('listAllTemplates follows every page (3 pages)', async () => {
    const path = `/${VERSION}/${WABA_ID}/message_templates`;
    const fields = 'name,language,status,category,components,id';
    graph()
      .get(path)
      .query({ fields, limit: '100' })
      .reply(200, { data: [template(1), template(2)], paging: { cursors: { after: 'p2' }, next: `${BASE}${path}?after=p2` } });
    graph()
      .get(path)
      .query({ fields, limit: '100', after: 'p2' })
      .reply(200, { data: [template(3), template(4)], paging: { cursors: { before: 'p2b', after: 'p3' }, next: `${BASE}${path}?after=p3` } });
    graph()
      .get(path)
      .query({ fields, limit: '100', after: 'p3' })
      .reply(200, { data: [template(5)], paging: { cursors: { before: 'p3b', after: 'p4' } } });
    const all = await makeClient().listAllTemplates(TOKEN, WABA_ID);
    expect(all.map((t) => t.id)).toEqual(['tpl-1', 'tpl-2', 'tpl-3', 'tpl-4', 'tpl-5']);
  });

  it('listAllTemplates stops with an error when a cursor repeats instead of looping', async () => {
    const path = `/${VERSION}/${WABA_ID}/message_templates`;
    graph().get(path).query(true).times(3).reply(200, { data: [template(1)], paging: { cursors: { after: 'same' }, next: 'x' } });
    await expect(makeClient().listAllTemplates(TOKEN, WABA_ID)).rejects.toMatchObject({ type: 'InvalidResponse' });
    nock.cleanAll();
  });

  it('listAllTemplates surfaces a failure on a later page', async () => {
    const path = `/${VERSION}/${WABA_ID}/message_templates`;
    graph().get(path).query({ fields: 'name,language,status,category,components,id', limit: '100' }).reply(200, {
      data: [template(1)],
      paging: { cursors: { after: 'p2' }, next: 'x' },
    });
    graph().get(path).query((q) => q.after === 'p2').reply(500, { error: { message: 'Unknown error', code: 1 } });
    await expect(makeClient().listAllTemplates(TOKEN, WABA_ID)).rejects.toMatchObject({ status: 500, classification: 'retryable' });
  });
});

describe('sendMessage', () => {
  const sendCases: Array<[string, SendMessagePayload]> = [
    ['text', { to: '+50212345678', type: 'text', text: { body: 'Hello', preview_url: false } }],
    [
      'template',
      {
        to: '50212345678',
        type: 'template',
        biz_opaque_callback_data: 'broadcast:b1:recipient:r1',
        template: {
          name: 'order_shipped',
          language: { code: 'en_US' },
          components: [
            { type: 'header', parameters: [{ type: 'image', image: { link: 'https://cdn.test/a.png' } }] },
            { type: 'body', parameters: [{ type: 'text', text: 'Ana' }, { type: 'currency', currency: { fallback_value: '$10', code: 'USD', amount_1000: 10000 } }] },
            { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'ORDER-1' }] },
            { type: 'button', sub_type: 'quick_reply', index: 1, parameters: [{ type: 'payload', payload: 'STOP' }] },
          ],
        },
      },
    ],
    ['image by id', { to: '50212345678', type: 'image', image: { id: 'media-1', caption: 'Look' } }],
    ['document by link', { to: '50212345678', type: 'document', document: { link: 'https://cdn.test/a.pdf', filename: 'a.pdf', caption: 'Invoice' } }],
    ['audio', { to: '50212345678', type: 'audio', audio: { id: 'media-2' } }],
    ['video', { to: '50212345678', type: 'video', video: { link: 'https://cdn.test/v.mp4', caption: 'Clip' } }],
    ['sticker', { to: '50212345678', type: 'sticker', sticker: { id: 'media-3' } }],
    [
      'interactive buttons',
      {
        to: '50212345678',
        type: 'interactive',
        interactive: {
          type: 'button',
          header: { type: 'text', text: 'Choose' },
          body: { text: 'Pick one' },
          footer: { text: 'Parley' },
          action: { buttons: [{ type: 'reply', reply: { id: 'yes', title: 'Yes' } }, { type: 'reply', reply: { id: 'no', title: 'No' } }] },
        },
      },
    ],
    [
      'interactive list',
      {
        to: '50212345678',
        type: 'interactive',
        interactive: {
          type: 'list',
          body: { text: 'Pick a slot' },
          action: { button: 'Slots', sections: [{ title: 'Today', rows: [{ id: 's1', title: '10:00', description: 'Morning' }] }] },
        },
      },
    ],
    ['location', { to: '50212345678', type: 'location', location: { latitude: 14.6, longitude: -90.5, name: 'Office', address: 'Zona 10' } }],
    ['reaction', { to: '50212345678', type: 'reaction', reaction: { message_id: 'wamid.IN1', emoji: '👍' } }],
    ['reply with context', { to: '50212345678', type: 'text', text: { body: 'Re' }, context: { message_id: 'wamid.IN2' } }],
  ];

  it.each(sendCases)('sends %s with messaging_product and recipient_type added', async (_name, payload) => {
    let body: unknown;
    graph()
      .post(`/${VERSION}/${PHONE_ID}/messages`)
      .matchHeader('content-type', 'application/json')
      .reply(200, (_uri, requestBody) => {
        body = requestBody;
        return { messaging_product: 'whatsapp', contacts: [{ input: payload.to, wa_id: '50212345678' }], messages: [{ id: 'wamid.OUT1' }] };
      });
    const result = await makeClient().sendMessage(TOKEN, PHONE_ID, payload);
    expect(result).toEqual({ wamid: 'wamid.OUT1', contactWaId: '50212345678' });
    expect(body).toEqual({ messaging_product: 'whatsapp', recipient_type: 'individual', ...payload });
  });

  it('returns message_status for templates and tolerates a missing contacts array', async () => {
    graph().post(`/${VERSION}/${PHONE_ID}/messages`).reply(200, { messages: [{ id: 'wamid.T', message_status: 'accepted' }] });
    await expect(
      makeClient().sendMessage(TOKEN, PHONE_ID, { to: '1', type: 'template', template: { name: 'x', language: { code: 'en' } } }),
    ).resolves.toEqual({ wamid: 'wamid.T', messageStatus: 'accepted' });
  });

  it('rejects a 200 without a message id as a permanent InvalidResponse (a retry could send twice)', async () => {
    graph().post(`/${VERSION}/${PHONE_ID}/messages`).reply(200, { messages: [] });
    const error = await makeClient()
      .sendMessage(TOKEN, PHONE_ID, { to: '1', type: 'text', text: { body: 'x' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect(error).toMatchObject({ type: 'InvalidResponse', classification: 'permanent' });
  });

  it('rejects a 200 whose body is not JSON', async () => {
    graph().post(`/${VERSION}/${PHONE_ID}/messages`).reply(200, '<html>oops</html>', { 'content-type': 'text/html' });
    await expect(makeClient().sendMessage(TOKEN, PHONE_ID, { to: '1', type: 'text', text: { body: 'x' } })).rejects.toMatchObject({
      type: 'InvalidResponse',
      status: 200,
    });
  });

  it('refuses a malformed token before any request', async () => {
    await expect(makeClient().sendMessage('bad token\nx', PHONE_ID, { to: '1', type: 'text', text: { body: 'x' } })).rejects.toMatchObject({
      type: 'InvalidRequest',
      classification: 'permanent',
    });
    await expect(makeClient().sendMessage('', PHONE_ID, { to: '1', type: 'text', text: { body: 'x' } })).rejects.toMatchObject({
      type: 'InvalidRequest',
    });
  });
});

describe('media', () => {
  it('getMedia reads the media metadata', async () => {
    graph().get(`/${VERSION}/media-9`).reply(200, {
      messaging_product: 'whatsapp',
      url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=9&ext=1&hash=abc',
      mime_type: 'image/jpeg',
      sha256: 'deadbeef',
      file_size: '303833',
      id: 'media-9',
    });
    await expect(makeClient().getMedia(TOKEN, 'media-9')).resolves.toEqual({
      id: 'media-9',
      url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=9&ext=1&hash=abc',
      mimeType: 'image/jpeg',
      sha256: 'deadbeef',
      fileSize: 303833,
    });
  });

  it('downloadMedia fetches the CDN URL with the bearer token', async () => {
    const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    nock('https://lookaside.fbsbx.com')
      .matchHeader('authorization', `Bearer ${TOKEN}`)
      .get('/whatsapp_business/attachments/')
      .query({ mid: '9', hash: 'abc' })
      .reply(200, bytes, { 'content-type': 'image/jpeg' });
    const media = await makeClient().downloadMedia(TOKEN, 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=9&hash=abc');
    expect(media.contentType).toBe('image/jpeg');
    expect(Buffer.isBuffer(media.body)).toBe(true);
    expect(media.body.equals(bytes)).toBe(true);
  });

  it('downloadMedia accepts baseUrl’s origin (the sandbox) and configured origins', async () => {
    graph().get('/media/file-1').reply(200, 'abc');
    await expect(makeClient().downloadMedia(TOKEN, `${BASE}/media/file-1`)).resolves.toEqual({
      body: Buffer.from('abc'),
      contentType: 'application/octet-stream',
    });
    nock('http://127.0.0.1:4010').matchHeader('authorization', `Bearer ${TOKEN}`).get('/m').reply(200, 'x', { 'content-type': 'audio/ogg' });
    const client = makeClient({ mediaOrigins: ['http://127.0.0.1:4010'] });
    await expect(client.downloadMedia(TOKEN, 'http://127.0.0.1:4010/m')).resolves.toMatchObject({ contentType: 'audio/ogg' });
  });

  it('downloadMedia refuses to send the token to other hosts or over plain http to Meta', async () => {
    for (const url of ['https://evil.test/steal', 'https://evilfbsbx.com/x', 'http://lookaside.fbsbx.com/x', 'not a url']) {
      const error = await makeClient()
        .downloadMedia(TOKEN, url)
        .catch((e: unknown) => e);
      expect(error, url).toMatchObject({ name: 'GraphError', type: 'InvalidRequest', classification: 'permanent' });
    }
  });

  it('downloadMedia follows a redirect to an allowed host, and refuses one to any other host', async () => {
    graph().get('/media/moved').reply(302, '', { location: 'https://scontent.whatsapp.net/v/file.jpg' });
    nock('https://scontent.whatsapp.net')
      .matchHeader('authorization', `Bearer ${TOKEN}`)
      .get('/v/file.jpg')
      .reply(200, 'jpg', { 'content-type': 'image/jpeg' });
    await expect(makeClient().downloadMedia(TOKEN, `${BASE}/media/moved`)).resolves.toEqual({
      body: Buffer.from('jpg'),
      contentType: 'image/jpeg',
    });

    const stolen = nock('https://evil.test').get('/x').reply(200, 'x');
    graph().get('/media/hijacked').reply(302, '', { location: 'https://evil.test/x' });
    await expect(makeClient().downloadMedia(TOKEN, `${BASE}/media/hijacked`)).rejects.toMatchObject({ type: 'InvalidRequest' });
    expect(stolen.isDone()).toBe(false);
    nock.cleanAll();
  });

  it('downloadMedia gives up on a redirect loop', async () => {
    graph().get('/media/loop').times(4).reply(302, '', { location: `${BASE}/media/loop` });
    await expect(makeClient().downloadMedia(TOKEN, `${BASE}/media/loop`)).rejects.toMatchObject({ type: 'InvalidResponse' });
  });

  it('downloadMedia enforces the size limit from Content-Length', async () => {
    graph().get('/media/big').reply(200, Buffer.alloc(2048), { 'content-length': '2048' });
    await expect(makeClient().downloadMedia(TOKEN, `${BASE}/media/big`, { maxBytes: 1024 })).rejects.toMatchObject({
      type: 'MediaTooLarge',
      classification: 'permanent',
    });
  });

  it('downloadMedia enforces the size limit while streaming when no Content-Length is sent', async () => {
    graph()
      .get('/media/chunked')
      .reply(200, () => Readable.from(Array.from({ length: 8 }, (_, i) => Buffer.alloc(512, i))));
    await expect(makeClient({ maxMediaBytes: 1024 }).downloadMedia(TOKEN, `${BASE}/media/chunked`)).rejects.toMatchObject({
      type: 'MediaTooLarge',
    });
  });

  it('downloadMedia turns an expired URL into a GraphError with Meta’s code', async () => {
    graph().get('/media/expired').reply(404, { error: { message: 'URL signature expired', code: 100, type: 'OAuthException', fbtrace_id: 'T1' } });
    await expect(makeClient().downloadMedia(TOKEN, `${BASE}/media/expired`)).rejects.toMatchObject({
      status: 404,
      code: 100,
      fbtraceId: 'T1',
      classification: 'permanent',
    });
  });

  it('downloadMedia times out', async () => {
    graph().get('/media/slow').delay(500).reply(200, 'x');
    await expect(makeClient().downloadMedia(TOKEN, `${BASE}/media/slow`, { timeoutMs: 50 })).rejects.toMatchObject({
      type: 'TimeoutError',
      status: 0,
      classification: 'retryable',
    });
  });
});
