import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(import.meta.dirname, '..');
export const CONSOLE_DIST = path.join(root, 'dist');

/** The newest modification time among the files the build reads. */
async function newestSource(): Promise<number> {
  let newest = 0;
  const visit = async (entry: string): Promise<void> => {
    const s = await stat(entry).catch(() => undefined);
    if (!s) return;
    if (s.isDirectory()) {
      for (const child of await readdir(entry)) await visit(path.join(entry, child));
    } else if (!/\.test\.tsx?$/.test(entry)) newest = Math.max(newest, s.mtimeMs);
  };
  for (const entry of ['src', 'index.html', 'vite.config.ts', 'package.json', '../../packages/sdk/src/generated/openapi.ts']) await visit(path.join(root, entry));
  return newest;
}

/**
 * Builds the console when dist is missing or older than its sources; answers whether it built.
 * `npm start` and the browser tests call it, so neither serves a stale console.
 */
export async function ensureConsoleBuilt(options: { quiet?: boolean } = {}): Promise<boolean> {
  const built = await stat(path.join(CONSOLE_DIST, 'index.html')).catch(() => undefined);
  if (built && built.mtimeMs >= (await newestSource())) return false;
  // In a process of its own with NODE_ENV=production: started from a test run (NODE_ENV=test),
  // Vite would otherwise compile JSX for React's development runtime.
  const vite = path.join(path.dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  await promisify(execFile)(process.execPath, [vite, 'build', '--logLevel', options.quiet ? 'warn' : 'info'], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  return true;
}
