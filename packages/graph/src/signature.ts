import { createHmac, timingSafeEqual } from 'node:crypto';

const HEADER_PATTERN = /^sha256=([0-9a-fA-F]{64})$/;

/** The `X-Hub-Signature-256` value Meta would send for this body: `sha256=<hex HMAC-SHA256>`. */
export function signMetaPayload(rawBody: Buffer | Uint8Array | string, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

/**
 * Checks `X-Hub-Signature-256` against the exact bytes received: re-serialising parsed JSON would
 * change whitespace and escapes and so the digest. Missing, malformed or wrong signatures are all
 * just `false`, so the webhook answers every one of them alike.
 */
export function verifyMetaSignature(rawBody: Buffer | Uint8Array, header: string | undefined, appSecret: string): boolean {
  // An empty secret would make the signature computable by anyone; treat it as misconfiguration.
  if (!appSecret || typeof header !== 'string') return false;
  const match = HEADER_PATTERN.exec(header.trim());
  if (!match) return false;
  const received = Buffer.from(match[1]!, 'hex');
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  // Both are 32 bytes (the pattern fixes the length), as timingSafeEqual requires.
  return timingSafeEqual(received, expected);
}
