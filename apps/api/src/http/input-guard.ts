import { type FieldProblem, hasUnstorableText, replaceUnstorableText, ValidationError } from '@parley/core';

/**
 * JSON deeper than this is refused before anything recursive (zod, the idempotency hash) walks it.
 * The API's own documents nest a handful of levels; Meta's send components about eight.
 */
export const MAX_JSON_DEPTH = 32;

/** Reported problems are capped: a body full of NULs needs one answer, not a megabyte of paths. */
const MAX_REPORTED = 20;
/** Field names are the client's text: a path echoed back is cut at this length. */
const MAX_PATH = 200;

/** A field name made safe to echo in a problem's path. */
const printable = (key: string) => replaceUnstorableText(key, () => '\ufffd');

/**
 * Refuses client input that no handler should ever see: nesting deeper than MAX_JSON_DEPTH (400
 * `nesting_too_deep`) and strings or field names holding NUL characters or unpaired surrogates (400
 * `invalid_characters`, with the path of each). The walk is iterative, so no input can exhaust the
 * stack; `where` prefixes the paths as the route's zod problems do (`query.cursor`). Without
 * `text`, only the nesting is judged (a signed Meta delivery keeps its characters, stored escaped).
 */
export function assertSafeInput(value: unknown, where?: 'query' | 'params', options: { text?: boolean } = {}): void {
  const checkText = options.text ?? true;
  const problems: FieldProblem[] = [];
  const report = (path: string, message: string) => {
    if (problems.length < MAX_REPORTED) problems.push({ path: path.length > MAX_PATH ? `${path.slice(0, MAX_PATH)}…` : path, message });
  };
  // Pushed in reverse, so problems come out in document order.
  const stack: { value: unknown; path: string; depth: number; key?: string }[] = [{ value, path: where ?? '', depth: 0 }];
  const join = (path: string, key: string) => (path ? `${path}.${key}` : key);
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value: v, path, depth, key } = item;
    if (checkText && key !== undefined && hasUnstorableText(key)) report(path, 'Field names must not contain NUL characters or unpaired UTF-16 surrogates.');
    if (typeof v === 'string') {
      if (checkText && hasUnstorableText(v)) report(path, 'Text must not contain NUL characters or unpaired UTF-16 surrogates.');
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) {
      throw new ValidationError(
        [{ path, message: `Nesting is limited to ${MAX_JSON_DEPTH} levels.` }],
        `JSON nested deeper than ${MAX_JSON_DEPTH} levels is not accepted.`,
        'nesting_too_deep',
      );
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: join(path, String(i)), depth: depth + 1 });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      stack.push({ value: (v as Record<string, unknown>)[k], path: join(path, printable(k)), depth: depth + 1, key: k });
    }
  }
  if (problems.length > 0) {
    throw new ValidationError(problems, 'Text must not contain NUL characters or unpaired UTF-16 surrogates.', 'invalid_characters');
  }
}
