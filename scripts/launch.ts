/**
 * Starts the whole platform: API and worker as child processes, on embedded development
 * infrastructure for whatever is not configured (PGlite for DATABASE_URL, the Temporal dev server
 * for TEMPORAL_ADDRESS, generated secrets kept in .parley/). Configured values are used as given.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSecret, loadConfig, ConfigError, SECRET_VARIABLES, type SecretVariable } from '@parley/config';
import { startSandboxGraph, type SandboxGraph } from '@parley/sandbox-graph';
import { ensureConsoleBuilt } from '../apps/console/scripts/ensure-built';
import { findTemporalCli, startEmbeddedPostgres, startTemporalDevServer, waitForPort, type DevServer, type EmbeddedPostgres } from '@parley/dev';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stateDir = path.join(root, '.parley');
const env: NodeJS.ProcessEnv = { ...process.env };
const production = env.NODE_ENV === 'production';
const say = (line = '') => process.stdout.write(`${line}\n`);

const stoppers: (() => Promise<void>)[] = [];
const children: ChildProcess[] = [];
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

/** Development secrets are generated once and kept, so tokens survive restarts. */
async function developmentSecrets(): Promise<SecretVariable[]> {
  const file = path.join(stateDir, 'dev-secrets.json');
  const stored: Partial<Record<SecretVariable, string>> = existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : {};
  const created: SecretVariable[] = [];
  for (const name of SECRET_VARIABLES) {
    if (env[name]) continue;
    if (!stored[name]) {
      stored[name] = generateSecret(name);
      created.push(name);
    }
    env[name] = stored[name];
  }
  if (created.length) await writeFile(file, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
  return created;
}

function ensureTemporalCli(): void {
  if (findTemporalCli()) return;
  say('The Temporal CLI is missing; building it with Go (a few minutes, once) ...');
  const go = spawnSync('go', ['install', 'github.com/temporalio/cli/cmd/temporal@v1.5.1'], { stdio: 'inherit' });
  if (go.status !== 0) {
    say('Could not build the Temporal CLI. Install Go, or set TEMPORAL_ADDRESS to a running Temporal server.');
    process.exit(1);
  }
}

function run(name: string, entry: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, entry)], { cwd: root, env, stdio: 'inherit' });
  children.push(child);
  child.on('exit', (code, signal) => {
    if (stopping) return;
    say(`${name} stopped (${signal ?? code}); shutting the platform down.`);
    void shutdown(code || 1);
  });
  return child;
}

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the API did not answer ${url}/health within ${timeoutMs / 1000} s`);
}

await mkdir(stateDir, { recursive: true });
const createdSecrets = production ? [] : await developmentSecrets();

let embeddedPostgres: EmbeddedPostgres | undefined;
if (!env.DATABASE_URL && !production) {
  embeddedPostgres = await startEmbeddedPostgres({ dataDir: path.join(stateDir, 'pgdata') });
  stoppers.push(() => embeddedPostgres!.stop());
  env.DATABASE_URL = embeddedPostgres.url;
  // PGlite runs one query at a time; a small pool per process keeps the queue short.
  env.DATABASE_POOL_MAX ??= '4';
}

let temporal: DevServer | undefined;
if (!env.TEMPORAL_ADDRESS && !production) {
  ensureTemporalCli();
  temporal = await startTemporalDevServer({ dbFile: path.join(stateDir, 'temporal.db'), ui: true });
  stoppers.push(() => temporal!.stop());
  env.TEMPORAL_ADDRESS = temporal.address;
}

// With no Graph API named, a local sandbox stands in for Meta: signup works, sends are accepted
// and answered with signed status webhooks, and contacts can be made to write in.
let sandbox: SandboxGraph | undefined;
if (!env.META_GRAPH_URL && !production) {
  env.META_APP_ID ??= 'sandbox-app';
  sandbox = await startSandboxGraph({
    port: 0,
    appId: env.META_APP_ID,
    appSecret: env.META_APP_SECRET!,
    webhookUrl: `http://127.0.0.1:${env.PORT ?? 3000}/webhooks/meta`,
  });
  stoppers.push(() => sandbox!.stop());
  env.META_GRAPH_URL = sandbox.url;
}

// Chatbot connectors answer on a callback URL made from PUBLIC_URL: without it a bot would be
// told a path with no host. In development that is this API.
if (!production) env.PUBLIC_URL ??= `http://127.0.0.1:${env.PORT ?? 3000}`;

let config;
try {
  config = loadConfig(env);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    await shutdown(78);
  }
  throw err;
}

if (await ensureConsoleBuilt({ quiet: true })) say('Built the console (apps/console/dist).');
run('api', 'apps/api/src/main.ts');
const apiUrl = `http://127.0.0.1:${config.port}`;
await waitForPort(config.port, 60_000);
await waitForHealth(apiUrl, 60_000);
run('worker', 'apps/worker/src/main.ts');

say();
say('Parley is running.');
say(`  API             ${apiUrl}`);
say(`  Console         ${apiUrl}/console/`);
say(`  API reference   ${apiUrl}/docs`);
say(`  Database        ${embeddedPostgres ? `embedded PGlite (${path.relative(root, stateDir)}/pgdata)` : 'DATABASE_URL'}`);
say(`  Temporal        ${temporal ? `dev server ${temporal.address}, UI ${temporal.uiUrl}` : env.TEMPORAL_ADDRESS}`);
say(`  Meta Graph API  ${sandbox ? `sandbox ${sandbox.url} (stands in for Meta)` : config.meta.graphUrl}`);
if (createdSecrets.includes('PLATFORM_ADMIN_TOKEN')) {
  say();
  say(`Development secrets were generated and saved in ${path.relative(root, stateDir)}/dev-secrets.json (shown once).`);
  say(`  PLATFORM_ADMIN_TOKEN=${env.PLATFORM_ADMIN_TOKEN}`);
  say();
  say('Create an organization:');
  say(
    `  curl -s -X POST ${apiUrl}/v1/organizations -H "Authorization: Bearer ${env.PLATFORM_ADMIN_TOKEN}" -H "Content-Type: application/json" -d '{"name":"Acme","admin":{"email":"admin@acme.test","password":"change-me-please"}}'`,
  );
} else if (!process.env.PLATFORM_ADMIN_TOKEN) {
  say(`  Operator token  PLATFORM_ADMIN_TOKEN in ${path.relative(root, stateDir)}/dev-secrets.json`);
}
if (sandbox) {
  say();
  say(`Connect a sandbox number in the console: ${apiUrl}/console/channels → Connect WhatsApp. Or with curl`);
  say('(log in as the admin first: POST /v1/auth/login):');
  say(
    `  curl -s -X POST ${apiUrl}/v1/channels/whatsapp -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '{"code":"sandbox-code","wabaId":"100000000000001","phoneNumberId":"100000000000002","label":"Sandbox line"}'`,
  );
  say(
    `  curl -s -X POST ${sandbox.url}/_sandbox/inbound -H "Content-Type: application/json" -d '{"phoneNumberId":"100000000000002","from":"50212345678","name":"Ana","type":"text","text":"Hola"}'`,
  );
  say(`  curl -s ${apiUrl}/v1/conversations -H "Authorization: Bearer $TOKEN"`);
}
say();
say('Press Ctrl+C to stop.');
