import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto';

// Parley deduplicates on wamid across its whole history, so ids must not repeat when the sandbox
// restarts against a database that outlives it: every process gets its own random prefix.
const instance = randomBytes(5).toString('hex');
const numericPrefix = String(randomInt(1_000_000, 10_000_000));
let counter = 0;

/** Digits only, as Meta's `wa_id` and webhook `from` carry numbers. */
export function digitsOf(phone: string): string {
  return phone.replace(/\D+/g, '');
}

/**
 * The WhatsApp id Meta answers a send with. For most numbers it is the number written to; a
 * Brazilian mobile whose account predates the ninth digit keeps its old eight-digit form, so a
 * send to `55 DD 9XXXX-XXXX` is answered with (and replied to from) `55 DD XXXX-XXXX`. The sandbox
 * does that for every Brazilian mobile, so clients meet the case on every run.
 */
export function whatsappIdOf(waId: string): string {
  const brazilianMobile = /^55(\d{2})9(\d{8})$/.exec(waId);
  return brazilianMobile ? `55${brazilianMobile[1]}${brazilianMobile[2]}` : waId;
}

/**
 * A unique message id in Meta's look (`wamid.` + base64 of a protobuf-like frame holding the
 * contact's number), cheap enough for the send path: no hashing, one small buffer.
 */
export function newWamid(waId: string): string {
  counter += 1;
  const frame = `\x1c\x18${String.fromCharCode(waId.length & 0x7f)}${waId}\x15\x02\x00\x11\x18\x12${instance}${counter.toString(16).padStart(8, '0')}\x00`;
  return `wamid.${Buffer.from(frame, 'latin1').toString('base64')}`;
}

/** Numeric ids like Meta's media and object ids (15 digits, unique per process run). */
export function newNumericId(): string {
  counter += 1;
  return `${numericPrefix}${String(counter).padStart(8, '0')}`;
}

/** `length` decimal digits derived from `seed`, never starting with 0. */
export function stableDigits(seed: string, length: number): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  let out = '';
  for (let i = 0; out.length < length; i += 12) out += BigInt(`0x${hex.slice(i % 60, (i % 60) + 12)}`).toString().slice(-12);
  out = out.slice(0, length);
  return out[0] === '0' ? `1${out.slice(1)}` : out;
}

/** Webhook metadata carries digits only (`15550253483`); the phone-number node shows it formatted. */
export function displayDigitsFor(phoneNumberId: string): string {
  return `1555${stableDigits(`display:${phoneNumberId}`, 7)}`;
}

export function formatDisplayNumber(digits: string): string {
  const m = /^1(\d{3})(\d{3})(\d{4})$/.exec(digits);
  return m ? `+1 ${m[1]}-${m[2]}-${m[3]}` : `+${digits}`;
}

/** The WABA a phone number falls back to when nothing ever linked it to one. */
export function defaultWabaIdFor(phoneNumberId: string): string {
  return stableDigits(`waba:${phoneNumberId}`, 15);
}

/**
 * Meta's conversation ids are 32 hex characters, stable for a business/user/category window.
 * Four FNV-1a lanes instead of a crypto hash: this runs for two of every three status webhooks.
 */
export function conversationIdFor(phoneNumberId: string, waId: string, category: string, day: number): string {
  const key = `${phoneNumberId}|${waId}|${category}|${day}`;
  let out = '';
  for (let lane = 0; lane < 4; lane++) {
    let h = (0x811c9dc5 ^ Math.imul(lane + 1, 0x9e3779b1)) >>> 0;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
    out += h.toString(16).padStart(8, '0');
  }
  return out;
}

const TOKEN_PREFIX = 'sandbox-token-';

/**
 * Tokens carry a MAC keyed with the app secret so the ones Parley stored keep working when the
 * sandbox restarts in local development (it keeps no state on disk).
 */
export function newBusinessToken(appSecret: string): string {
  const nonce = randomBytes(12).toString('hex');
  return `${TOKEN_PREFIX}${nonce}${tokenMac(appSecret, nonce)}`;
}

export function isSignedBusinessToken(appSecret: string, token: string): boolean {
  if (!token.startsWith(TOKEN_PREFIX) || token.length !== TOKEN_PREFIX.length + 40) return false;
  const nonce = token.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + 24);
  return tokenMac(appSecret, nonce) === token.slice(TOKEN_PREFIX.length + 24);
}

function tokenMac(appSecret: string, nonce: string): string {
  return createHmac('sha256', appSecret).update(`sandbox-token:${nonce}`).digest('hex').slice(0, 16);
}

export function unixSeconds(ms = Date.now()): string {
  return String(Math.floor(ms / 1000));
}
