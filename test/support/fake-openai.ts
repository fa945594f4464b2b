import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request the fake received: the chat-completions body as sent. */
export interface ReceivedChat {
  at: number;
  model: string;
  messages: { role: string; content: string }[];
  responseFormat: unknown;
  /** Every message's content joined, for `includes` checks. */
  prompt: string;
}

/** How the fake answers one request. */
export type FakeAnswer =
  /** A structured answer; `buttons` is left out of the JSON unless given, as a minimal model would. */
  | { action: 'reply' | 'handoff' | 'resolve'; reply?: string | null; buttons?: string[] | null; reason?: string; usage?: { prompt: number; completion: number } }
  /** An HTTP error (429 with optional Retry-After seconds, 5xx, 400...). */
  | { status: number; retryAfter?: number }
  /** Never answers in time: the client's timeout fires. */
  | { hang: true }
  /** 200 with this raw content instead of JSON that fits the schema. */
  | { malformed: string }
  /** 200 with `message.refusal` set. */
  | { refusal: string };

/** `delayMs`: thinking time; `meanwhile`: run during it, before the answer (the world changing while the model thinks). */
type Timing = { delayMs?: number; meanwhile?: () => Promise<void> };
type Rule = { match: (chat: ReceivedChat) => boolean; answers: (FakeAnswer & Timing)[] };

/**
 * An OpenAI-compatible chat-completions server on 127.0.0.1 for tests and benchmarks: answers
 * are scripted per request (by a predicate on the prompt), with an optional fixed latency, and
 * every request is kept so tests can read the prompt the platform built.
 */
export class FakeOpenAI {
  readonly received: ReceivedChat[] = [];
  private rules: Rule[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Added to every answer (the model's "thinking" time). */
  latencyMs = 0;
  /** What requests no rule matches get. */
  fallback: FakeAnswer = { action: 'reply', reply: 'Thanks for writing! How can I help?', reason: 'default' };

  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Requests whose prompt satisfies `match` get these answers in order (then the next rule, or the fallback). */
  on(match: string | ((chat: ReceivedChat) => boolean), ...answers: (FakeAnswer & Timing)[]): void {
    const fn = typeof match === 'string' ? (c: ReceivedChat) => c.prompt.includes(match) : match;
    this.rules.push({ match: fn, answers: [...answers] });
  }

  /** Requests whose prompt contains `text`. */
  requestsWith(text: string): ReceivedChat[] {
    return this.received.filter((r) => r.prompt.includes(text));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string; messages: { role: string; content: string }[]; response_format?: unknown };
    const chat: ReceivedChat = {
      at: Date.now(),
      model: body.model,
      messages: body.messages,
      responseFormat: body.response_format,
      prompt: body.messages.map((m) => m.content).join('\n'),
    };
    this.received.push(chat);
    const rule = this.rules.find((r) => r.answers.length > 0 && r.match(chat));
    const answer = rule ? rule.answers.shift()! : this.fallback;
    const delay = this.latencyMs + ((answer as Timing).delayMs ?? 0);
    if ('hang' in answer) return; // the socket stays open until the client gives up
    if (delay) await new Promise((r) => setTimeout(r, delay));
    await (answer as Timing).meanwhile?.();
    if (res.destroyed) return;
    if ('status' in answer) {
      res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.retryAfter !== undefined ? { 'retry-after': String(answer.retryAfter) } : {}) });
      res.end(JSON.stringify({ error: { message: `fake ${answer.status}`, type: 'fake_error' } }));
      return;
    }
    const usage = 'action' in answer && answer.usage ? answer.usage : { prompt: 100, completion: 20 };
    const message =
      'refusal' in answer
        ? { role: 'assistant', content: null, refusal: answer.refusal }
        : 'malformed' in answer
          ? { role: 'assistant', content: answer.malformed, refusal: null }
          : {
              role: 'assistant',
              content: JSON.stringify({
                action: answer.action,
                reply: answer.reply ?? null,
                ...(answer.buttons !== undefined ? { buttons: answer.buttons } : {}),
                reason: answer.reason ?? 'scripted',
              }),
              refusal: null,
            };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `chatcmpl-${this.received.length}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message, finish_reason: 'stop', logprobs: null }],
        usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion },
      }),
    );
  }
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  return new FakeOpenAI().start();
}
