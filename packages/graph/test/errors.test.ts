import { createServer, type AddressInfo } from 'node:net';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { classifyGraphError, NO_META_CODE, type GraphErrorClassification } from '@parley/graph';
import { BASE, caught, makeClient, metaError, PHONE_ID, TOKEN, VERSION, WABA_ID } from './helpers';

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

const send = (client = makeClient()) => client.sendMessage(TOKEN, PHONE_ID, { to: '50212345678', type: 'text', text: { body: 'hi' } });

describe('classifyGraphError', () => {
  const cases: Array<[number, number | undefined, GraphErrorClassification]> = [
    [429, undefined, 'retryable'],
    [500, undefined, 'retryable'],
    [502, NO_META_CODE, 'retryable'],
    [503, 2, 'retryable'],
    [400, 130429, 'retryable'],
    [400, 131048, 'retryable'],
    [400, 131056, 'retryable'],
    [400, 4, 'retryable'],
    [400, 80007, 'retryable'],
    [0, NO_META_CODE, 'retryable'],
    [400, 131047, 'window'],
    [400, 131026, 'permanent'],
    [400, 131050, 'permanent'],
    [400, 132000, 'permanent'],
    [400, 132001, 'permanent'],
    [400, 132999, 'permanent'],
    [400, 100, 'permanent'],
    [401, 190, 'permanent'],
    [404, undefined, 'permanent'],
    [403, 10, 'permanent'],
  ];
  it.each(cases)('status %i code %s -> %s', (status, code, expected) => {
    expect(classifyGraphError({ status, code })).toBe(expected);
  });

  it('lets a rate-limit code win over a 4xx status and the window code over a 5xx', () => {
    expect(classifyGraphError({ status: 403, code: 4 })).toBe('retryable');
    expect(classifyGraphError({ status: 500, code: 131047 })).toBe('window');
  });
});

describe('GraphError from Meta error bodies', () => {
  const cases: Array<{ status: number; code: number; subcode?: number; classification: GraphErrorClassification }> = [
    { status: 400, code: 130429, classification: 'retryable' },
    { status: 400, code: 131048, classification: 'retryable' },
    { status: 400, code: 131056, classification: 'retryable' },
    { status: 400, code: 131047, subcode: 2494010, classification: 'window' },
    { status: 400, code: 131026, classification: 'permanent' },
    { status: 400, code: 131050, classification: 'permanent' },
    { status: 400, code: 132001, subcode: 2494073, classification: 'permanent' },
    { status: 401, code: 190, subcode: 463, classification: 'permanent' },
    { status: 429, code: 80007, classification: 'retryable' },
    { status: 500, code: 131000, classification: 'retryable' },
    { status: 503, code: 2, classification: 'retryable' },
  ];

  it.each(cases)('HTTP $status code $code -> $classification, with every Meta field carried', async ({ status, code, subcode, classification }) => {
    nock(BASE)
      .post(`/${VERSION}/${PHONE_ID}/messages`)
      .reply(
        status,
        metaError({
          code,
          ...(subcode !== undefined ? { subcode } : {}),
          message: `(#${code}) Meta says no`,
          title: `Title ${code}`,
          userMessage: `User message ${code}`,
          details: `Details ${code}`,
          fbtraceId: `trace-${code}`,
        }),
      );
    const error = await caught(send());
    expect(error).toMatchObject({
      name: 'GraphError',
      status,
      code,
      subcode,
      title: `Title ${code}`,
      message: `(#${code}) Meta says no`,
      userMessage: `User message ${code}`,
      details: `Details ${code}`,
      fbtraceId: `trace-${code}`,
      type: 'OAuthException',
      classification,
      endpoint: `POST /${VERSION}/${PHONE_ID}/messages`,
    });
    expect(error.retryable).toBe(classification === 'retryable');
  });

  it('uses Meta’s message as the title when error_user_title is absent', async () => {
    nock(BASE)
      .post(`/${VERSION}/${PHONE_ID}/messages`)
      .reply(400, { error: { message: 'Invalid parameter', type: 'OAuthException', code: 100, fbtrace_id: 'X' } });
    const error = await caught(send());
    expect(error).toMatchObject({ title: 'Invalid parameter', message: 'Invalid parameter', code: 100, classification: 'permanent' });
    expect(error.subcode).toBeUndefined();
    expect(error.details).toBeUndefined();
  });

  it.each([429, 500, 503])('HTTP %i without a Meta body is a retryable HttpError', async (status) => {
    nock(BASE).post(`/${VERSION}/${PHONE_ID}/messages`).reply(status, '<html>Bad gateway</html>', { 'x-fb-trace-id': 'hdr-trace' });
    const error = await caught(send());
    expect(error).toMatchObject({ status, code: NO_META_CODE, type: 'HttpError', classification: 'retryable', fbtraceId: 'hdr-trace' });
    expect(error.message).toContain(String(status));
  });

  it('an HTTP 404 without a Meta body is permanent', async () => {
    nock(BASE).get(`/${VERSION}/${WABA_ID}/message_templates`).query(true).reply(404, 'not found');
    const error = await caught(makeClient().listTemplates(TOKEN, WABA_ID));
    expect(error).toMatchObject({ status: 404, classification: 'permanent', type: 'HttpError' });
  });
});

describe('transport failures', () => {
  it('a request that outlives timeoutMs is a retryable TimeoutError with status 0', async () => {
    nock(BASE).post(`/${VERSION}/${PHONE_ID}/messages`).delay(1_000).reply(200, { messages: [{ id: 'late' }] });
    const started = Date.now();
    const error = await caught(send(makeClient({ timeoutMs: 50 })));
    expect(Date.now() - started).toBeLessThan(900);
    expect(error).toMatchObject({ status: 0, code: NO_META_CODE, type: 'TimeoutError', classification: 'retryable' });
    expect(error.message).toBe(`Graph API request POST /${VERSION}/${PHONE_ID}/messages timed out after 50 ms.`);
  });

  it('a body that stalls past the deadline is a timeout too', async () => {
    nock(BASE).get(`/${VERSION}/${PHONE_ID}`).query(true).delayBody(1_000).reply(200, { id: PHONE_ID });
    const error = await caught(makeClient({ timeoutMs: 50 }).getPhoneNumber(TOKEN, PHONE_ID));
    expect(error).toMatchObject({ type: 'TimeoutError', classification: 'retryable' });
  });

  it('a refused connection is a retryable NetworkError with status 0', async () => {
    // A port that was just free: nothing listens there now.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    nock.enableNetConnect('127.0.0.1');
    try {
      const error = await caught(makeClient({ baseUrl: `http://127.0.0.1:${port}` }).getPhoneNumber(TOKEN, PHONE_ID));
      expect(error).toMatchObject({ status: 0, code: NO_META_CODE, type: 'NetworkError', classification: 'retryable' });
      expect(error.message).toMatch(/^Graph API request GET \/v23\.0\/\d+\?fields=[^ ]+ failed: ECONNREFUSED/);
    } finally {
      nock.disableNetConnect();
    }
  });

  it('tells whether Meta may have acted on a failed send: a timeout or a connection lost after sending may; a refused one may not', async () => {
    nock.enableNetConnect('127.0.0.1');
    // Reads the whole request, then drops the connection without an answer.
    const dropper = createServer((socket) => {
      let seen = '';
      socket.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('"messaging_product"')) socket.destroy();
      });
    });
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
    const dropped = `http://127.0.0.1:${(dropper.address() as AddressInfo).port}`;
    const refusedServer = createServer();
    await new Promise<void>((resolve) => refusedServer.listen(0, '127.0.0.1', resolve));
    const refused = `http://127.0.0.1:${(refusedServer.address() as AddressInfo).port}`;
    await new Promise((resolve) => refusedServer.close(resolve));
    // Answers half a response, then drops the connection.
    const halfway = createServer((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"messages":');
        setTimeout(() => socket.destroy(), 20);
      });
    });
    await new Promise<void>((resolve) => halfway.listen(0, '127.0.0.1', resolve));
    try {
      const cut = await caught(send(makeClient({ baseUrl: `http://127.0.0.1:${(halfway.address() as AddressInfo).port}` })));
      expect(cut).toMatchObject({ type: 'NetworkError', mayHaveReachedMeta: true });
      const lost = await caught(send(makeClient({ baseUrl: dropped })));
      expect(lost).toMatchObject({ type: 'NetworkError', classification: 'retryable', mayHaveReachedMeta: true });
      const never = await caught(send(makeClient({ baseUrl: refused })));
      expect(never).toMatchObject({ type: 'NetworkError', mayHaveReachedMeta: false });
    } finally {
      dropper.close();
      halfway.close();
      nock.disableNetConnect();
    }
    nock(BASE).post(`/${VERSION}/${PHONE_ID}/messages`).delay(500).reply(200, { messages: [{ id: 'late' }] });
    expect(await caught(send(makeClient({ timeoutMs: 50 })))).toMatchObject({ type: 'TimeoutError', mayHaveReachedMeta: true });
  });

  it('the default timeout is 10 s', async () => {
    const { DEFAULT_TIMEOUT_MS } = await import('@parley/graph');
    expect(DEFAULT_TIMEOUT_MS).toBe(10_000);
  });
});
