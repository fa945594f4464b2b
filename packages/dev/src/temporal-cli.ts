import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Where the Temporal CLI is: $TEMPORAL_CLI, then PATH, then Go's bin folder. */
export function findTemporalCli(): string | undefined {
  const candidates = [
    process.env.TEMPORAL_CLI,
    ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'temporal')),
    path.join(process.env.GOBIN ?? path.join(process.env.GOPATH ?? path.join(os.homedir(), 'go'), 'bin'), 'temporal'),
  ];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `temporal server start-dev` on free ports; `dbFile` keeps its state between runs. */
export async function startTemporalDevServer(options: { dbFile?: string; ui?: boolean; log?: (line: string) => void } = {}): Promise<DevServer> {
  const cli = findTemporalCli();
  if (!cli) {
    throw new Error(
      'The Temporal CLI was not found. Install it with `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` or set TEMPORAL_ADDRESS.',
    );
  }
  const port = await freePort();
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'];
  // Eager workflow start and eager activity dispatch are server flags: a bot session's first
  // request then skips the task-queue polls (deploy/compose.yaml sets the same; docs/deploy.md, "Temporal in compose").
  args.push('--dynamic-config-value', 'system.enableEagerWorkflowStart=true', '--dynamic-config-value', 'system.enableActivityEagerExecution=true');
  let uiPort: number | undefined;
  if (options.ui) {
    uiPort = await freePort();
    args.push('--ui-port', String(uiPort));
  } else {
    args.push('--headless');
  }
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const onData = (chunk: Buffer) => options.log?.(chunk.toString());
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`temporal exited with ${code}`))));
  await Promise.race([waitForPort(port, 60_000), exited]);
  exited.catch(() => undefined);
  return {
    address: `127.0.0.1:${port}`,
    ...(uiPort ? { uiUrl: `http://127.0.0.1:${uiPort}` } : {}),
    process: child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    },
  };
}
