/*
 * The flat parameter shorthand of `POST /v1/conversations` chat items (`meta: {template, ...params}`)
 * and `POST /v1/messages`: clients name values by variable instead of writing Meta's component
 * arrays. The components are built from the definition and then go through the very same
 * `validateTemplateSend`, so the two forms can never disagree about what is valid.
 */
import type { FieldProblem } from '@parley/core';
import type { TemplateParameter } from '@parley/graph';
import { type ButtonSpec, isRecord, readDefinition, type TemplateDefinition, type TemplateSpec } from './definition';
import type { PlaceholderValues } from './render';
import { joinPath, type TemplateSendResult, validateTemplateSend } from './validate';

export interface ShorthandContext extends PlaceholderValues {
  /** Where the flat params sit in the request; problem paths are `<pathPrefix>.<key>` (`<key>` for `''`). Default `meta`. */
  pathPrefix?: string;
}

export interface ShorthandParam {
  key: string;
  /** Other keys that fill the same slot (a NAMED header variable may be given by its name). */
  aliases: string[];
  target: 'header' | 'body' | 'button';
  required: boolean;
  description: string;
  example: string | null;
}

const INTERNAL_PREFIX = 'template';

function buttonLabel(b: ButtonSpec): string {
  return `button ${b.index} (${b.type}${b.text ? ` "${b.text}"` : ''})`;
}

function buttonValueDescription(b: ButtonSpec): string {
  switch (b.kind) {
    case 'otp':
      return `The authentication code for ${buttonLabel(b)}.`;
    case 'url':
      return `The URL suffix that replaces {{1}} in ${b.url ?? 'the URL'} for ${buttonLabel(b)}.`;
    case 'quick_reply':
      return `The payload echoed back when ${buttonLabel(b)} is tapped.`;
    case 'copy_code':
      return `The coupon code ${buttonLabel(b)} copies.`;
    default:
      return `The parameter of ${buttonLabel(b)}.`;
  }
}

/** The only button kinds the shorthand can fill: those whose one parameter is a string. */
function takesShorthand(b: ButtonSpec): boolean {
  return b.parameter === 'text' || b.parameter === 'payload' || b.parameter === 'coupon_code';
}

/**
 * An authentication template repeats its code in the body ({{1}}) and the OTP button; Meta needs
 * it in both, so the shorthand fills the button from the body when only the body is given.
 */
function otpFromBody(spec: TemplateSpec, b: ButtonSpec): string | null {
  return b.kind === 'otp' && spec.body?.variables.length === 1 ? spec.body.variables[0]!.name : null;
}

export function shorthandParams(spec: TemplateSpec): ShorthandParam[] {
  const out: ShorthandParam[] = [];
  const bodyNames = spec.body?.variables.map((v) => v.name) ?? [];
  const h = spec.header;
  if (h && h.format === 'TEXT' && h.variable !== null) {
    const named = spec.format === 'NAMED';
    out.push({
      key: 'header',
      aliases: named ? [h.variable] : [],
      target: 'header',
      required: !(named && bodyNames.includes(h.variable)),
      description: `The value of {{${h.variable}}} in the header "${h.text}".`,
      example: spec.headerExample,
    });
  } else if (h && h.format !== 'TEXT') {
    out.push({
      key: 'header',
      aliases: [],
      target: 'header',
      required: true,
      description:
        h.format === 'LOCATION'
          ? 'The header location as "latitude,longitude".'
          : `The ${h.format.toLowerCase()} for the header: an https:// link, or a media id from an upload.`,
      example: h.format === 'LOCATION' ? null : spec.headerExample,
    });
  }
  for (const v of spec.body?.variables ?? []) {
    out.push({ key: v.name, aliases: [], target: 'body', required: true, description: `The value of {{${v.name}}} in the body.`, example: v.example });
  }
  for (const b of spec.buttons) {
    if (!takesShorthand(b)) continue;
    out.push({
      key: `button.${b.index}`,
      aliases: [],
      target: 'button',
      required: b.required && otpFromBody(spec, b) === null,
      description: buttonValueDescription(b) + (otpFromBody(spec, b) ? ' Defaults to the body code.' : ''),
      example: b.example,
    });
  }
  return out;
}

/**
 * Builds Meta send components from the flat shorthand, then checks and renders them exactly like
 * `validateTemplateSend`. Keys: body variables (`1`, `2`, ... or the NAMED variable names),
 * `header`, and `button.<index>`. Problems are reported at `<pathPrefix>.<key>`; a template that
 * cannot be sent (status) at `<pathPrefix>.template`.
 */
export function simpleParamsToComponents(
  template: TemplateDefinition,
  params: Readonly<Record<string, unknown>>,
  ctx: ShorthandContext = {},
): TemplateSendResult {
  const spec = readDefinition(template);
  const mp = ctx.pathPrefix ?? 'meta';
  const source: Readonly<Record<string, unknown>> = isRecord(params) ? params : {};
  const problems: FieldProblem[] = [];
  // Keys the builder already reported; the validator's view of the same slot would only repeat it.
  const reported = new Set<string>();
  const origins: Array<{ path: string; key: string }> = [];
  const known = new Set<string>();
  const components: Array<{ type: string; sub_type?: string; index?: string; parameters: TemplateParameter[] }> = [];

  const report = (key: string, message: string) => {
    reported.add(key);
    problems.push({ path: joinPath(mp, key), message });
  };
  const read = (key: string): string | undefined => {
    known.add(key);
    if (!Object.hasOwn(source, key)) return undefined;
    const v = source[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    report(key, 'Must be a string.');
    return '';
  };
  const add = (type: string, parameters: Array<{ param: TemplateParameter; key: string }>, button?: ButtonSpec) => {
    const at = components.length;
    components.push({
      type,
      ...(button ? { sub_type: button.subType!, index: String(button.index) } : {}),
      parameters: parameters.map((p) => p.param),
    });
    parameters.forEach((p, i) => origins.push({ path: `${INTERNAL_PREFIX}.components.${at}.parameters.${i}`, key: p.key }));
  };

  const h = spec.header;
  if (h && h.format === 'TEXT' && h.variable !== null) {
    const named = spec.format === 'NAMED';
    let key = 'header';
    let value = read('header');
    if (value === undefined && named) {
      value = read(h.variable);
      if (value !== undefined) key = h.variable;
    }
    if (value === undefined) {
      report('header', `Missing a value for {{${h.variable}}} in the header "${h.text}" (key "header"${named ? ` or "${h.variable}"` : ''}).`);
    }
    add('header', [{ key, param: { type: 'text', text: value ?? '', ...(named ? { parameter_name: h.variable } : {}) } }]);
  } else if (h && h.format === 'LOCATION') {
    const value = read('header');
    const comma = value?.indexOf(',') ?? -1;
    if (value === undefined) report('header', 'Missing the header location, as "latitude,longitude".');
    else if (comma < 0) report('header', 'The header location must be "latitude,longitude".');
    const location = { latitude: value?.slice(0, comma).trim() ?? '', longitude: value?.slice(comma + 1).trim() ?? '' };
    // Coordinates stay strings here: the validator converts numeric strings after filling placeholders.
    add('header', [{ key: 'header', param: { type: 'location', location } as unknown as TemplateParameter }]);
  } else if (h && h.format !== 'TEXT') {
    // A TEXT header without a variable is fixed text: nothing to fill.
    const value = read('header');
    if (value === undefined) report('header', `Missing the header ${h.format.toLowerCase()}: an https:// link or an uploaded media id.`);
    const ref = value !== undefined && /^\d+$/.test(value) ? { id: value } : { link: value ?? '' };
    const param = (h.format === 'IMAGE'
      ? { type: 'image', image: ref }
      : h.format === 'VIDEO'
        ? { type: 'video', video: ref }
        : { type: 'document', document: ref }) as TemplateParameter;
    add('header', [{ key: 'header', param }]);
  }

  const bodyValues = new Map<string, string>();
  if (spec.body?.variables.length) {
    const named = spec.format === 'NAMED';
    const parameters = spec.body.variables.map(({ name }) => {
      const value = read(name);
      if (value === undefined) report(name, `Missing a value for {{${name}}} in the body.`);
      else bodyValues.set(name, value);
      return { key: name, param: { type: 'text', text: value ?? '', ...(named ? { parameter_name: name } : {}) } as TemplateParameter };
    });
    add('body', parameters);
  }

  for (const b of spec.buttons) {
    if (!takesShorthand(b)) continue;
    const key = `button.${b.index}`;
    const fallback = otpFromBody(spec, b);
    let value = read(key);
    let from = key;
    if (value === undefined && fallback !== null && bodyValues.has(fallback)) {
      value = bodyValues.get(fallback);
      from = fallback;
    }
    if (value === undefined) {
      if (!b.required) continue;
      // With the body's code missing too, that one problem says it all.
      if (fallback !== null && reported.has(fallback)) from = fallback;
      else report(key, `Missing a value for ${buttonLabel(b)}: ${buttonValueDescription(b)}`);
    }
    const text = value ?? '';
    const param: TemplateParameter =
      b.parameter === 'payload' ? { type: 'payload', payload: text } : b.parameter === 'coupon_code' ? { type: 'coupon_code', coupon_code: text } : { type: 'text', text };
    add('button', [{ key: from, param }], b);
  }

  for (const key of Object.keys(source)) {
    if (known.has(key)) continue;
    // A NAMED header variable read through the `header` key is still a legitimate name for it.
    if (h?.format === 'TEXT' && spec.format === 'NAMED' && key === h.variable) continue;
    report(key, unknownKeyMessage(key, spec));
  }

  const checked = validateTemplateSend(template, { components }, { ...ctx, pathPrefix: INTERNAL_PREFIX });
  if (checked.ok && problems.length === 0) return checked;
  const seen = new Set(problems.map((p) => `${p.path}\u0000${p.message}`));
  for (const p of checked.ok ? [] : checked.problems) {
    let path: string;
    if (p.path === INTERNAL_PREFIX) path = joinPath(mp, 'template');
    else {
      const origin = origins.find((o) => p.path === o.path || p.path.startsWith(`${o.path}.`));
      if (origin && reported.has(origin.key)) continue;
      path = origin ? joinPath(mp, origin.key) : mp;
    }
    const id = `${path}\u0000${p.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push({ path, message: p.message });
  }
  return { ok: false, problems };
}

function unknownKeyMessage(key: string, spec: TemplateSpec): string {
  const button = /^button\.(\d+)$/.exec(key);
  if (button) {
    const b = spec.buttons[Number(button[1])];
    if (!b) return `This template has no button at index ${button[1]}.`;
    if (b.parameter === 'action') return `${capitalize(buttonLabel(b))} takes an action object; send the full template components instead.`;
    if (b.kind === 'url') return `${capitalize(buttonLabel(b))} links to the fixed URL ${b.url ?? ''} and takes no value.`;
    return `${capitalize(buttonLabel(b))} takes no value.`;
  }
  const keys = shorthandParams(spec).flatMap((p) => [p.key, ...p.aliases]);
  return keys.length
    ? `Unknown parameter "${key}"; this template takes ${keys.map((k) => `"${k}"`).join(', ')}.`
    : `Unknown parameter "${key}"; this template takes no parameters.`;
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
