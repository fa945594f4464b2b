import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { drift } from '../scripts/generate';

const run = promisify(execFile);
const sdk = fileURLToPath(new URL('..', import.meta.url));

describe('@parley/sdk as a package', () => {
  it('the committed OpenAPI document and types are what the current routes produce (else run npm run sdk:generate)', async () => {
    expect(await drift()).toEqual([]);
  });

  it('imports nothing at run time but openapi-fetch and its own files', async () => {
    const pkg = JSON.parse(await readFile(path.join(sdk, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; peerDependencies?: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).toEqual(['openapi-fetch']);
    const files = (await readdir(path.join(sdk, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
    const external = new Set<string>();
    for (const file of files) {
      const text = await readFile(path.join(sdk, 'src', file), 'utf8');
      for (const m of text.matchAll(/^(?:import|export)(\s+type)?[^'"]*from\s+'([^']+)'/gm)) {
        const [, typeOnly, spec = ''] = m;
        if (!typeOnly && !spec.startsWith('./') && !spec.startsWith('../')) external.add(`${spec} (${file})`);
      }
    }
    expect([...external]).toEqual(['openapi-fetch (client.ts)']);
  });

  it('builds with its own tsconfig to ESM that plain Node loads', async () => {
    // Inside the package (dist/ is not committed), so that Node finds openapi-fetch as an installed package would.
    await mkdir(path.join(sdk, 'dist'), { recursive: true });
    const out = await mkdtemp(path.join(sdk, 'dist', 'build-check-'));
    try {
      await run(process.execPath, [path.join(sdk, '../../node_modules/typescript/bin/tsc'), '-p', path.join(sdk, 'tsconfig.build.json'), '--outDir', out]);
      const entries = await readdir(out);
      expect(entries).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'webhook.js', 'router.js', 'adapters.js', 'client.js']));
      // Loaded by Node itself, without a TypeScript loader: relative specifiers must carry .js.
      const probe = `const m = await import(${JSON.stringify(path.join(out, 'index.js'))}); console.log(Object.keys(m).sort().join(','));`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: sdk });
      expect(stdout.trim().split(',')).toEqual(
        expect.arrayContaining(['createParleyClient', 'verifyWebhook', 'WebhookVerifier', 'createEventRouter', 'nodeWebhookHandler', 'expressWebhook', 'koaWebhook']),
      );
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
