/*
 * Reads a synced template definition (Meta's GET /{waba}/message_templates components, stored
 * verbatim) into the few facts a send has to satisfy. Definitions come from the database as
 * `unknown[]`, so every field is checked for shape here instead of trusted: a template Meta adds a
 * new kind of component to must degrade into a clear problem, never a crash.
 */

export type ParameterFormat = 'POSITIONAL' | 'NAMED';

/** A template as stored after a sync (the `templates` row); `components` are Meta's, verbatim. */
export interface TemplateDefinition {
  name: string;
  language: string;
  status: string;
  category: string;
  parameterFormat: ParameterFormat;
  components: readonly unknown[];
}

export type MediaHeaderFormat = 'IMAGE' | 'VIDEO' | 'DOCUMENT';

export type HeaderSpec =
  | { format: 'TEXT'; text: string; variable: string | null }
  | { format: MediaHeaderFormat }
  | { format: 'LOCATION' };

/**
 * `url` is a URL button (static when `variable` is false); `otp` an authentication code button,
 * which Meta returns either as type OTP or as a URL button pointing at whatsapp.com/otp.
 */
export type ButtonKind = 'quick_reply' | 'url' | 'otp' | 'copy_code' | 'flow' | 'catalog' | 'mpm' | 'fixed';

export type ButtonParameterType = 'text' | 'payload' | 'coupon_code' | 'action';

export interface ButtonSpec {
  index: number;
  /** Meta's definition type as synced, e.g. `URL`, `QUICK_REPLY`, `PHONE_NUMBER`. */
  type: string;
  kind: ButtonKind;
  text: string | null;
  url: string | null;
  /** The `sub_type` a send component for this button must carry; null when none may be sent. */
  subType: string | null;
  /** The type of the single parameter the button takes, or null when it takes none. */
  parameter: ButtonParameterType | null;
  /** Whether Meta rejects a send that leaves this button's component out. */
  required: boolean;
  /** Whether a component for it, when sent, must carry exactly one parameter (not at most one). */
  parameterRequired: boolean;
  /** For URL buttons with a `{{1}}` suffix: the example suffix from the definition, if any. */
  example: string | null;
}

export interface VariableSpec {
  /** `1`, `2`, ... for POSITIONAL templates; the variable name for NAMED ones. */
  name: string;
  example: string | null;
}

export interface TemplateSpec {
  format: ParameterFormat;
  header: HeaderSpec | null;
  headerExample: string | null;
  body: { text: string; variables: VariableSpec[] } | null;
  footer: string | null;
  buttons: ButtonSpec[];
  /** Definition component types Parley cannot build a send for (CAROUSEL, LIMITED_TIME_OFFER, ...). */
  unsupported: string[];
}

const VARIABLE = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/**
 * The distinct variables of a definition text in the order a positional send lists them. Meta
 * numbers positional variables 1..n but only its approval process guarantees that, so they are
 * sorted numerically rather than assumed contiguous.
 */
export function textVariables(text: string, format: ParameterFormat): string[] {
  const seen = new Set<string>();
  for (const m of text.matchAll(VARIABLE)) seen.add(m[1]!);
  const all = [...seen];
  if (format === 'POSITIONAL') return all.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(a) - Number(b));
  return all.filter((v) => !/^\d+$/.test(v));
}

/** Replaces the template's own `{{1}}` / `{{name}}` variables with values, as Meta would. */
export function substituteVariables(text: string, values: ReadonlyMap<string, string>): string {
  return text.replace(VARIABLE, (whole, name: string) => values.get(name) ?? whole);
}

export function hasVariable(text: string): boolean {
  return new RegExp(VARIABLE.source).test(text);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);

// Meta's authentication buttons come back from GET as URL buttons on this host.
const OTP_URL = /^https:\/\/www\.whatsapp\.com\/otp\//i;

function buttonSpec(raw: unknown, index: number): ButtonSpec {
  const b = isRecord(raw) ? raw : {};
  const type = (str(b.type) ?? '').toUpperCase();
  const text = str(b.text);
  const url = str(b.url);
  const base = { index, type, text, url, example: null, parameterRequired: true };
  switch (type) {
    case 'QUICK_REPLY':
      return { ...base, kind: 'quick_reply', subType: 'quick_reply', parameter: 'payload', required: false };
    case 'URL': {
      const variable = url !== null && hasVariable(url);
      if (!variable) return { ...base, kind: 'url', subType: 'url', parameter: null, required: false, parameterRequired: false };
      return {
        ...base,
        kind: OTP_URL.test(url) ? 'otp' : 'url',
        subType: 'url',
        parameter: 'text',
        required: true,
        example: urlSuffixExample(url, b.example),
      };
    }
    // Meta's authentication-template docs send both copy-code and one-tap OTP buttons as `url`.
    case 'OTP':
      return { ...base, kind: 'otp', subType: 'url', parameter: 'text', required: true };
    case 'COPY_CODE':
      return { ...base, kind: 'copy_code', subType: 'copy_code', parameter: 'coupon_code', required: true };
    case 'FLOW':
      return { ...base, kind: 'flow', subType: 'flow', parameter: 'action', required: false, parameterRequired: false };
    case 'CATALOG':
      return { ...base, kind: 'catalog', subType: 'catalog', parameter: 'action', required: false, parameterRequired: false };
    case 'MPM':
      return { ...base, kind: 'mpm', subType: 'mpm', parameter: 'action', required: true };
    default:
      // PHONE_NUMBER, VOICE_CALL and kinds Meta adds later: nothing a send may change.
      return { ...base, kind: 'fixed', subType: null, parameter: null, required: false, parameterRequired: false };
  }
}

function urlSuffixExample(url: string, example: unknown): string | null {
  const first = Array.isArray(example) ? str(example[0]) : str(example);
  if (first === null) return null;
  const fixed = url.slice(0, url.search(new RegExp(VARIABLE.source)));
  return first.startsWith(fixed) ? first.slice(fixed.length) : first;
}

function headerSpec(c: Record<string, unknown>, format: ParameterFormat): HeaderSpec | null {
  switch ((str(c.format) ?? 'TEXT').toUpperCase()) {
    case 'TEXT': {
      const text = str(c.text) ?? '';
      return { format: 'TEXT', text, variable: textVariables(text, format)[0] ?? null };
    }
    case 'IMAGE':
      return { format: 'IMAGE' };
    case 'VIDEO':
      return { format: 'VIDEO' };
    case 'DOCUMENT':
      return { format: 'DOCUMENT' };
    case 'LOCATION':
      return { format: 'LOCATION' };
    default:
      return null;
  }
}

function headerExample(c: Record<string, unknown>, variable: string | null): string | null {
  const ex = isRecord(c.example) ? c.example : {};
  if (Array.isArray(ex.header_text)) return str(ex.header_text[0]);
  if (Array.isArray(ex.header_text_named_params)) {
    const hit = ex.header_text_named_params.find((p) => isRecord(p) && p.param_name === variable);
    return isRecord(hit) ? str(hit.example) : null;
  }
  if (Array.isArray(ex.header_handle)) return str(ex.header_handle[0]);
  return null;
}

function bodyExamples(c: Record<string, unknown>, variables: string[], format: ParameterFormat): VariableSpec[] {
  const ex = isRecord(c.example) ? c.example : {};
  if (format === 'NAMED') {
    const named = Array.isArray(ex.body_text_named_params) ? ex.body_text_named_params.filter(isRecord) : [];
    return variables.map((name) => ({ name, example: str(named.find((p) => p.param_name === name)?.example) }));
  }
  const row = Array.isArray(ex.body_text) && Array.isArray(ex.body_text[0]) ? (ex.body_text[0] as unknown[]) : [];
  return variables.map((name) => ({ name, example: str(row[Number(name) - 1]) }));
}

export function readDefinition(template: TemplateDefinition): TemplateSpec {
  const format: ParameterFormat = template.parameterFormat === 'NAMED' ? 'NAMED' : 'POSITIONAL';
  const spec: TemplateSpec = { format, header: null, headerExample: null, body: null, footer: null, buttons: [], unsupported: [] };
  const components = Array.isArray(template.components) ? template.components : [];
  for (const raw of components) {
    if (!isRecord(raw)) continue;
    const type = (str(raw.type) ?? '').toUpperCase();
    if (type === 'HEADER') {
      spec.header = headerSpec(raw, format);
      if (spec.header === null) spec.unsupported.push(`HEADER ${str(raw.format) ?? ''}`.trim());
      spec.headerExample = headerExample(raw, spec.header?.format === 'TEXT' ? spec.header.variable : null);
    } else if (type === 'BODY') {
      const text = str(raw.text) ?? '';
      spec.body = { text, variables: bodyExamples(raw, textVariables(text, format), format) };
    } else if (type === 'FOOTER') {
      spec.footer = str(raw.text);
    } else if (type === 'BUTTONS') {
      const buttons = Array.isArray(raw.buttons) ? raw.buttons : [];
      spec.buttons = buttons.map((b, i) => buttonSpec(b, i));
    } else {
      spec.unsupported.push(type || 'component without a type');
    }
  }
  return spec;
}
