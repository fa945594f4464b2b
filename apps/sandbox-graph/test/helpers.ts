import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SandboxGraph } from '../src/index';

/** Tests read arbitrary fields of Meta-shaped JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

export const APP_ID = '1234567890';
export const APP_SECRET = 'sandbox-test-app-secret';

export interface Received {
  raw: string;
  body: Loose;
  headers: http.IncomingHttpHeaders;
  /** Remote port: the same for posts that shared a kept-alive socket. */
  remotePort: number;
  answered: number;
}

/** Parley's webhook endpoint, reduced to recording what arrives and answering what a test says. */
export interface Receiver {
  url: string;
  received: Received[];
  /** Decides each answer's status; 200 unless set. */
  answer: (r: Received, index: number) => number;
  waitFor(predicate: (all: Received[]) => boolean, timeoutMs?: number): Promise<Received[]>;
  statuses(wamid?: string): Loose[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  const receiver: Receiver = {
    url: '',
    received,
    answer: () => 200,
    async waitFor(predicate, timeoutMs = 5_000) {
      if (predicate(received)) return received;
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!predicate(received)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver: condition not met within ${timeoutMs} ms (${received.length} posts received)`));
        }, timeoutMs);
        waiters.add(check);
      });
      return received;
    },
    statuses(wamid) {
      return received
        .filter((r) => r.answered >= 200 && r.answered < 300)
        .flatMap((r) => r.body.entry[0].changes[0].value.statuses ?? [])
        .filter((s: Loose) => !wamid || s.id === wamid);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const r: Received = { raw, body: JSON.parse(raw), headers: req.headers, remotePort: req.socket.remotePort ?? 0, answered: 0 };
      r.answered = receiver.answer(r, received.length);
      received.push(r);
      res.writeHead(r.answered, { 'content-type': 'text/plain' });
      res.end('ok');
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/meta`;
  return receiver;
}

/** Computed here rather than with the sandbox's helper, so a wrong signature cannot pass itself. */
export function expectedSignature(raw: string, secret = APP_SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(raw, 'utf8').digest('hex')}`;
}

export interface Answer {
  status: number;
  body: Loose;
  headers: Headers;
}

export async function call(
  sandbox: SandboxGraph,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; body?: string | FormData; version?: string | null } = {},
): Promise<Answer> {
  const prefix = options.version === null ? '' : `/${options.version ?? 'v23.0'}`;
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${sandbox.url}${prefix}${path}`, {
    method,
    headers,
    body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
  });
  const text = await res.text();
  let body: Loose = text;
  try {
    body = JSON.parse(text);
  } catch {
    // binary or plain answers stay text
  }
  return { status: res.status, body, headers: res.headers };
}

export async function exchangeCode(sandbox: SandboxGraph, code = 'signup-code'): Promise<string> {
  const res = await call(sandbox, 'GET', `/oauth/access_token?client_id=${APP_ID}&client_secret=${APP_SECRET}&code=${code}`);
  if (res.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

export function textMessage(to: string, body = 'hello', extra: Record<string, unknown> = {}) {
  return { messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { body }, ...extra };
}

export function templateMessage(to: string, name = 'hello_world', components?: unknown[], extra: Record<string, unknown> = {}) {
  return { messaging_product: 'whatsapp', to, type: 'template', template: { name, language: { code: 'en_US' }, ...(components ? { components } : {}) }, ...extra };
}

/** The exact key set of Meta's error envelope. */
export function expectMetaError(answer: Answer, status: number, code: number): Loose {
  if (answer.status !== status || answer.body?.error?.code !== code) {
    throw new Error(`expected HTTP ${status} code ${code}, got HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return answer.body.error;
}
