import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook, WebhookVerificationError, WebhookVerifier } from '../src/index.js';

const secret = () => `whsec_${randomBytes(24).toString('base64')}`;
const body = JSON.stringify({ id: 'evt_1', type: 'message.update', createdAt: '2026-11-29T19:00:00.000Z', organizationId: 'org_1', sequence: 3, data: { text: 'olá 👋', n: 1.5 } });

function signed(sec: string, payload = body, at = new Date()) {
  const id = `msg_${randomBytes(6).toString('hex')}`;
  const signature = new Webhook(sec).sign(id, at, payload);
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature };
}

async function failure(p: Promise<unknown>): Promise<WebhookVerificationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WebhookVerificationError);
  return err as WebhookVerificationError;
}

describe('webhook verification', () => {
  it('accepts what the standardwebhooks library signs, as a string, bytes or Headers', async () => {
    const sec = secret();
    const headers = signed(sec);
    expect(await verifyWebhook(sec, body, headers)).toMatchObject({ id: 'evt_1', type: 'message.update', sequence: 3 });
    expect((await verifyWebhook(sec, new TextEncoder().encode(body), new Headers(headers))).data).toEqual({ text: 'olá 👋', n: 1.5 });
    expect((await verifyWebhook(sec, Buffer.from(body), headers)).id).toBe('evt_1');
  });

  it('signs what the standardwebhooks library verifies', async () => {
    const sec = secret();
    const ts = Math.floor(Date.now() / 1000);
    const signature = await signWebhook(sec, 'msg_x', ts, body);
    expect(signature).toBe(new Webhook(sec).sign('msg_x', new Date(ts * 1000), body));
    expect(new Webhook(sec).verify(body, { 'webhook-id': 'msg_x', 'webhook-timestamp': String(ts), 'webhook-signature': signature })).toMatchObject({ id: 'evt_1' });
  });

  it('passes when any of several space-separated signatures matches (the 24 h after a rotation)', async () => {
    const [oldSecret, newSecret] = [secret(), secret()];
    const at = new Date();
    const h = signed(oldSecret, body, at);
    const second = new Webhook(newSecret).sign(h['webhook-id'], at, body);
    const both = { ...h, 'webhook-signature': `${h['webhook-signature']} ${second}` };
    expect((await verifyWebhook(oldSecret, body, both)).id).toBe('evt_1');
    expect((await verifyWebhook(newSecret, body, both)).id).toBe('evt_1');
    // A receiver may hold both secrets itself while it switches.
    expect((await verifyWebhook([secret(), newSecret], body, { ...h, 'webhook-signature': second })).id).toBe('evt_1');
    expect((await failure(verifyWebhook(secret(), body, both))).reason).toBe('signature_mismatch');
  });

  it('names the missing headers', async () => {
    const sec = secret();
    const { 'webhook-signature': _s, 'webhook-timestamp': _t, ...onlyId } = signed(sec);
    const err = await failure(verifyWebhook(sec, body, onlyId));
    expect(err.reason).toBe('missing_headers');
    expect(err.message).toContain('webhook-timestamp, webhook-signature');
  });

  it('refuses a timestamp outside the tolerance, in either direction, and says so', async () => {
    const sec = secret();
    const now = Date.parse('2026-11-29T19:00:00Z');
    const verifier = new WebhookVerifier(sec, { now: () => now });
    const old = await failure(verifier.verify(body, signed(sec, body, new Date(now - 301_000))));
    expect(old.reason).toBe('timestamp_out_of_tolerance');
    expect(old.message).toMatch(/301 s in the past/);
    expect((await failure(verifier.verify(body, signed(sec, body, new Date(now + 400_000))))).message).toMatch(/in the future/);
    expect((await verifier.verify(body, signed(sec, body, new Date(now - 299_000)))).id).toBe('evt_1');
    const lenient = new WebhookVerifier(sec, { now: () => now, toleranceSeconds: 3600 });
    expect((await lenient.verify(body, signed(sec, body, new Date(now - 1800_000)))).id).toBe('evt_1');
    const bad = await failure(verifier.verify(body, { ...signed(sec), 'webhook-timestamp': 'yesterday' }));
    expect(bad.reason).toBe('invalid_timestamp');
  });

  it('a wrong secret is a signature mismatch; an altered body too', async () => {
    const h = signed(secret());
    const err = await failure(verifyWebhook(secret(), body, h));
    expect(err.reason).toBe('signature_mismatch');
    expect(err.message).toMatch(/whsec_ secret/);
    const sec = secret();
    expect((await failure(verifyWebhook(sec, body.replace('evt_1', 'evt_2'), signed(sec)))).reason).toBe('signature_mismatch');
  });

  it('recognises a re-serialised body and a parsed object', async () => {
    const sec = secret();
    const h = signed(sec);
    const pretty = await failure(verifyWebhook(sec, JSON.stringify(JSON.parse(body), null, 2), h));
    expect(pretty.reason).toBe('body_reserialized');
    expect(pretty.message).toMatch(/parsed and serialised again/);
    const parsed = await failure(verifyWebhook(sec, JSON.parse(body) as never, h));
    expect(parsed.reason).toBe('body_not_raw');
    expect(parsed.message).toMatch(/raw request body/);
  });

  it('rejects malformed signatures without throwing anything else', async () => {
    const sec = secret();
    const h = signed(sec);
    for (const sig of ['v1,!!!not-base64', 'v2,abc', '', 'v1,']) {
      const err = await failure(verifyWebhook(sec, body, { ...h, 'webhook-signature': sig }));
      expect(['signature_mismatch', 'missing_headers']).toContain(err.reason);
    }
    // An unknown version next to a good v1 is skipped, as Standard Webhooks says.
    expect((await verifyWebhook(sec, body, { ...h, 'webhook-signature': `v1a,xyz ${h['webhook-signature']}` })).id).toBe('evt_1');
  });

  it('runs on Web Crypto alone', async () => {
    expect(globalThis.crypto.subtle).toBeDefined();
    const sec = secret();
    // The secret without its prefix is accepted, as by the reference library.
    expect((await verifyWebhook(sec.slice('whsec_'.length), body, signed(sec))).id).toBe('evt_1');
  });
});
