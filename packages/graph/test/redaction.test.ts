import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GraphError } from '@parley/graph';
import { APP_ID, APP_SECRET, BASE, captureLogs, caught, makeClient, metaError, PHONE_ID, TOKEN, VERSION, WABA_ID } from './helpers';

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

const CODE = 'AQBsignupCodeValue_0123456789';

function expectClean(text: string, ...secrets: string[]) {
  for (const secret of [TOKEN, APP_SECRET, ...secrets]) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(encodeURIComponent(secret));
  }
}

/** Everything about an error that a log line or an API answer could show. */
function errorText(error: GraphError): string {
  return [error.message, error.title, error.userMessage, error.details, error.endpoint, error.stack, JSON.stringify(error)].join('\n');
}

describe('secrets never reach errors or logs', () => {
  it('exchangeCode: success and failure logs redact client_id, client_secret and code', async () => {
    const logs = captureLogs();
    const client = makeClient({ logger: logs.logger });
    nock(BASE).get(`/${VERSION}/oauth/access_token`).query(true).reply(200, { access_token: TOKEN, token_type: 'bearer' });
    await client.exchangeCode(CODE);
    nock(BASE)
      .get(`/${VERSION}/oauth/access_token`)
      .query(true)
      // Meta's message quoting the request back is the worst case.
      .reply(400, metaError({ code: 100, message: `Invalid code ${CODE} for client_secret=${APP_SECRET}`, details: `code=${encodeURIComponent(CODE)}` }));
    const error = await caught(client.exchangeCode(CODE));
    expect(error.code).toBe(100);
    expect(error.endpoint).toBe(`GET /${VERSION}/oauth/access_token?client_id=[redacted]&client_secret=[redacted]&code=[redacted]`);
    expect(error.message).toBe('Invalid code [redacted] for client_secret=[redacted]');
    expectClean(errorText(error), CODE, APP_ID);
    expect(logs.lines().length).toBeGreaterThanOrEqual(2);
    expect(logs.text()).toContain('oauth/access_token');
    expectClean(logs.text(), CODE, APP_ID);
  });

  it('bearer-token calls: success and error logs and errors hold no token', async () => {
    const logs = captureLogs();
    const client = makeClient({ logger: logs.logger });
    nock(BASE).get(`/${VERSION}/${PHONE_ID}`).query(true).reply(200, { id: PHONE_ID, display_phone_number: '1', verified_name: 'x' });
    await client.getPhoneNumber(TOKEN, PHONE_ID);
    nock(BASE)
      .post(`/${VERSION}/${PHONE_ID}/messages`)
      .reply(401, metaError({ code: 190, message: `Error validating access token ${TOKEN}`, title: `Bad token ${TOKEN}` }));
    const error = await caught(client.sendMessage(TOKEN, PHONE_ID, { to: '1', type: 'text', text: { body: 'x' } }));
    expect(error.code).toBe(190);
    expectClean(errorText(error));
    nock(BASE).post(`/${VERSION}/${WABA_ID}/subscribed_apps`).reply(500, 'oops');
    expectClean(errorText(await caught(client.subscribeApp(TOKEN, WABA_ID))));
    expect(logs.lines().length).toBeGreaterThanOrEqual(3);
    expectClean(logs.text());
  });

  it('registerNumber keeps the PIN out of errors', async () => {
    nock(BASE)
      .post(`/${VERSION}/${PHONE_ID}/register`)
      .reply(400, metaError({ code: 133005, message: 'Two step verification PIN 987654 mismatch' }));
    const error = await caught(makeClient().registerNumber(TOKEN, PHONE_ID, '987654'));
    expect(error.message).not.toContain('987654');
  });

  it('any Meta-shaped token in an error is scrubbed, even one this call did not send', async () => {
    const other = 'EAAOtherTenantToken0123456789abcdefXYZ';
    nock(BASE).post(`/${VERSION}/${WABA_ID}/subscribed_apps`).reply(400, metaError({ code: 100, message: `bad ${other}` }));
    const error = await caught(makeClient().subscribeApp(TOKEN, WABA_ID));
    expect(error.message).toBe('bad [redacted]');
  });

  it('network errors whose text echoes the request headers hold no token', async () => {
    const logs = captureLogs();
    // No interceptor matches, so nock's error quotes the request, Authorization header included.
    nock(BASE).get('/never').reply(200);
    const error = await caught(makeClient({ logger: logs.logger }).getMedia(TOKEN, 'media-1'));
    expect(error).toMatchObject({ type: 'NetworkError', status: 0, classification: 'retryable' });
    expectClean(errorText(error));
    expectClean(logs.text());
  });

  it('timeouts hold no token, and media downloads log no signed query string', async () => {
    const logs = captureLogs();
    const client = makeClient({ logger: logs.logger });
    nock(BASE).post(`/${VERSION}/${PHONE_ID}/messages`).delay(500).reply(200, {});
    const timeout = await caught(
      makeClient({ logger: logs.logger, timeoutMs: 20 }).sendMessage(TOKEN, PHONE_ID, { to: '1', type: 'text', text: { body: 'x' } }),
    );
    expectClean(errorText(timeout));
    nock('https://lookaside.fbsbx.com').get('/a/').query(true).reply(200, 'img');
    await client.downloadMedia(TOKEN, 'https://lookaside.fbsbx.com/a/?mid=1&hash=SIGNEDHASH');
    nock('https://lookaside.fbsbx.com').get('/a/').query(true).reply(403, 'expired');
    const expired = await caught(client.downloadMedia(TOKEN, 'https://lookaside.fbsbx.com/a/?mid=1&hash=SIGNEDHASH'));
    expect(expired.endpoint).toBe('GET https://lookaside.fbsbx.com/a/');
    expect(logs.text()).not.toContain('SIGNEDHASH');
    expectClean(logs.text());
    expectClean(errorText(expired));
  });

  it('a refused media URL is reported by origin only and the token is never sent', async () => {
    const error = await caught(makeClient().downloadMedia(TOKEN, 'https://evil.test/x?token=abc'));
    expect(error.message).toContain('https://evil.test');
    expect(error.message).not.toContain('token=abc');
    expectClean(errorText(error));
  });
});
