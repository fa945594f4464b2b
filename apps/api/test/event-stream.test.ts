import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../../test/support/api';
import { contactWrites, newOrg, newPhone, newUser } from './messaging-support';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  api.app.events.close();
  await api.close();
});

/** An open stream collecting its events; `next` waits for one that matches. */
async function connect(token: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(`${api.url}/v1/events/stream`, { headers: { authorization: `Bearer ${token}`, ...headers }, signal: abort.signal });
  const events: EventSourceMessage[] = [];
  const waiters: (() => void)[] = [];
  let ended: Promise<void> = Promise.resolve();
  if (res.ok && res.body) {
    const parser = createParser({
      onEvent: (e) => {
        events.push(e);
        for (const w of waiters.splice(0)) w();
      },
    });
    ended = (async () => {
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          parser.feed(value);
        }
      } catch {
        // aborted by the test
      }
    })();
  }
  const next = async (match: (e: EventSourceMessage) => boolean, timeoutMs = 5000): Promise<EventSourceMessage> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = events.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event in ${timeoutMs} ms; got ${events.map((e) => e.event).join(', ')}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, left);
      });
    }
  };
  return { res, events, next, ended, close: () => abort.abort() };
}

const isMessageFrom = (text: string) => (e: EventSourceMessage) =>
  e.event === 'message.create.contact.chat.contact' && (JSON.parse(e.data) as { message: { content: { text?: string } } }).message.content.text === text;

describe('GET /v1/events/stream', () => {
  it('is refused without a token, like every other route', async () => {
    const res = await fetch(`${api.url}/v1/events/stream`);
    expect(res.status).toBe(401);
    await res.body?.cancel();
  });

  it('streams the organization’s events as they commit, and none of another organization', async () => {
    const [org, other] = [await newOrg(api), await newOrg(api)];
    const agent = await newUser(api, org.tenant, 'agent');
    const mine = await connect(agent.token);
    const theirs = await connect(other.token);
    expect(mine.res.status).toBe(200);
    expect(mine.res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(mine.res.headers.get('cache-control')).toBe('no-cache, no-transform');

    const started = Date.now();
    await contactWrites(api, org.route, newPhone(), 'Hola en vivo');
    const event = await mine.next(isMessageFrom('Hola en vivo'));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(Number(event.id)).toBeGreaterThan(0);
    const data = JSON.parse(event.data) as { message: { conversationId: string; direction: string } };
    expect(data.message.direction).toBe('inbound');
    // The conversation's own change arrives on the same stream.
    await mine.next((e) => e.event?.startsWith('conversation.') === true && (JSON.parse(e.data) as { conversation: { id: string } }).conversation.id === data.message.conversationId);

    await contactWrites(api, other.route, newPhone(), 'Only for the other org');
    await theirs.next(isMessageFrom('Only for the other org'));
    expect(mine.events.some(isMessageFrom('Only for the other org'))).toBe(false);
    expect(theirs.events.some(isMessageFrom('Hola en vivo'))).toBe(false);
    mine.close();
    theirs.close();
    // A client that goes away leaves no stream behind.
    await expect.poll(() => api.app.events.size).toBe(0);
  });

  it('replays what was missed after Last-Event-ID on reconnect', async () => {
    const org = await newOrg(api);
    const first = await connect(org.token);
    await contactWrites(api, org.route, newPhone(), 'before the drop');
    const seen = await first.next(isMessageFrom('before the drop'));
    first.close();
    await contactWrites(api, org.route, newPhone(), 'while away');

    const again = await connect(org.token, { 'last-event-id': seen.id! });
    const missed = await again.next(isMessageFrom('while away'));
    expect(Number(missed.id)).toBeGreaterThan(Number(seen.id));
    expect(again.events.some(isMessageFrom('before the drop'))).toBe(false);
    again.close();
  });

  it('sends an event whose transaction commits after a later one (seq order is not commit order)', async () => {
    const org = await newOrg(api);
    const stream = await connect(org.token);
    const insert = `insert into domain_events (id, organization_id, type, data, created_at) values (gen_random_uuid(), ?, 'conversation.update', ?::jsonb, now())`;
    const slow = api.orm.em.fork();
    await slow.begin();
    // Takes the lower seq but stays invisible until its commit.
    await slow.getConnection().execute(insert, [org.orgId, JSON.stringify({ conversation: { id: 'slow' } })], 'run', slow.getTransactionContext());
    await api.orm.em.fork().getConnection().execute(insert, [org.orgId, JSON.stringify({ conversation: { id: 'fast' } })]);
    const fast = await stream.next((e) => e.data.includes('"fast"'));
    await new Promise((r) => setTimeout(r, 600));
    await slow.commit();
    const late = await stream.next((e) => e.data.includes('"slow"'));
    expect(Number(late.id)).toBeLessThan(Number(fast.id));
    stream.close();
  });

  it('ends open streams when the API stops, so shutdown is not held', async () => {
    const org = await newOrg(api);
    const stream = await connect(org.token);
    // Last in this file: the hub takes no streams once closed.
    api.app.events.close();
    await expect(Promise.race([stream.ended.then(() => 'ended'), new Promise((r) => setTimeout(() => r('open'), 2000))])).resolves.toBe('ended');
  });
});
