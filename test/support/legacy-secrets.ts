import { createCipheriv, randomBytes } from 'node:crypto';
import type { CipherKey } from '@parley/core';

/** A secret as releases before record binding sealed it: `v1`, no additional data, a 16-byte tag. */
export function sealV1(k: CipherKey, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', k.key, iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', k.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
}
