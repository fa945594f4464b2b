/**
 * Text PostgreSQL cannot store: NUL (refused in text and jsonb) and unpaired UTF-16 surrogates (not
 * Unicode at all; refused in jsonb), which JSON's `\u0000` and `\ud800` escapes can carry in.
 */
const UNSTORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

export function hasUnstorableText(text: string): boolean {
  return UNSTORABLE.test(text);
}

/** `text` with each NUL or unpaired surrogate replaced by what `by` makes of it. */
export function replaceUnstorableText(text: string, by: (character: string) => string): string {
  return text.replace(UNSTORABLE_ALL, by);
}
