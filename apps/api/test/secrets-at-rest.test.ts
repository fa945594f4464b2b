import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecretBox } from '@parley/core';
import { reencryptSecrets } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, startTestApi, type Tenant, type TestApi } from '../../../test/support/api';
import { insertChannel } from '../../../test/support/channels';
import { sealV1 } from '../../../test/support/legacy-secrets';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// Keys of this file alone: re-encryption walks the whole (shared) table, and rows of other test
// files, sealed with the usual test key, must stay unreadable to it and so untouched.
const previousKey = randomBytes(32);
const currentKey = randomBytes(32);
const env = { ENCRYPTION_KEY: currentKey.toString('hex'), ENCRYPTION_KEYS_PREVIOUS: previousKey.toString('base64') };

let api: TestApi;
let before: TestApi;
let t: Tenant;
beforeAll(async () => {
  // `before` is the platform before the rotation: the previous key is its current one.
  [api, before] = await Promise.all([startTestApi({ env }), startTestApi({ env: { ENCRYPTION_KEY: previousKey.toString('hex') } })]);
  t = await createTenant(api);
});
afterAll(async () => Promise.all([api.close(), before.close()]));

async function stored(channelId: string): Promise<string> {
  const [row] = await api.orm.em.fork().getConnection().execute<{ c: string }[]>('select business_token_ciphertext as c from channels where id = ?', [channelId]);
  return row!.c;
}

async function store(channelId: string, ciphertext: string): Promise<void> {
  await api.orm.em.fork().getConnection().execute('update channels set business_token_ciphertext = ? where id = ?', [ciphertext, channelId]);
}

const token = (channelId: string) => api.app.services.channels.businessToken(api.orm.em.fork(), channelId);

describe('secrets at rest', () => {
  it('do not open on another record: a ciphertext copied onto another channel is refused', async () => {
    const a = await insertChannel(api, t.organizationId, { token: 'token of channel a' });
    const b = await insertChannel(api, t.organizationId, { token: 'token of channel b' });
    expect(await token(a.id)).toBe('token of channel a');
    await store(b.id, await stored(a.id));
    await expect(token(b.id)).rejects.toThrow();
  });

  it('written before a rotation stay readable after it, and new ones use the current key', async () => {
    const old = await insertChannel(before, t.organizationId, { token: 'sealed before rotation' });
    expect((await stored(old.id)).split('.')[1]).toBe(before.config.encryptionKey.id);
    expect(await token(old.id)).toBe('sealed before rotation');

    const fresh = await insertChannel(api, t.organizationId, { token: 'sealed after rotation' });
    expect((await stored(fresh.id)).split('.').slice(0, 2)).toEqual(['v2', api.config.encryptionKey.id]);
    expect(api.config.encryptionKey.id).not.toBe(before.config.encryptionKey.id);
    await expect(before.app.services.channels.businessToken(before.orm.em.fork(), fresh.id)).rejects.toThrow(/No encryption key/);
  });

  it('are rewritten by the re-encryption command with the current key and their record, idempotently', async () => {
    const legacy = await insertChannel(api, t.organizationId);
    await store(legacy.id, sealV1({ id: before.config.encryptionKey.id, key: previousKey }, 'legacy v1 token'));
    const rotated = await insertChannel(before, t.organizationId, { token: 'previous key token' });
    const current = await insertChannel(api, t.organizationId, { token: 'current token' });
    const currentBefore = await stored(current.id);
    const lost = await insertChannel(api, t.organizationId);
    await store(lost.id, new SecretBox({ id: 'gone', key: randomBytes(32) }).encrypt('sealed by a key nobody has', lost.id));
    const lostBefore = await stored(lost.id);

    const box = new SecretBox(api.config.encryptionKey);
    const [first] = await reencryptSecrets(api.orm, box, { batchSize: 2 });
    expect(first).toMatchObject({ table: 'channels', column: 'business_token_ciphertext' });
    // At least these two; rows left by the other tests of this file may be stale as well.
    expect(first!.rewritten).toBeGreaterThanOrEqual(2);
    expect(first!.scanned).toBeGreaterThanOrEqual(4);
    expect(first!.unreadable).toContain(lost.id);

    for (const [id, plain] of [[legacy.id, 'legacy v1 token'], [rotated.id, 'previous key token'], [current.id, 'current token']] as const) {
      const sealed = await stored(id);
      expect(sealed.split('.').slice(0, 2)).toEqual(['v2', api.config.encryptionKey.id]);
      // Readable with the current key alone, and only for its own record.
      const currentOnly = new SecretBox({ id: api.config.encryptionKey.id, key: currentKey });
      expect(currentOnly.decrypt(sealed, id)).toBe(plain);
      expect(() => currentOnly.decrypt(sealed, lost.id)).toThrow();
      expect(await token(id)).toBe(plain);
    }
    expect(await stored(current.id)).toBe(currentBefore);
    expect(await stored(lost.id)).toBe(lostBefore);

    const mine = [legacy.id, rotated.id, current.id];
    const snapshot = await Promise.all(mine.map(stored));
    const [second] = await reencryptSecrets(api.orm, box, { batchSize: 2 });
    expect(second!.rewritten).toBe(0);
    expect(await Promise.all(mine.map(stored))).toEqual(snapshot);
  });

  it('are re-encrypted by `npm run secrets:reencrypt`, which names what it could not open', async () => {
    const rotated = await insertChannel(before, t.organizationId, { token: 'rotated by the command' });
    const lost = await insertChannel(api, t.organizationId);
    await store(lost.id, new SecretBox({ id: 'gone', key: randomBytes(32) }).encrypt('x', lost.id));
    const child = spawn('npm', ['run', '--silent', 'secrets:reencrypt'], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: api.config.database.url, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stdout).toMatch(/^channels\.business_token_ciphertext: \d+ scanned, \d+ rewritten, \d+ unreadable$/m);
    expect(code).toBe(1);
    expect(stderr).toContain('ENCRYPTION_KEYS_PREVIOUS');
    expect((await stored(rotated.id)).split('.').slice(0, 2)).toEqual(['v2', api.config.encryptionKey.id]);
    expect(await token(rotated.id)).toBe('rotated by the command');
  }, 60_000);
});
