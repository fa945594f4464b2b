import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { APP_SECRET, expectedSignature, startReceiver, type Loose } from './helpers';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('CLI (src/main.ts)', () => {
  const receiverReady = startReceiver();
  afterAll(async () => (await receiverReady).close());

  it('starts from the environment, prints its URL and stops on SIGTERM', async () => {
    const receiver = await receiverReady;
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/sandbox-graph/src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, SANDBOX_PORT: '0', META_APP_ID: 'cli-app', META_APP_SECRET: APP_SECRET, PARLEY_WEBHOOK_URL: receiver.url, SANDBOX_LATENCY_MS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
        setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 20_000);
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const health = await fetch(`${url}/_sandbox/health`).then((r) => r.json() as Loose);
      expect(health).toMatchObject({ ok: true, url });
      const wrongApp = await fetch(`${url}/v23.0/oauth/access_token?client_id=other&client_secret=${APP_SECRET}&code=c`);
      expect(wrongApp.status).toBe(400);
      const inbound = await fetch(`${url}/_sandbox/inbound`, { method: 'POST', body: JSON.stringify({ phoneNumberId: '1', from: '15550001', type: 'text', text: 'cli' }) }).then((r) => r.json() as Loose);
      expect(inbound.acknowledged).toBe(true);
      const post = receiver.received.at(-1)!;
      expect(post.headers['x-hub-signature-256']).toBe(expectedSignature(post.raw));
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
