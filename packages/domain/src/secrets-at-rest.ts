import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger, SecretBox } from '@parley/core';

/**
 * Every column that holds a SecretBox ciphertext, with the id it is bound to as additional data.
 * A new encrypted column is listed here, so re-encryption reaches it.
 */
export const SEALED_COLUMNS = [
  { table: 'channels', column: 'business_token_ciphertext', owner: 'id', ownerType: 'uuid' },
  { table: 'webhook_subscriptions', column: 'secret_ciphertext', owner: 'id', ownerType: 'uuid' },
  { table: 'webhook_subscriptions', column: 'previous_secret_ciphertext', owner: 'id', ownerType: 'uuid' },
  { table: 'routing_chatbot_secrets', column: 'secret_ciphertext', owner: 'id', ownerType: 'uuid' },
  { table: 'routing_sessions', column: 'callback_token_ciphertext', owner: 'id', ownerType: 'uuid' },
] as const;

export interface ReencryptionResult {
  table: string;
  column: string;
  scanned: number;
  rewritten: number;
  /** Ids of rows no configured key opens (a key missing from ENCRYPTION_KEYS_PREVIOUS). */
  unreadable: string[];
}

/**
 * Rewrites every stored secret not yet sealed by the current key and bound to its owner, in
 * batches walked by id. Each row is replaced only if it still holds what was read, so a write
 * made meanwhile (a reconnect, a disconnect) is never overwritten; running it again changes
 * nothing once all rows are current.
 */
export async function reencryptSecrets(
  orm: MikroORM,
  box: SecretBox,
  options: { batchSize?: number; logger?: Logger } = {},
): Promise<ReencryptionResult[]> {
  const batchSize = options.batchSize ?? 500;
  const results: ReencryptionResult[] = [];
  for (const { table, column, owner, ownerType } of SEALED_COLUMNS) {
    const result: ReencryptionResult = { table, column, scanned: 0, rewritten: 0, unreadable: [] };
    const connection = orm.em.fork().getConnection();
    let after: string | null = null;
    for (;;) {
      const rows: { owner: string; sealed: string }[] = await connection.execute(
        `select "${owner}"::text as owner, "${column}" as sealed from "${table}"
         where "${column}" is not null ${after === null ? '' : `and "${owner}" > ?`}
         order by "${owner}" limit ?`,
        after === null ? [batchSize] : [after, batchSize],
      );
      if (!rows.length) break;
      after = rows.at(-1)!.owner;
      result.scanned += rows.length;
      const changes: [string, string, string][] = [];
      for (const row of rows) {
        if (box.isCurrent(row.sealed)) continue;
        try {
          changes.push([row.owner, row.sealed, box.encrypt(box.decrypt(row.sealed, row.owner), row.owner)]);
        } catch {
          result.unreadable.push(row.owner);
        }
      }
      if (changes.length) {
        const updated = await connection.execute<{ affectedRows: number }>(
          `update "${table}" t set "${column}" = v.fresh
           from (values ${changes.map(() => `(?::${ownerType}, ?, ?)`).join(', ')}) as v(owner, stale, fresh)
           where t."${owner}" = v.owner and t."${column}" = v.stale`,
          changes.flat(),
          'run',
        );
        result.rewritten += updated.affectedRows;
      }
      options.logger?.info({ table, column, scanned: result.scanned, rewritten: result.rewritten }, 're-encryption progress');
    }
    if (result.unreadable.length) {
      options.logger?.error({ table, column, ids: result.unreadable }, 'secrets no configured key can open');
    }
    results.push(result);
  }
  return results;
}
