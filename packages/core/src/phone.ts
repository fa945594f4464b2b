import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { ValidationError } from './errors';

/**
 * Phone numbers are stored and returned in E.164. Meta's `from`/`wa_id` carry no plus sign, so a
 * bare run of digits is read as international.
 */
export function toE164(input: string, path = 'phone'): string {
  const trimmed = input.trim();
  const candidate = trimmed.startsWith('00') ? `+${trimmed.slice(2)}` : /^\d{6,15}$/.test(trimmed) ? `+${trimmed}` : trimmed;
  const parsed = parsePhoneNumberFromString(candidate);
  if (!parsed || !parsed.isPossible()) {
    throw new ValidationError([{ path, message: 'Not a phone number in international format.' }], 'The phone number cannot be parsed.', 'invalid_phone');
  }
  return parsed.number;
}

/** Meta's `to` field: the E.164 number without the plus sign. */
export function toWaId(e164: string): string {
  return e164.replace(/^\+/, '');
}

/**
 * The E.164 number a WhatsApp id stands for, or null when none can be derived (a business-scoped
 * id, a masked test number). Mexico's mobiles are the one case where WhatsApp keeps a digit the
 * numbering plan dropped: `521` + ten digits is `+52` + those ten.
 */
export function phoneFromWaId(waId: string): string | null {
  const digits = waId.trim();
  if (!/^\d{6,15}$/.test(digits)) return null;
  const mexicanMobile = /^521(\d{10})$/.exec(digits);
  try {
    return toE164(mexicanMobile ? `52${mexicanMobile[1]}` : digits);
  } catch {
    return null;
  }
}
