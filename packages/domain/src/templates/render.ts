/*
 * Parley's own per-recipient placeholders, `{{ key }}`, inside the *values* a client sends. They
 * are unrelated to Meta's `{{1}}` / `{{name}}` variables inside the template *text*: the key must
 * start with a letter or underscore, so a value holding a literal `{{1}}` is left alone.
 */
import type { FieldProblem } from '@parley/core';

export const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.]*)\s*\}\}/g;

export interface PlaceholderValues {
  /** The recipient's own values; they win over the defaults. */
  recipientParams?: Readonly<Record<string, string>>;
  /** The request's default params, used where the recipient has no value. */
  defaultParams?: Readonly<Record<string, string>>;
}

/** The placeholder keys a value uses, each once, in order of appearance. */
export function placeholderKeys(value: string): string[] {
  return [...new Set([...value.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

// An empty value counts as none: a CSV cell left blank must fall back to the default, and an empty
// default must not turn "Hi {{ name }}" into "Hi " on a customer's phone.
function lookup(map: Readonly<Record<string, unknown>> | undefined, key: string): string | undefined {
  if (!map || !Object.hasOwn(map, key)) return undefined;
  const v = map[key];
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  return s !== undefined && s.trim() !== '' ? s : undefined;
}

function resolvePlaceholder(values: PlaceholderValues, key: string): string | undefined {
  return lookup(values.recipientParams, key) ?? lookup(values.defaultParams, key);
}

export class PlaceholderRenderer {
  constructor(
    private readonly values: PlaceholderValues,
    private readonly problems: FieldProblem[],
  ) {}

  /**
   * Fills one string in a single pass, so a value that itself contains `{{ x }}` is not expanded
   * again. Returns undefined (after recording a problem per missing key) when any key has no value.
   */
  string(value: string, path: string): string | undefined {
    const missing = placeholderKeys(value).filter((k) => this.resolve(k) === undefined);
    for (const key of missing) {
      this.problems.push({
        path,
        message: `No value for placeholder {{ ${key} }}: it is neither in the recipient's params nor in the default params.`,
      });
    }
    if (missing.length) return undefined;
    return value.replace(PLACEHOLDER, (_whole, key: string) => this.resolve(key)!);
  }

  /**
   * Fills every string inside a JSON value except under `skip` keys (structural ones such as
   * `type`). `ok` is false when any placeholder had no value.
   */
  deep(value: unknown, path: string, skip: ReadonlySet<string> = new Set()): { value: unknown; ok: boolean } {
    if (typeof value === 'string') {
      const out = this.string(value, path);
      return out === undefined ? { value, ok: false } : { value: out, ok: true };
    }
    if (Array.isArray(value)) {
      let ok = true;
      const out = value.map((v, i) => {
        const r = this.deep(v, `${path}.${i}`, skip);
        ok &&= r.ok;
        return r.value;
      });
      return { value: out, ok };
    }
    if (typeof value === 'object' && value !== null) {
      let ok = true;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (skip.has(k)) {
          Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
          continue;
        }
        const r = this.deep(v, `${path}.${k}`, skip);
        ok &&= r.ok;
        // defineProperty, not assignment: a JSON key "__proto__" must stay data, not become a prototype.
        Object.defineProperty(out, k, { value: r.value, enumerable: true, writable: true, configurable: true });
      }
      return { value: out, ok };
    }
    return { value, ok: true };
  }

  private resolve(key: string): string | undefined {
    return resolvePlaceholder(this.values, key);
  }
}

/**
 * Fills what it can of a string, for previews: keys without a value stay as written and are
 * listed in `missing` instead of being reported as problems.
 */
export function renderPlaceholders(value: string, values: PlaceholderValues): { text: string; missing: string[] } {
  const missing = placeholderKeys(value).filter((k) => resolvePlaceholder(values, k) === undefined);
  return { text: value.replace(PLACEHOLDER, (whole, key: string) => resolvePlaceholder(values, key) ?? whole), missing };
}
