import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { createEventRouter, expressWebhook, fetchWebhookHandler, koaWebhook, nodeWebhookHandler, type WebhookEnvelope, type WebhookReceiverOptions } from '../src/index.js';

const secret = `whsec_${randomBytes(24).toString('base64')}`;
const body = JSON.stringify({
  id: 'evt_1',
  type: 'message.create.contact.chat.contact',
  createdAt: '2026-11-29T19:00:00.000Z',
  organizationId: 'org_1',
  sequence: 7,
  data: { id: 'msg_1', conversationId: 'conv_1', touchpoint: 'whatsapp', role: 'contact', content: { text: 'Hola, ¿llega mañana?' } },
});

function headers(payload = body, sec = secret, at = new Date()) {
  const id = `msg_${randomBytes(6).toString('hex')}`;
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(sec).sign(id, at, payload),
  };
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

async function serve(listener: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(listener);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function receiver() {
  const seen: WebhookEnvelope[] = [];
  let fail = false;
  const router = createEventRouter().on('message.create.contact.chat', { touchpoint: 'whatsapp' }, (e) => {
    if (fail) {
      fail = false;
      throw new Error('handler broke');
    }
    seen.push(e);
  });
  const errors: unknown[] = [];
  const options: WebhookReceiverOptions = { secret, router, onError: (err) => errors.push(err) };
  return { seen, errors, options, failNext: () => (fail = true) };
}

/** The same checks for every adapter: a good delivery, each kind of verification failure, a throwing handler. */
async function exercise(url: string, r: ReturnType<typeof receiver>) {
  const post = (payload: string, h: Record<string, string>) => fetch(url, { method: 'POST', headers: h, body: payload });

  // The platform's verification challenge, before the subscription (and its secret) exists.
  const challenge = await fetch(`${url}?challenge=3f9a0c1d2e`);
  expect(challenge.status).toBe(200);
  expect(await challenge.text()).toBe('3f9a0c1d2e');
  expect((await fetch(`${url}?challenge=${encodeURIComponent('<script>')}`)).status).toBe(405);
  expect((await fetch(url)).status).toBe(405);

  const ok = await post(body, headers());
  expect(ok.status).toBe(200);
  expect(await ok.json()).toEqual({ ok: true, handled: 1 });
  expect(r.seen).toHaveLength(1);
  expect(r.seen[0]!.data).toMatchObject({ content: { text: 'Hola, ¿llega mañana?' } });

  const wrongSecret = await post(body, headers(body, `whsec_${randomBytes(24).toString('base64')}`));
  expect(wrongSecret.status).toBe(401);
  expect(await wrongSecret.json()).toMatchObject({ error: 'signature_mismatch' });

  const stale = await post(body, headers(body, secret, new Date(Date.now() - 3600_000)));
  expect(stale.status).toBe(401);
  expect(await stale.json()).toMatchObject({ error: 'timestamp_out_of_tolerance' });

  const { 'webhook-signature': _dropped, ...unsigned } = headers();
  const missing = await post(body, unsigned);
  expect(missing.status).toBe(401);
  expect(await missing.json()).toMatchObject({ error: 'missing_headers' });

  // A proxy (or anything) reformatting the JSON on the way.
  const reformatted = await post(JSON.stringify(JSON.parse(body), null, 2), headers());
  expect(reformatted.status).toBe(401);
  expect(await reformatted.json()).toMatchObject({ error: 'body_reserialized' });
  expect(r.seen).toHaveLength(1);

  r.failNext();
  const broken = await post(body, headers());
  expect(broken.status).toBe(500);
  expect(await broken.json()).toMatchObject({ error: 'handler_failed' });
  expect(r.errors.at(-1)).toMatchObject({ message: 'handler broke' });
}

describe('webhook adapters', () => {
  it('node:http', async () => {
    const r = receiver();
    const handle = nodeWebhookHandler(r.options);
    await exercise(await serve((req, res) => void handle(req, res)), r);
  });

  it('Fetch API (edge runtimes), served here through node:http', async () => {
    const r = receiver();
    const handle = fetchWebhookHandler(r.options);
    const url = await serve((req, res) => {
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const request = new Request(`http://127.0.0.1${req.url}`, {
          method: req.method,
          headers: Object.entries(req.headers).map(([k, v]) => [k, String(v)] as [string, string]),
          ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
        });
        const answer = await handle(request);
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? '' });
        res.end(Buffer.from(await answer.arrayBuffer()));
      })();
    });
    await exercise(url, r);
  });

  it('takes the secret from a function once it is known, answering 503 until then', async () => {
    const r = receiver();
    const known: { secret?: string } = {};
    const handle = nodeWebhookHandler({ ...r.options, secret: async () => known.secret });
    const url = await serve((req, res) => void handle(req, res));
    const early = await fetch(url, { method: 'POST', headers: headers(), body });
    expect(early.status).toBe(503);
    expect(await early.json()).toMatchObject({ error: 'not_configured' });
    known.secret = secret;
    expect((await fetch(url, { method: 'POST', headers: headers(), body })).status).toBe(200);
    expect(r.seen).toHaveLength(1);
  });

  it('node:http refuses a body over the limit with 413', async () => {
    const r = receiver();
    const handle = nodeWebhookHandler({ ...r.options, maxBodyBytes: 64 });
    const url = await serve((req, res) => void handle(req, res));
    expect((await fetch(url, { method: 'POST', headers: headers(), body })).status).toBe(413);
  });

  it('Express, reading the stream itself or behind express.raw()', async () => {
    const r = receiver();
    const app = express();
    app.use('/parley', expressWebhook(r.options));
    app.post('/raw', express.raw({ type: 'application/json' }), expressWebhook(r.options));
    const url = await serve(app);
    await exercise(`${url}/parley`, r);
    const viaRaw = await fetch(`${url}/raw`, { method: 'POST', headers: headers(), body });
    expect(viaRaw.status).toBe(200);
  });

  it('Express behind express.json() says the raw body is gone', async () => {
    const r = receiver();
    const app = express();
    app.use(express.json());
    app.post('/parley', expressWebhook(r.options));
    const url = await serve(app);
    const res = await fetch(`${url}/parley`, { method: 'POST', headers: headers(), body });
    expect(res.status).toBe(401);
    const answer = (await res.json()) as { error: string; message: string };
    expect(answer.error).toBe('body_not_raw');
    expect(answer.message).toMatch(/express\.raw/);
  });

  it('Koa, reading the stream itself or from a parser that keeps rawBody', async () => {
    const r = receiver();
    const app = new Koa();
    const hook = koaWebhook(r.options);
    app.use(async (ctx, next) => {
      if (ctx.path === '/kept') {
        // What koa-bodyparser leaves behind: the parsed body and the raw text.
        let raw = '';
        for await (const chunk of ctx.req) raw += String(chunk);
        Object.assign(ctx.request, { rawBody: raw, body: JSON.parse(raw) as unknown });
      }
      if (ctx.path === '/parsed') {
        let raw = '';
        for await (const chunk of ctx.req) raw += String(chunk);
        Object.assign(ctx.request, { body: JSON.parse(raw) as unknown });
      }
      await next();
    });
    app.use(hook);
    const url = await serve(app.callback());
    await exercise(`${url}/hook`, r);
    expect((await fetch(`${url}/kept`, { method: 'POST', headers: headers(), body })).status).toBe(200);
    const parsed = await fetch(`${url}/parsed`, { method: 'POST', headers: headers(), body });
    expect(parsed.status).toBe(401);
    expect(await parsed.json()).toMatchObject({ error: 'body_not_raw' });
  });
});
