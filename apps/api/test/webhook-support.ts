import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type Clock, createLogger, newId, SecretBox, systemClock } from '@parley/core';
import { WebhookDispatcher, type WebhookDispatcherOptions, WebhookHttpClient } from '@parley/domain';
import { Webhook } from 'standardwebhooks';
import type { TestApi } from '../../../test/support/api';

export interface Received {
  webhookId: string;
  headers: Record<string, string>;
  body: string;
  event: { id: string; type: string; createdAt: string; organizationId: string; sequence: number; data: Record<string, unknown> };
  /** Which of the receiver's secrets verified it with the standardwebhooks library; null: none did. */
  verifiedWith: string | null;
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
}

/**
 * A partner's endpoint on 127.0.0.1: answers the verification challenge, verifies every delivery
 * with the official standardwebhooks library against the secrets it was given, and records it.
 */
export class Receiver {
  readonly received: Received[] = [];
  readonly challenges: string[] = [];
  secrets: string[] = [];
  answer: (r: Received) => Answer | Promise<Answer> = () => ({ status: 204 });
  /** Echo the challenge, or answer something else to fail verification. */
  challengeAnswer: ((challenge: string) => Answer) | null = null;
  private server!: Server;
  url = '';
  private readonly sockets = new Set<Socket>();

  static async start(): Promise<Receiver> {
    const r = new Receiver();
    r.server = createServer((req, res) => void r.handle(req, res));
    r.server.on('connection', (s) => {
      r.sockets.add(s);
      s.on('close', () => r.sockets.delete(s));
    });
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/hooks`;
    return r;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.method === 'GET') {
      const challenge = new URL(req.url ?? '/', 'http://x').searchParams.get('challenge') ?? '';
      this.challenges.push(challenge);
      const a = this.challengeAnswer?.(challenge) ?? { status: 200, body: challenge };
      res.writeHead(a.status, a.headers).end(a.body ?? '');
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    let verifiedWith: string | null = null;
    for (const secret of this.secrets) {
      try {
        new Webhook(secret).verify(body, headers);
        verifiedWith = secret;
        break;
      } catch {
        // try the next secret
      }
    }
    const received: Received = { webhookId: headers['webhook-id']!, headers, body, event: JSON.parse(body) as Received['event'], verifiedWith, at: Date.now() };
    this.received.push(received);
    const a = await this.answer(received);
    if (a.delayMs) await new Promise((resolve) => setTimeout(resolve, a.delayMs));
    if (!res.destroyed) res.writeHead(a.status, a.headers).end(a.body ?? '');
  }

  /** Distinct event ids received. */
  ids(): Set<string> {
    return new Set(this.received.map((r) => r.webhookId));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function testDispatcher(
  api: TestApi,
  organizationIds: string[],
  clock: Clock = systemClock,
  options: WebhookDispatcherOptions & { timeoutMs?: number } = {},
): { dispatcher: WebhookDispatcher; http: WebhookHttpClient } {
  const http = new WebhookHttpClient({ policy: { allowInsecure: true }, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  const dispatcher = new WebhookDispatcher(api.orm, new SecretBox(api.config.encryptionKey), http, clock, createLogger({ level: 'silent' }), {
    organizationIds,
    pollMs: 50,
    ...options,
  });
  return { dispatcher, http };
}

/**
 * Events written straight into the table, as a change's transaction would: the delivery engine
 * does not look inside `data`, so these need not be real changes.
 */
export async function writeEvents(api: TestApi, organizationId: string, count: number, at: Date, type = 'conversation.update'): Promise<string[]> {
  const ids = Array.from({ length: count }, () => newId());
  await api.orm.em
    .fork()
    .getConnection()
    .execute(
      `insert into domain_events (id, organization_id, type, data, created_at)
       select id, ?, ?, jsonb_build_object('n', n), ? from unnest(?::uuid[]) with ordinality as v(id, n)`,
      [organizationId, type, at, `{${ids.join(',')}}`],
    );
  return ids;
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
