// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ParleyClient } from '../../../packages/sdk/src/client';
import { FIRST_INBOX_PAGE, primeInbox, takePrimedInbox } from './prefetch';

const fakeClient = () => {
  const GET = vi.fn(async () => ({ data: { data: [], nextCursor: null }, error: undefined, response: new Response() }));
  return { client: { GET } as unknown as ParleyClient, GET };
};

afterEach(() => {
  vi.useRealTimers();
  void takePrimedInbox(FIRST_INBOX_PAGE);
});

describe('the inbox read while the session is checked', () => {
  it('is started only when the console opens at the inbox, and used once, for the same query', async () => {
    const { client, GET } = fakeClient();
    window.history.pushState({}, '', '/console/broadcasts');
    primeInbox(client);
    expect(GET).not.toHaveBeenCalled();

    window.history.pushState({}, '', '/console/inbox');
    primeInbox(client);
    expect(GET).toHaveBeenCalledWith('/v1/conversations', { params: { query: { limit: 100, status: 'active' } } });
    expect(takePrimedInbox({ limit: 100, status: 'resolved' })).toBeUndefined();
    // A different query took it away: nothing is left for the first page either.
    expect(takePrimedInbox(FIRST_INBOX_PAGE)).toBeUndefined();

    primeInbox(client);
    const answer = takePrimedInbox({ limit: 100, status: 'active' });
    expect(await answer).toMatchObject({ data: { data: [] } });
    expect(takePrimedInbox(FIRST_INBOX_PAGE)).toBeUndefined();
  });

  it('is not shown as current once it is ten seconds old', () => {
    vi.useFakeTimers();
    const { client } = fakeClient();
    window.history.pushState({}, '', '/console/inbox/abc');
    primeInbox(client);
    vi.advanceTimersByTime(10_001);
    expect(takePrimedInbox(FIRST_INBOX_PAGE)).toBeUndefined();
  });
});
