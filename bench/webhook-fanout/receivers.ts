/**
 * The partners' endpoints of the webhook fan-out benchmark, in a process of their own: one HTTP
 * server on loopback, `/s/<n>` for subscription n. Every delivery is verified with the official
 * standardwebhooks library; the first arrival of each webhook-id is timed. Subscription FAILING
 * answers 500 to everything. The parent asks for the tally over IPC.
 */
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const secrets = JSON.parse(process.env.RECEIVER_SECRETS!) as string[];
const failing = Number(process.env.RECEIVER_FAILING);
const verifiers = secrets.map((s) => new Webhook(s));
const firstAt = new Map<string, number>();
const perSubscription = secrets.map(() => 0);
let attempts = 0;
let failingAttempts = 0;
let duplicates = 0;
let unverified = 0;
const now = () => performance.timeOrigin + performance.now();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = now();
    attempts++;
    const n = Number(req.url!.slice(3));
    const body = Buffer.concat(chunks).toString('utf8');
    const id = String(req.headers['webhook-id']);
    try {
      verifiers[n]!.verify(body, req.headers as Record<string, string>);
    } catch {
      unverified++;
    }
    const seen = firstAt.has(id);
    if (!seen) firstAt.set(id, at);
    if (n === failing) {
      failingAttempts++;
      res.writeHead(500).end();
      return;
    }
    perSubscription[n]!++;
    if (seen) duplicates++;
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(process.env.RECEIVER_PORT), '127.0.0.1', () => process.send!({ ready: true }));

process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'delivered') process.send!({ delivered: perSubscription.reduce((a, b) => a + b, 0) });
  if (m.cmd === 'report') {
    process.send!({ report: { firstAt: [...firstAt], perSubscription, attempts, failingAttempts, duplicates, unverified } });
  }
});
