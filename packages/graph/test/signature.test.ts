import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signMetaPayload, verifyMetaSignature } from '@parley/graph';

const SECRET = 'meta-app-secret';
const BODY = Buffer.from('{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[]}]}');

describe('signMetaPayload', () => {
  it('is sha256=<hex HMAC-SHA256 of the raw bytes keyed with the app secret>', () => {
    const expected = createHmac('sha256', SECRET).update(BODY).digest('hex');
    expect(signMetaPayload(BODY, SECRET)).toBe(`sha256=${expected}`);
    expect(signMetaPayload(BODY.toString('utf8'), SECRET)).toBe(`sha256=${expected}`);
  });
});

describe('verifyMetaSignature', () => {
  const header = signMetaPayload(BODY, SECRET);

  it('accepts the signature of the exact bytes', () => {
    expect(verifyMetaSignature(BODY, header, SECRET)).toBe(true);
    expect(verifyMetaSignature(BODY, header.toUpperCase().replace('SHA256=', 'sha256='), SECRET)).toBe(true);
    expect(verifyMetaSignature(new Uint8Array(BODY), header, SECRET)).toBe(true);
  });

  it('covers unicode bodies byte for byte', () => {
    const body = Buffer.from('{"text":"héllo ✓ \\u00e9"}');
    expect(verifyMetaSignature(body, signMetaPayload(body, SECRET), SECRET)).toBe(true);
    // The same JSON re-serialised differently is other bytes, and so fails.
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString())));
    expect(verifyMetaSignature(reserialised, signMetaPayload(body, SECRET), SECRET)).toBe(false);
  });

  it('rejects a changed body, another secret, or a one-bit change in the digest', () => {
    expect(verifyMetaSignature(Buffer.concat([BODY, Buffer.from(' ')]), header, SECRET)).toBe(false);
    expect(verifyMetaSignature(BODY, header, 'other-secret')).toBe(false);
    const last = header.at(-1) === '0' ? '1' : '0';
    expect(verifyMetaSignature(BODY, header.slice(0, -1) + last, SECRET)).toBe(false);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['no prefix', signMetaPayload(BODY, SECRET).slice('sha256='.length)],
    ['sha1 prefix', signMetaPayload(BODY, SECRET).replace('sha256=', 'sha1=')],
    ['truncated', signMetaPayload(BODY, SECRET).slice(0, -2)],
    ['too long', `${signMetaPayload(BODY, SECRET)}00`],
    ['not hex', `sha256=${'z'.repeat(64)}`],
    ['two values', `${signMetaPayload(BODY, SECRET)},${signMetaPayload(BODY, SECRET)}`],
  ])('rejects a %s header without throwing', (_name, value) => {
    expect(verifyMetaSignature(BODY, value, SECRET)).toBe(false);
  });

  it('rejects everything when the app secret is empty, even a signature made with it', () => {
    expect(verifyMetaSignature(BODY, signMetaPayload(BODY, ''), '')).toBe(false);
  });
});
