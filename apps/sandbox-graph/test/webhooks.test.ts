import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  buildInboundMessageWebhook,
  buildStatusWebhook,
  signWebhookBody,
  startSandboxGraph,
  verifyWebhookSignature,
  type SandboxGraph,
} from '../src/index';
import { APP_ID, APP_SECRET, call, exchangeCode, expectedSignature, startReceiver, templateMessage, textMessage, type Loose, type Receiver } from './helpers';

let sandbox: SandboxGraph;
let receiver: Receiver;
let token: string;
const PHONE = '109000000000001';
const WABA = '209000000000001';

beforeAll(async () => {
  receiver = await startReceiver();
  sandbox = await startSandboxGraph({
    port: 0,
    appId: APP_ID,
    appSecret: APP_SECRET,
    webhookUrl: receiver.url,
    webhookRetry: { attempts: 4, baseDelayMs: 10 },
  });
  sandbox.registerCode('hook-code', { wabaId: WABA, phoneNumberId: PHONE });
  token = await exchangeCode(sandbox, 'hook-code');
});
afterAll(async () => {
  await sandbox.stop();
  await receiver.close();
});
afterEach(async () => {
  await sandbox.waitForIdle();
  receiver.answer = () => 200;
  sandbox.setStatusDelays({ sent: 5, delivered: 10, read: 20 });
  sandbox.setWebhookUrl(receiver.url);
});

async function send(json: unknown): Promise<string> {
  const res = await call(sandbox, 'POST', `/${PHONE}/messages`, { token, json });
  expect(res.status).toBe(200);
  return res.body.messages[0].id as string;
}

function valueOf(r: { body: Loose }): Loose {
  return r.body.entry[0].changes[0].value;
}

describe('status webhooks', () => {
  it('posts sent, delivered and read in order, signed with the app secret, in Meta’s shape', async () => {
    const wamid = await send(templateMessage('+15551230001', 'promo_image', undefined, { biz_opaque_callback_data: 'broadcast-7:recipient-3' }));
    await receiver.waitFor(() => receiver.statuses(wamid).length === 3);
    const posts = receiver.received.filter((r) => valueOf(r).statuses?.[0]?.id === wamid);
    for (const post of posts) {
      expect(post.headers['x-hub-signature-256']).toBe(expectedSignature(post.raw));
      expect(post.headers['content-type']).toBe('application/json');
    }
    expect(posts.map((p) => valueOf(p).statuses[0].status)).toEqual(['sent', 'delivered', 'read']);
    const [sent, delivered, read] = posts.map((p) => p.body);
    expect(sent).toEqual({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: WABA,
          changes: [
            {
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: expect.stringMatching(/^1555\d{7}$/), phone_number_id: PHONE },
                statuses: [
                  {
                    id: wamid,
                    status: 'sent',
                    timestamp: expect.stringMatching(/^\d{10}$/),
                    recipient_id: '15551230001',
                    biz_opaque_callback_data: 'broadcast-7:recipient-3',
                    conversation: { id: expect.stringMatching(/^[0-9a-f]{32}$/), expiration_timestamp: expect.stringMatching(/^\d{10}$/), origin: { type: 'marketing' } },
                    pricing: { billable: true, pricing_model: 'PMP', category: 'marketing', type: 'regular' },
                  },
                ],
              },
              field: 'messages',
            },
          ],
        },
      ],
    });
    const d = delivered.entry[0].changes[0].value.statuses[0];
    expect(d.conversation).toEqual({ id: sent.entry[0].changes[0].value.statuses[0].conversation.id, origin: { type: 'marketing' } });
    const r = read.entry[0].changes[0].value.statuses[0];
    expect(Object.keys(r).sort()).toEqual(['biz_opaque_callback_data', 'id', 'recipient_id', 'status', 'timestamp']);
    expect(Number(sent.entry[0].changes[0].value.statuses[0].timestamp)).toBeLessThanOrEqual(Number(r.timestamp));
    await sandbox.waitForIdle();
    expect(sandbox.sends({ to: '15551230001' })[0]!.statuses.map((s) => [s.status, s.acknowledged])).toEqual([
      ['sent', true],
      ['delivered', true],
      ['read', true],
    ]);
  });

  it('prices free-form replies as free customer service', async () => {
    const wamid = await send(textMessage('15551230002'));
    await receiver.waitFor(() => receiver.statuses(wamid).length >= 1);
    expect(receiver.statuses(wamid)[0].pricing).toEqual({ billable: false, pricing_model: 'PMP', category: 'service', type: 'free_customer_service' });
    expect(receiver.statuses(wamid)[0]).not.toHaveProperty('biz_opaque_callback_data');
  });

  it('keeps each message’s statuses in order under load, over pooled connections', async () => {
    sandbox.setStatusDelays({ sent: 0, delivered: 0, read: 0 });
    const before = receiver.received.length;
    const wamids = await Promise.all(Array.from({ length: 150 }, (_, i) => send(textMessage(`1555200${String(i).padStart(4, '0')}`))));
    await sandbox.waitForIdle();
    const fresh = receiver.received.slice(before);
    expect(fresh).toHaveLength(450);
    for (const wamid of wamids) {
      expect(receiver.statuses(wamid).map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
    }
    // 450 posts over a keep-alive pool: far fewer sockets than posts.
    expect(new Set(fresh.map((r) => r.remotePort)).size).toBeLessThanOrEqual(64);
  });

  it('stops after delivered, or after sent, when later statuses are turned off', async () => {
    sandbox.setStatusDelays({ read: null });
    const a = await send(textMessage('15551230003'));
    sandbox.setStatusDelays({ delivered: null });
    const b = await send(textMessage('15551230004'));
    await sandbox.waitForIdle();
    await new Promise((r) => setTimeout(r, 50));
    expect(receiver.statuses(a).map((s) => s.status)).toEqual(['sent', 'delivered']);
    expect(receiver.statuses(b).map((s) => s.status)).toEqual(['sent']);
  });

  it('retries a webhook Parley answers 500 until it is acknowledged', async () => {
    sandbox.setStatusDelays({ delivered: null });
    const statsBefore = sandbox.webhookStats();
    let failures = 0;
    receiver.answer = () => (failures++ < 2 ? 500 : 200);
    const wamid = await send(textMessage('15551230005'));
    await sandbox.waitForIdle();
    const answers = receiver.received.filter((r) => valueOf(r).statuses?.[0]?.id === wamid).map((r) => r.answered);
    expect(answers).toEqual([500, 500, 200]);
    const stats = sandbox.webhookStats();
    expect(stats.attempted - statsBefore.attempted).toBe(3);
    expect(stats.retried - statsBefore.retried).toBe(2);
    expect(stats.rejected - statsBefore.rejected).toBe(2);
    expect(stats.acknowledged - statsBefore.acknowledged).toBe(1);
    expect(stats.failed - statsBefore.failed).toBe(0);
    expect(sandbox.webhooks().find((w) => w.wamid === wamid)).toMatchObject({ kind: 'status', status: 'sent', state: 'acknowledged', responses: [500, 500, 200] });
  });

  it('gives up after the last attempt when Parley is unreachable, and counts it', async () => {
    sandbox.setStatusDelays({ delivered: null });
    sandbox.setWebhookUrl('http://127.0.0.1:9/webhooks/meta');
    const before = sandbox.webhookStats();
    const wamid = await send(textMessage('15551230006'));
    await sandbox.waitForIdle();
    const stats = sandbox.webhookStats();
    expect(stats.attempted - before.attempted).toBe(4);
    expect(stats.errors - before.errors).toBe(4);
    expect(stats.failed - before.failed).toBe(1);
    expect(sandbox.webhooks().find((w) => w.wamid === wamid)).toMatchObject({ state: 'failed', responses: [0, 0, 0, 0], lastError: expect.any(String) });
    expect(sandbox.sends({ to: '15551230006' })[0]!.statuses).toEqual([{ status: 'sent', at: expect.any(Number), acknowledged: false }]);
  });

  it('drops webhooks while no URL is set', async () => {
    sandbox.setWebhookUrl(undefined);
    const before = sandbox.webhookStats().dropped;
    await send(textMessage('15551230007'));
    await sandbox.waitForIdle();
    expect(sandbox.webhookStats().dropped - before).toBe(3);
  });

  it('posts a chosen status for a known wamid (redeliveries, failures)', async () => {
    sandbox.setStatusDelays({ sent: null });
    const wamid = await send(templateMessage('15551230008', 'otp', undefined, { biz_opaque_callback_data: 'x' }));
    const result = await sandbox.simulateStatus({ wamid, status: 'failed', errors: [{ code: 131050 }] });
    expect(result).toMatchObject({ acknowledged: true, attempts: 1, lastStatus: 200 });
    const [status] = receiver.statuses(wamid);
    expect(status).toEqual({
      id: wamid,
      status: 'failed',
      timestamp: expect.any(String),
      recipient_id: '15551230008',
      biz_opaque_callback_data: 'x',
      errors: [
        {
          code: 131050,
          title: 'User has stopped marketing messages',
          message: 'User has stopped marketing messages',
          error_data: { details: expect.stringContaining('stop receiving marketing messages') },
          href: expect.any(String),
        },
      ],
    });
    const http = await fetch(`${sandbox.url}/_sandbox/status`, { method: 'POST', body: JSON.stringify({ wamid, status: 'delivered' }) }).then((r) => r.json() as Loose);
    expect(http.acknowledged).toBe(true);
    expect(receiver.statuses(wamid).map((s) => s.status)).toEqual(['failed', 'delivered']);
    expect(receiver.statuses(wamid)[1].pricing.category).toBe('authentication');
  });
});

describe('inbound messages', () => {
  it('posts a contact’s text message, signed, in Meta’s shape', async () => {
    const wamid = await sandbox.simulateInbound({ phoneNumberId: PHONE, from: '+31612345678', name: 'Anna', type: 'text', text: 'Hello there' });
    const post = receiver.received.find((r) => valueOf(r).messages?.[0]?.id === wamid)!;
    expect(post.headers['x-hub-signature-256']).toBe(expectedSignature(post.raw));
    expect(post.body).toEqual({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: WABA,
          changes: [
            {
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: expect.stringMatching(/^\d+$/), phone_number_id: PHONE },
                contacts: [{ profile: { name: 'Anna' }, wa_id: '31612345678' }],
                messages: [{ from: '31612345678', id: wamid, timestamp: expect.stringMatching(/^\d{10}$/), type: 'text', text: { body: 'Hello there' } }],
              },
              field: 'messages',
            },
          ],
        },
      ],
    });
    expect(wamid).toMatch(/^wamid\./);
  });

  it('registers inbound media so GET /{media-id} and the download work', async () => {
    const bytes = Buffer.from('a picture, honestly');
    const wamid = await sandbox.simulateInbound({ phoneNumberId: PHONE, from: '31612345678', type: 'image', caption: 'look', mimeType: 'image/jpeg', bytes });
    const message = valueOf(receiver.received.find((r) => valueOf(r).messages?.[0]?.id === wamid)!).messages[0];
    expect(message.image).toEqual({ caption: 'look', mime_type: 'image/jpeg', sha256: createHash('sha256').update(bytes).digest('base64'), id: expect.stringMatching(/^\d+$/) });
    const meta = await call(sandbox, 'GET', `/${message.image.id}`, { token });
    expect(meta.body).toMatchObject({ mime_type: 'image/jpeg', sha256: createHash('sha256').update(bytes).digest('hex'), file_size: bytes.length });
    const downloaded = await fetch(meta.body.url, { headers: { authorization: `Bearer ${token}` } });
    expect(Buffer.from(await downloaded.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('builds every message type Parley handles', async () => {
    const base = { phoneNumberId: PHONE, from: '15559990000' };
    const cases: [Parameters<SandboxGraph['simulateInbound']>[0], string, unknown][] = [
      [{ ...base, type: 'document', filename: 'invoice.pdf', caption: 'Invoice' }, 'document', { caption: 'Invoice', filename: 'invoice.pdf', mime_type: 'application/pdf', sha256: expect.any(String), id: expect.any(String) }],
      [{ ...base, type: 'audio' }, 'audio', { mime_type: 'audio/ogg; codecs=opus', sha256: expect.any(String), id: expect.any(String), voice: true }],
      [{ ...base, type: 'video', caption: 'clip' }, 'video', { caption: 'clip', mime_type: 'video/mp4', sha256: expect.any(String), id: expect.any(String) }],
      [{ ...base, type: 'sticker' }, 'sticker', { mime_type: 'image/webp', sha256: expect.any(String), id: expect.any(String), animated: false }],
      [{ ...base, type: 'location', location: { latitude: 52.37, longitude: 4.89, name: 'Dam', address: 'Amsterdam' } }, 'location', { latitude: 52.37, longitude: 4.89, name: 'Dam', address: 'Amsterdam' }],
      [{ ...base, type: 'interactive', buttonReply: { id: 'yes', title: 'Yes' } }, 'interactive', { type: 'button_reply', button_reply: { id: 'yes', title: 'Yes' } }],
      [{ ...base, type: 'interactive', listReply: { id: 'row-2', title: 'Tuesday', description: 'Afternoon' } }, 'interactive', { type: 'list_reply', list_reply: { id: 'row-2', title: 'Tuesday', description: 'Afternoon' } }],
      [{ ...base, type: 'button', button: { text: 'Stop promotions', payload: 'STOP' }, context: { from: '15550001111', id: 'wamid.prev' } }, 'button', { payload: 'STOP', text: 'Stop promotions' }],
      [{ ...base, type: 'reaction', reaction: { messageId: 'wamid.prev', emoji: '👍' } }, 'reaction', { message_id: 'wamid.prev', emoji: '👍' }],
      [
        { ...base, type: 'contacts', contacts: [{ name: { formatted_name: 'Bo Li', first_name: 'Bo' }, phones: [{ phone: '+1 555 000 1234', wa_id: '15550001234', type: 'CELL' }] }] },
        'contacts',
        [{ name: { formatted_name: 'Bo Li', first_name: 'Bo' }, phones: [{ phone: '+1 555 000 1234', wa_id: '15550001234', type: 'CELL' }] }],
      ],
    ];
    for (const [input, member, expected] of cases) {
      const wamid = await sandbox.simulateInbound(input);
      const message = valueOf(receiver.received.find((r) => valueOf(r).messages?.[0]?.id === wamid)!).messages[0];
      expect(message.type).toBe(input.type);
      expect(message[member]).toEqual(expected);
      if (input.type === 'button') expect(message.context).toEqual({ from: '15550001111', id: 'wamid.prev' });
      if (['document', 'audio', 'video', 'sticker'].includes(input.type)) {
        expect((await call(sandbox, 'GET', `/${message[member].id}`, { token })).body.mime_type).toBe(message[member].mime_type);
      }
    }
  });

  it('rejects when Parley never acknowledges, and returns at once when told not to wait', async () => {
    receiver.answer = () => 401;
    await expect(sandbox.simulateInbound({ phoneNumberId: PHONE, from: '15550000001', type: 'text', text: 'x' })).rejects.toThrow(/not acknowledged.*401/);
    const wamid = await sandbox.simulateInbound({ phoneNumberId: PHONE, from: '15550000001', type: 'text', text: 'y' }, { wait: false });
    expect(wamid).toMatch(/^wamid\./);
  });

  it('takes inbound messages over HTTP', async () => {
    const res = await fetch(`${sandbox.url}/_sandbox/inbound`, {
      method: 'POST',
      body: JSON.stringify({ phoneNumberId: PHONE, from: '15550000002', name: 'Http', type: 'text', text: 'via control' }),
    }).then((r) => r.json() as Loose);
    expect(res).toMatchObject({ wamid: expect.stringMatching(/^wamid\./), acknowledged: true });
    expect(valueOf(receiver.received.at(-1)!).messages[0].text.body).toBe('via control');
  });
});

describe('pure builders', () => {
  it('produce the same shapes, and signatures verify', () => {
    const status = buildStatusWebhook({ phoneNumberId: '1', wamid: 'wamid.X', status: 'delivered', recipientId: '+1 555 000', timestamp: 1700000000, category: 'utility' });
    expect(status.entry[0]!.changes[0]!.value.statuses![0]).toMatchObject({ id: 'wamid.X', status: 'delivered', timestamp: '1700000000', recipient_id: '1555000', pricing: { category: 'utility' } });
    expect(status.entry[0]!.id).toMatch(/^\d{15}$/);
    const batch = buildStatusWebhook({
      phoneNumberId: '1',
      wabaId: 'W',
      displayPhoneNumber: '15550001',
      statuses: [
        { wamid: 'a', status: 'read', recipientId: '1' },
        { wamid: 'b', status: 'failed', recipientId: '2' },
      ],
    });
    const statuses = batch.entry[0]!.changes[0]!.value.statuses!;
    expect(statuses.map((s) => s.status)).toEqual(['read', 'failed']);
    expect(statuses[1]!.errors![0]).toMatchObject({ code: 131026, title: 'Message undeliverable' });
    const inbound = buildInboundMessageWebhook({ phoneNumberId: '1', wabaId: 'W', from: '15550002', type: 'text', text: 'hi', wamid: 'wamid.in', timestamp: 1700000001 });
    expect(inbound.entry[0]!.changes[0]!.value.messages).toEqual([{ from: '15550002', id: 'wamid.in', timestamp: '1700000001', type: 'text', text: { body: 'hi' } }]);
    const raw = JSON.stringify(inbound);
    expect(signWebhookBody(raw, APP_SECRET)).toBe(expectedSignature(raw));
    expect(verifyWebhookSignature(raw, expectedSignature(raw), APP_SECRET)).toBe(true);
    expect(verifyWebhookSignature(`${raw} `, expectedSignature(raw), APP_SECRET)).toBe(false);
    expect(verifyWebhookSignature(raw, undefined, APP_SECRET)).toBe(false);
  });

  it('posts arbitrary payloads signed', async () => {
    const payload = buildInboundMessageWebhook({ phoneNumberId: 'unknown-to-parley', from: '15550003', type: 'text', text: 'fixture' });
    expect(await sandbox.deliverWebhook(payload)).toMatchObject({ acknowledged: true });
    const post = receiver.received.at(-1)!;
    expect(post.body).toEqual(payload);
    expect(post.headers['x-hub-signature-256']).toBe(expectedSignature(post.raw));
  });
});
