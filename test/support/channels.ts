import { randomInt } from 'node:crypto';
import { SecretBox } from '@parley/core';
import { Channel } from '@parley/db';
import type { TestApi } from './api';

export function metaId(): string {
  return String(randomInt(100_000_000, 999_999_999)) + String(randomInt(100_000, 999_999));
}

/** A connected channel written straight to the database, for tests that are not about signup. */
export async function insertChannel(
  api: TestApi,
  organizationId: string,
  options: { phoneNumberId?: string; wabaId?: string; token?: string } = {},
): Promise<Channel> {
  const box = new SecretBox(api.config.encryptionKey);
  const channel = new Channel(
    organizationId,
    'Support line',
    options.wabaId ?? metaId(),
    options.phoneNumberId ?? metaId(),
    '+1 555-000-1111',
    'Acme Support',
    '',
  );
  channel.businessTokenCiphertext = box.encrypt(options.token ?? 'business-token-for-tests', channel.id);
  await api.orm.em.fork().persistAndFlush(channel);
  return channel;
}
