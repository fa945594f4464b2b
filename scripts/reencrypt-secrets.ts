/**
 * `npm run secrets:reencrypt`: rewrites every secret stored at rest with the current
 * ENCRYPTION_KEY, bound to its record. Run it after rotating the key (the old one listed in
 * ENCRYPTION_KEYS_PREVIOUS) and after upgrading from a release that wrote v1 ciphertexts; once it
 * reports nothing unreadable, the previous keys can be dropped. Safe to repeat and to run while
 * the platform is up.
 */
import { loadConfigOrExit } from '@parley/config';
import { createLogger, SecretBox } from '@parley/core';
import { createOrm } from '@parley/db';
import { reencryptSecrets } from '@parley/domain';

const config = loadConfigOrExit();
if (!config.database.url) {
  console.error('DATABASE_URL must name the database whose secrets to re-encrypt.');
  process.exit(2);
}
const logger = createLogger({ level: config.logLevel, name: 'secrets-reencrypt' });
const orm = await createOrm({ url: config.database.url, poolMax: 2 });
try {
  const results = await reencryptSecrets(orm, new SecretBox(config.encryptionKey), { logger });
  for (const r of results) {
    console.log(`${r.table}.${r.column}: ${r.scanned} scanned, ${r.rewritten} rewritten, ${r.unreadable.length} unreadable`);
  }
  if (results.some((r) => r.unreadable.length)) {
    console.error('Some secrets could not be opened with ENCRYPTION_KEY or ENCRYPTION_KEYS_PREVIOUS; keep the previous keys until they are.');
    process.exitCode = 1;
  }
} finally {
  await orm.close(true);
}
