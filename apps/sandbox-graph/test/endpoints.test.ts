import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxGraph, type SandboxGraph } from '../src/index';
import { APP_ID, APP_SECRET, call, exchangeCode, expectMetaError, templateMessage, textMessage, type Loose } from './helpers';

let sandbox: SandboxGraph;
let token: string;

beforeAll(async () => {
  sandbox = await startSandboxGraph({ port: 0, appId: APP_ID, appSecret: APP_SECRET, statusDelaysMs: { sent: null } });
  token = await exchangeCode(sandbox);
});
afterAll(() => sandbox.stop());

describe('error envelope', () => {
  it('has exactly Meta’s keys', async () => {
    const res = await call(sandbox, 'GET', '/123', { token: 'nope' });
    const error = expectMetaError(res, 401, 190);
    expect(Object.keys(error).sort()).toEqual(['code', 'error_data', 'error_user_msg', 'error_user_title', 'fbtrace_id', 'message', 'type']);
    expect(error).toMatchObject({ type: 'OAuthException', error_data: { messaging_product: 'whatsapp', details: expect.any(String) } });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('www-authenticate')).toMatch(/invalid_token/);
  });
});

describe('oauth/access_token', () => {
  it('exchanges a code for a business token', async () => {
    const res = await call(sandbox, 'GET', `/oauth/access_token?client_id=${APP_ID}&client_secret=${APP_SECRET}&code=any-code`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ access_token: expect.stringMatching(/^sandbox-token-[0-9a-f]{40}$/), token_type: 'bearer' });
    expect(res.body.access_token).not.toBe(token);
  });

  it('rejects a wrong client id, a wrong secret and codes starting with "bad"', async () => {
    expectMetaError(await call(sandbox, 'GET', `/oauth/access_token?client_id=999&client_secret=${APP_SECRET}&code=c`), 400, 101);
    const secret = expectMetaError(await call(sandbox, 'GET', `/oauth/access_token?client_id=${APP_ID}&client_secret=wrong&code=c`), 400, 100);
    expect(secret.message).toBe('Error validating client secret.');
    const bad = expectMetaError(await call(sandbox, 'GET', `/oauth/access_token?client_id=${APP_ID}&client_secret=${APP_SECRET}&code=bad-code`), 400, 100);
    expect(bad.error_subcode).toBe(36008);
    expectMetaError(await call(sandbox, 'GET', `/oauth/access_token?client_id=${APP_ID}&client_secret=${APP_SECRET}`), 400, 100);
  });

  it('answers pre-registered codes with their token and links the number to the WABA', async () => {
    sandbox.registerCode('pre-code', { wabaId: '700000000000001', phoneNumberId: '800000000000001', accessToken: 'sandbox-fixed-token' });
    expect(await exchangeCode(sandbox, 'pre-code')).toBe('sandbox-fixed-token');
    expect(sandbox.getPhoneNumber('800000000000001')?.wabaId).toBe('700000000000001');
    expect((await call(sandbox, 'GET', '/800000000000001', { token: 'sandbox-fixed-token' })).status).toBe(200);
  });

  it('refuses a reused code when codes are single-use', async () => {
    const strict = await startSandboxGraph({ appId: APP_ID, appSecret: APP_SECRET, singleUseCodes: true });
    try {
      await exchangeCode(strict, 'once');
      const again = await call(strict, 'GET', `/oauth/access_token?client_id=${APP_ID}&client_secret=${APP_SECRET}&code=once`);
      expect(expectMetaError(again, 400, 100).error_subcode).toBe(36009);
    } finally {
      await strict.stop();
    }
  });
});

describe('access tokens', () => {
  it('requires a bearer token and rejects unknown and revoked ones', async () => {
    expectMetaError(await call(sandbox, 'GET', '/111'), 401, 104);
    expectMetaError(await call(sandbox, 'GET', '/111', { token: 'made-up' }), 401, 190);
    const revoked = await exchangeCode(sandbox, 'to-revoke');
    sandbox.revokeToken(revoked);
    expect(expectMetaError(await call(sandbox, 'GET', '/111', { token: revoked }), 401, 190).error_subcode).toBe(460);
  });

  it('accepts the token as access_token query parameter too', async () => {
    expect((await call(sandbox, 'GET', `/111?access_token=${token}`)).status).toBe(200);
  });

  it('keeps issued tokens valid across a restart with the same app secret', async () => {
    const next = await startSandboxGraph({ appId: APP_ID, appSecret: APP_SECRET });
    const other = await startSandboxGraph({ appId: APP_ID, appSecret: 'another-secret' });
    try {
      expect((await call(next, 'GET', '/111', { token })).status).toBe(200);
      expectMetaError(await call(other, 'GET', '/111', { token }), 401, 190);
    } finally {
      await next.stop();
      await other.stop();
    }
  });

  it('accepts any token when told to', async () => {
    const lax = await startSandboxGraph({ appSecret: APP_SECRET, acceptAnyToken: true });
    try {
      expect((await call(lax, 'GET', '/111', { token: 'whatever' })).status).toBe(200);
    } finally {
      await lax.stop();
    }
  });
});

describe('GET /{phone-number-id}', () => {
  it('answers the phone number node, created on first reference with a stable display number', async () => {
    const res = await call(sandbox, 'GET', '/106540352242922?fields=display_phone_number,verified_name,quality_rating,code_verification_status,platform_type,throughput', { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: '106540352242922',
      display_phone_number: expect.stringMatching(/^\+1 555-\d{3}-\d{4}$/),
      verified_name: expect.any(String),
      quality_rating: 'GREEN',
      code_verification_status: 'VERIFIED',
      platform_type: 'CLOUD_API',
      throughput: { level: 'STANDARD' },
    });
    const other = await startSandboxGraph({ appSecret: APP_SECRET, acceptAnyToken: true });
    try {
      expect((await call(other, 'GET', '/106540352242922', { token: 'x' })).body.display_phone_number).toBe(res.body.display_phone_number);
    } finally {
      await other.stop();
    }
  });

  it('returns only the requested fields and refuses unknown ones', async () => {
    expect((await call(sandbox, 'GET', '/106540352242922?fields=quality_rating,throughput{level}', { token })).body).toEqual({
      quality_rating: 'GREEN',
      throughput: { level: 'STANDARD' },
      id: '106540352242922',
    });
    const err = expectMetaError(await call(sandbox, 'GET', '/106540352242922?fields=favourite_colour', { token }), 400, 100);
    expect(err.message).toContain('nonexisting field (favourite_colour)');
  });

  it('uses numbers added up front', async () => {
    sandbox.addPhoneNumber({ id: 'p-custom', wabaId: 'w-custom', displayPhoneNumber: '+31 6 12345678', verifiedName: 'Acme', qualityRating: 'YELLOW' });
    const res = await call(sandbox, 'GET', '/p-custom', { token });
    expect(res.body).toMatchObject({ display_phone_number: '+31 6 12345678', verified_name: 'Acme', quality_rating: 'YELLOW' });
  });

  it('answers unknown ids with Meta’s unsupported-request error in strict mode', async () => {
    const strict = await startSandboxGraph({ appSecret: APP_SECRET, strict: true, tokens: ['t'] });
    try {
      const err = expectMetaError(await call(strict, 'GET', '/404404', { token: 't' }), 400, 100);
      expect(err.error_subcode).toBe(33);
      strict.addPhoneNumber({ id: '404404' });
      expect((await call(strict, 'GET', '/404404', { token: 't' })).status).toBe(200);
      expect(expectMetaError(await call(strict, 'GET', '/9999/message_templates', { token: 't' }), 400, 100).error_subcode).toBe(33);
    } finally {
      await strict.stop();
    }
  });
});

describe('embedded signup calls', () => {
  it('subscribes, lists and unsubscribes the app on a WABA', async () => {
    expect((await call(sandbox, 'POST', '/555000111/subscribed_apps', { token })).body).toEqual({ success: true });
    const list = await call(sandbox, 'GET', '/555000111/subscribed_apps', { token });
    expect(list.body).toEqual({ data: [{ whatsapp_business_api_data: { link: expect.any(String), name: expect.any(String), id: APP_ID } }] });
    expect((await call(sandbox, 'DELETE', '/555000111/subscribed_apps', { token })).body).toEqual({ success: true });
    expect((await call(sandbox, 'GET', '/555000111/subscribed_apps', { token })).body).toEqual({ data: [] });
  });

  it('registers a number with a 6-digit pin', async () => {
    const ok = await call(sandbox, 'POST', '/3210001/register', { token, json: { messaging_product: 'whatsapp', pin: '123456' } });
    expect(ok.body).toEqual({ success: true });
    expect(sandbox.getPhoneNumber('3210001')).toMatchObject({ registered: true, pin: '123456' });
    expectMetaError(await call(sandbox, 'POST', '/3210001/register', { token, json: { messaging_product: 'whatsapp', pin: '12345' } }), 400, 100);
    expectMetaError(await call(sandbox, 'POST', '/3210001/register', { token, json: { messaging_product: 'whatsapp', pin: '12a456' } }), 400, 100);
    expectMetaError(await call(sandbox, 'POST', '/3210001/register', { token, json: { pin: '123456' } }), 400, 100);
    expect((await call(sandbox, 'POST', '/3210001/deregister', { token, json: { messaging_product: 'whatsapp' } })).body).toEqual({ success: true });
  });

  it('links the number to the WABA the same token subscribed, whatever the order', async () => {
    const t = await exchangeCode(sandbox, 'link-flow');
    await call(sandbox, 'GET', '/4440001', { token: t });
    await call(sandbox, 'POST', '/4449999/subscribed_apps', { token: t });
    await call(sandbox, 'POST', '/4440001/register', { token: t, json: { messaging_product: 'whatsapp', pin: '000000' } });
    expect(sandbox.getPhoneNumber('4440001')?.wabaId).toBe('4449999');
    const numbers = await call(sandbox, 'GET', '/4449999/phone_numbers', { token: t });
    expect(numbers.body.data).toEqual([expect.objectContaining({ id: '4440001', platform_type: 'CLOUD_API' })]);
  });

  it('answers the WABA node', async () => {
    await call(sandbox, 'GET', '/4449999/subscribed_apps', { token });
    const res = await call(sandbox, 'GET', '/4449999?fields=name,currency', { token });
    expect(res.body).toEqual({ name: expect.any(String), currency: 'USD', id: '4449999' });
  });
});

describe('GET /{waba-id}/message_templates', () => {
  it('seeds five realistic templates in Meta’s component shapes', async () => {
    const res = await call(sandbox, 'GET', '/600000001/message_templates', { token });
    expect(res.status).toBe(200);
    const byName = Object.fromEntries(res.body.data.map((t: Loose) => [t.name, t]));
    expect(Object.keys(byName)).toEqual(['hello_world', 'order_update', 'promo_image', 'named_params', 'otp']);
    for (const t of res.body.data) {
      expect(Object.keys(t).sort()).toEqual(['category', 'components', 'id', 'language', 'name', 'parameter_format', 'status']);
      expect(t).toMatchObject({ status: 'APPROVED', language: 'en_US', id: expect.stringMatching(/^\d{16}$/) });
    }
    expect(byName.hello_world.components).toEqual([{ type: 'BODY', text: expect.any(String) }]);
    expect(byName.order_update.components).toEqual([
      { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}', example: { header_text: ['#4521'] } },
      { type: 'BODY', text: expect.stringMatching(/\{\{1\}\}.*\{\{2\}\}/), example: { body_text: [['Maria', 'out for delivery']] } },
      { type: 'FOOTER', text: expect.any(String) },
    ]);
    expect(byName.promo_image).toMatchObject({ category: 'MARKETING' });
    expect(byName.promo_image.components[0]).toEqual({ type: 'HEADER', format: 'IMAGE', example: { header_handle: [expect.stringMatching(/^https:\/\//)] } });
    expect(byName.promo_image.components[3].buttons[0]).toEqual({
      type: 'URL',
      text: 'Shop now',
      url: 'https://shop.example.com/promo/{{1}}',
      example: ['https://shop.example.com/promo/summer-sale'],
    });
    expect(byName.named_params.parameter_format).toBe('NAMED');
    expect(byName.named_params.components[1].text).toContain('{{first_name}}');
    expect(byName.named_params.components[1].example.body_text_named_params[0]).toEqual({ param_name: 'first_name', example: 'Pablo' });
    expect(byName.otp.category).toBe('AUTHENTICATION');
    expect(byName.otp.components[2].buttons[0]).toMatchObject({ type: 'URL', text: 'Copy code', url: expect.stringContaining('otp_type=COPY_CODE') });
    expect((await call(sandbox, 'GET', '/600000001/message_templates', { token })).body.data[0].id).toBe(byName.hello_world.id);
  });

  it('pages with cursors and full next/previous links', async () => {
    for (let i = 0; i < 25; i++) {
      sandbox.addTemplate('600000002', { name: `extra_${String(i).padStart(2, '0')}`, language: 'en_US', category: 'UTILITY', components: [{ type: 'BODY', text: `Extra ${i}` }] });
    }
    const names: string[] = [];
    let url: string | undefined = `${sandbox.graphUrl}/600000002/message_templates?limit=7&fields=name,status`;
    let pages = 0;
    let second: Loose;
    while (url) {
      const res: Response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      const page: Loose = await res.json();
      pages++;
      if (pages === 2) second = page;
      for (const t of page.data) {
        expect(Object.keys(t).sort()).toEqual(['id', 'name', 'status']);
        names.push(t.name);
      }
      expect(page.paging.cursors).toEqual({ before: expect.any(String), after: expect.any(String) });
      url = page.paging.next;
    }
    expect(pages).toBe(5);
    expect(names).toHaveLength(30);
    expect(new Set(names).size).toBe(30);
    expect(names.slice(0, 5)).toEqual(['hello_world', 'order_update', 'promo_image', 'named_params', 'otp']);
    const back = await fetch(second.paging.previous, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Loose);
    expect(back.data.map((t: Loose) => t.name)).toEqual(names.slice(0, 7));
    const after = await call(sandbox, 'GET', `/600000002/message_templates?limit=3&after=${second.paging.cursors.after}`, { token });
    expect(after.body.data.map((t: Loose) => t.name)).toEqual(names.slice(14, 17));
  });

  it('filters by name, status and category', async () => {
    const res = await call(sandbox, 'GET', '/600000003/message_templates?category=marketing', { token });
    expect(res.body.data.map((t: Loose) => t.name)).toEqual(['promo_image']);
    const named = await call(sandbox, 'GET', '/600000003/message_templates?name=otp', { token });
    expect(named.body.data.map((t: Loose) => t.name)).toEqual(['otp']);
    expect((await call(sandbox, 'GET', '/600000003/message_templates?status=REJECTED', { token })).body).toEqual({ data: [] });
  });

  it('adds, replaces and creates templates', async () => {
    const added = sandbox.addTemplate('600000004', { name: 'hello_world', language: 'en_US', category: 'MARKETING', components: [{ type: 'BODY', text: 'Replaced' }] });
    expect(sandbox.templates('600000004')).toHaveLength(5);
    expect(sandbox.templates('600000004')[0]).toEqual(added);
    const created = await call(sandbox, 'POST', '/600000004/message_templates', {
      token,
      json: { name: 'new_one', language: 'es', category: 'utility', components: [{ type: 'BODY', text: 'Hola {{1}}', example: { body_text: [['Ana']] } }] },
    });
    expect(created.body).toEqual({ id: expect.any(String), status: 'APPROVED', category: 'UTILITY' });
    const dup = await call(sandbox, 'POST', '/600000004/message_templates', { token, json: { name: 'new_one', language: 'es', category: 'UTILITY', components: [] } });
    expect(expectMetaError(dup, 400, 100).error_subcode).toBe(2388024);
    const list = await call(sandbox, 'GET', '/600000004/message_templates?language=es', { token });
    expect(list.body.data).toEqual([expect.objectContaining({ name: 'new_one', id: created.body.id })]);
  });
});

describe('POST /{phone-number-id}/messages', () => {
  it('accepts a text message in Meta’s answer shape and records it', async () => {
    const res = await call(sandbox, 'POST', '/106540352242922/messages', { token, json: textMessage('+31 6 1234 5678', 'hi', { biz_opaque_callback_data: 'r-1' }) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      messaging_product: 'whatsapp',
      contacts: [{ input: '+31 6 1234 5678', wa_id: '31612345678' }],
      messages: [{ id: expect.stringMatching(/^wamid\.[A-Za-z0-9+/=]+$/) }],
    });
    const [record] = sandbox.sends({ to: '31612345678' });
    expect(record).toMatchObject({
      wamid: res.body.messages[0].id,
      phoneNumberId: '106540352242922',
      to: '+31 6 1234 5678',
      waId: '31612345678',
      type: 'text',
      bizOpaqueCallbackData: 'r-1',
      category: 'service',
      at: expect.any(Number),
    });
    expect(record!.payload).toMatchObject({ text: { body: 'hi' } });
  });

  it('marks template sends accepted and gives every send its own wamid', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const res = await call(sandbox, 'POST', '/106540352242922/messages', { token, json: templateMessage('15550001111') });
      expect(res.body.messages[0].message_status).toBe('accepted');
      ids.add(res.body.messages[0].id);
    }
    expect(ids.size).toBe(50);
    expect(sandbox.sends({ to: '+15550001111' })[0]).toMatchObject({ template: { name: 'hello_world', language: 'en_US' }, category: 'utility' });
  });

  it('rejects malformed sends with Meta’s codes', async () => {
    const send = (json: unknown) => call(sandbox, 'POST', '/106540352242922/messages', { token, json });
    expectMetaError(await send({ to: '15550001111', type: 'text', text: { body: 'x' } }), 400, 100);
    expectMetaError(await send({ messaging_product: 'sms', to: '15550001111', type: 'text', text: { body: 'x' } }), 400, 100);
    expectMetaError(await send({ messaging_product: 'whatsapp', type: 'text', text: { body: 'x' } }), 400, 100);
    expectMetaError(await send(textMessage('call-me-maybe')), 400, 131009);
    expectMetaError(await send({ messaging_product: 'whatsapp', to: '15550001111', type: 'fax', fax: {} }), 400, 100);
    expectMetaError(await send(textMessage('15550001111', 'x'.repeat(4097))), 400, 100);
    expect((await send(textMessage('15550001111', 'x'.repeat(4096)))).status).toBe(200);
    expectMetaError(await send({ messaging_product: 'whatsapp', to: '15550001111', type: 'template', template: { name: 'hello_world' } }), 400, 100);
    expectMetaError(await send({ messaging_product: 'whatsapp', to: '15550001111', type: 'template', template: { language: { code: 'en_US' } } }), 400, 100);
    expectMetaError(await send({ messaging_product: 'whatsapp', to: '15550001111', type: 'image', image: {} }), 400, 100);
    expectMetaError(
      await send({ messaging_product: 'whatsapp', to: '15550001111', type: 'interactive', interactive: { type: 'button', body: { text: 'Pick' }, action: { buttons: [] } } }),
      400,
      131009,
    );
    expect(
      (
        await send({
          messaging_product: 'whatsapp',
          to: '15550001111',
          type: 'interactive',
          interactive: { type: 'button', body: { text: 'Pick' }, action: { buttons: [{ type: 'reply', reply: { id: 'a', title: 'A' } }] } },
        })
      ).status,
    ).toBe(200);
    const bad = await call(sandbox, 'POST', '/106540352242922/messages', { token, body: '{not json' });
    expectMetaError(bad, 400, 100);
  });

  it('answers the send list over HTTP, filtered by recipient', async () => {
    await call(sandbox, 'POST', '/106540352242922/messages', { token, json: textMessage('4915112345678') });
    const res = await fetch(`${sandbox.url}/_sandbox/sends?to=%2B4915112345678`).then((r) => r.json() as Loose);
    expect(res.data).toHaveLength(1);
    expect(res.data[0]).toMatchObject({ waId: '4915112345678', type: 'text' });
    const requests = await fetch(`${sandbox.url}/_sandbox/requests?operation=messages&limit=1`).then((r) => r.json() as Loose);
    expect(requests.data[0]).toMatchObject({ method: 'POST', operation: 'messages', status: 200, token, version: 'v23.0', body: { to: '4915112345678' } });
    expect(sandbox.requests({ operation: 'oauth' }).length).toBeGreaterThan(0);
  });
});

describe('logs', () => {
  it('keep only the newest entries up to their limits', async () => {
    const small = await startSandboxGraph({ appSecret: APP_SECRET, acceptAnyToken: true, logLimit: 10, requestLogLimit: 5, statusDelaysMs: { sent: null } });
    try {
      const wamids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const res = await call(small, 'POST', '/1/messages', { token: 't', json: textMessage(`1555000${String(i).padStart(4, '0')}`) });
        wamids.push(res.body.messages[0].id);
      }
      expect(small.sends().map((s) => s.wamid)).toEqual(wamids.slice(-10));
      expect(small.requests().map((r) => r.seq)).toEqual([26, 27, 28, 29, 30]);
      expect(small.stats().sends.accepted).toBe(30);
      await expect(small.simulateStatus({ wamid: wamids[0]!, status: 'read' })).rejects.toThrow(/unknown wamid/);
    } finally {
      await small.stop();
    }
  });
});

describe('media', () => {
  it('serves media metadata and bytes to bearer holders', async () => {
    const info = sandbox.addMedia({ bytes: Buffer.from('hello media'), mimeType: 'text/plain' });
    const meta = await call(sandbox, 'GET', `/${info.id}`, { token });
    expect(meta.body).toEqual({
      messaging_product: 'whatsapp',
      url: `${sandbox.url}/media-download/${info.id}`,
      mime_type: 'text/plain',
      sha256: createHash('sha256').update('hello media').digest('hex'),
      file_size: 11,
      id: info.id,
    });
    const bytes = await fetch(meta.body.url, { headers: { authorization: `Bearer ${token}` } });
    expect(bytes.status).toBe(200);
    expect(bytes.headers.get('content-type')).toBe('text/plain');
    expect(await bytes.text()).toBe('hello media');
    expect((await fetch(meta.body.url)).status).toBe(401);
    expect((await call(sandbox, 'GET', '/media-download/000', { token, version: null })).status).toBe(404);
    expect((await call(sandbox, 'DELETE', `/${info.id}`, { token })).body).toEqual({ success: true });
  });

  it('takes multipart uploads', async () => {
    const form = new FormData();
    form.append('messaging_product', 'whatsapp');
    form.append('type', 'image/png');
    form.append('file', new Blob([Buffer.from([1, 2, 3, 4])], { type: 'image/png' }), 'dot.png');
    const res = await call(sandbox, 'POST', '/106540352242922/media', { token, body: form });
    expect(res.body).toEqual({ id: expect.stringMatching(/^\d+$/) });
    const meta = await call(sandbox, 'GET', `/${res.body.id}`, { token });
    expect(meta.body).toMatchObject({ mime_type: 'image/png', file_size: 4 });
    const bytes = Buffer.from(await (await fetch(meta.body.url, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer());
    expect([...bytes]).toEqual([1, 2, 3, 4]);
    expect(sandbox.requests({ operation: 'media_upload' }).at(-1)?.body).toEqual({
      parts: expect.arrayContaining([{ name: 'file', filename: 'dot.png', contentType: 'image/png', size: 4 }]),
    });
  });
});

describe('paths', () => {
  it('accepts any version, a path prefix before it, and no version at all', async () => {
    expect((await call(sandbox, 'GET', '/111', { token, version: 'v19.0' })).status).toBe(200);
    expect((await call(sandbox, 'GET', '/111', { token, version: 'graph/v23.0' })).status).toBe(200);
    expect((await call(sandbox, 'GET', '/111', { token, version: null })).status).toBe(200);
  });

  it('answers unknown edges and methods like Graph does', async () => {
    expectMetaError(await call(sandbox, 'GET', '/111/nonsense', { token }), 400, 2500);
    expectMetaError(await call(sandbox, 'GET', '/111/messages', { token }), 400, 100);
    expect((await fetch(`${sandbox.url}/_sandbox/nope`)).status).toBe(404);
  });
});
