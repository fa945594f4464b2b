import type { FieldProblem } from '@parley/core';

/*
 * Placeholders in routing texts: `{{contact.name}}`, `{{data.order.status}}`, with an optional
 * fallback after a bar, `{{contact.name | there}}`. Names are checked when a text is saved (every
 * name must have a source), so at run time a missing value (a contact without a profile name, a
 * URL request that failed, a variable set on another branch) renders as the fallback, or empty.
 */

/** The fixed placeholders and what gives them a value. `data.<variable>` is checked against the tree's variables. */
export const PLACEHOLDERS = {
  'contact.name': 'The contact’s WhatsApp profile name (or the name saved on the contact).',
  'contact.phone': 'The contact’s phone number, E.164.',
  'conversation.id': 'The conversation’s id.',
  'queue.position': 'The conversation’s position in its queue (1 is next).',
  'queue.averageWaitMinutes': 'The queue’s recent average wait, in whole minutes.',
  'queue.name': 'The queue’s name.',
} as const;
export type PlaceholderName = keyof typeof PLACEHOLDERS;

/** What a decision tree's texts may use: queue figures are not known before the chat reaches a queue. */
export const TREE_PLACEHOLDERS: readonly PlaceholderName[] = ['contact.name', 'contact.phone', 'conversation.id'];
/** What a message sent while the chat waits in a queue may use. */
export const QUEUE_TEMPLATE_PLACEHOLDERS: readonly PlaceholderName[] = [...TREE_PLACEHOLDERS, 'queue.position', 'queue.averageWaitMinutes', 'queue.name'];

export interface PlaceholderSources {
  contact?: { name?: string | null | undefined; phone?: string | null | undefined } | undefined;
  conversation?: { id?: string | null | undefined } | undefined;
  /** Saved data and URL results, by variable name; a URL result may be any JSON value. */
  data?: Record<string, unknown> | undefined;
  queue?: { position?: number | null | undefined; averageWaitMinutes?: number | null | undefined; name?: string | null | undefined } | undefined;
}

export interface PlaceholderUse {
  /** The whole `{{...}}` as written. */
  raw: string;
  /** The dotted name, trimmed: `contact.name`, `data.order.status`. */
  name: string;
  fallback: string | undefined;
  index: number;
}

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/;
/** Variable names for `data.<name>`: what save-data keys, URL-result variables and saved answers may be called. */
export const VARIABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

export function placeholdersIn(text: string): PlaceholderUse[] {
  const uses: PlaceholderUse[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) {
    const inner = m[1] ?? '';
    const bar = inner.indexOf('|');
    const name = (bar < 0 ? inner : inner.slice(0, bar)).trim();
    const fallback = bar < 0 ? undefined : inner.slice(bar + 1).trim();
    uses.push({ raw: m[0], name, fallback, index: m.index });
  }
  return uses;
}

export interface TemplateCheck {
  /** The fixed placeholders this text may use. */
  allowed: readonly string[];
  /** Variables `data.<name>` may name; none when absent. */
  variables?: ReadonlySet<string> | undefined;
}

/** Problems with a text's placeholders, each at `path`: malformed ones, and names without a source. */
export function checkTemplate(text: string, check: TemplateCheck, path: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const use of placeholdersIn(text)) {
    if (!NAME.test(use.name)) {
      problems.push({ path, message: `${use.raw} is not a placeholder name (use letters, digits, _ and dots, as in {{contact.name}}).` });
      continue;
    }
    if (use.name.startsWith('data.')) {
      const variable = use.name.split('.')[1] ?? '';
      if (!check.variables?.has(variable)) {
        problems.push({ path, message: `${use.raw}: no action saves a variable named "${variable}" (save data, request data or a saved answer).` });
      }
    } else if (!check.allowed.includes(use.name)) {
      problems.push({ path, message: `${use.raw} has no source here; known: ${[...check.allowed, 'data.<variable>'].join(', ')}.` });
    }
  }
  // Whatever braces are left after the well-formed placeholders are taken out is a typo such as `{{contact.name}`.
  if (text.replace(PLACEHOLDER, '').includes('{{')) problems.push({ path, message: 'An unclosed {{ placeholder.' });
  return problems;
}

function lookup(sources: PlaceholderSources, name: string): unknown {
  let value: unknown = sources;
  for (const key of name.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function show(value: unknown): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

export interface FillOptions {
  /** Applied to each value put in, fallbacks included: encodeURIComponent for URL templates. */
  encode?: ((value: string) => string) | undefined;
}

/**
 * The text with each placeholder replaced by its value; a value that is missing renders as the
 * placeholder's fallback, or empty (the validator has made sure every name has a source). Objects
 * from URL results render as JSON.
 */
export function fillTemplate(text: string, sources: PlaceholderSources, options: FillOptions = {}): string {
  return text.replace(PLACEHOLDER, (raw, inner: string) => {
    const bar = inner.indexOf('|');
    const name = (bar < 0 ? inner : inner.slice(0, bar)).trim();
    if (!NAME.test(name)) return raw;
    const value = show(lookup(sources, name)) ?? (bar < 0 ? '' : inner.slice(bar + 1).trim());
    return options.encode && value ? options.encode(value) : value;
  });
}
