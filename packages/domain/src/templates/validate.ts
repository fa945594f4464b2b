/*
 * Checks a template send against the synced definition before it reaches Meta, and fills Parley's
 * `{{ key }}` placeholders in the parameter values. Meta answers a mismatch with one opaque error
 * (#132000 and friends) after the message is already queued; here every problem is reported at
 * once with the path of the offending field, so a client can fix a request in one round trip.
 */
import type { FieldProblem } from '@parley/core';
import type { LocationObject, MediaRef, TemplateParameter, TemplateSendComponent } from '@parley/graph';
import {
  type ButtonSpec,
  type HeaderSpec,
  isRecord,
  readDefinition,
  substituteVariables,
  type TemplateDefinition,
  type TemplateSpec,
} from './definition';
import { PlaceholderRenderer, type PlaceholderValues } from './render';

/** Meta's limits on what a send may fill in (Cloud API template rules). */
export const TEMPLATE_LIMITS = {
  headerText: 60,
  bodyText: 1024,
  /** Authentication codes, in the body and in the OTP button. */
  authenticationCode: 15,
  couponCode: 15,
  /** Body and header parameter text: more consecutive spaces than this is rejected by Meta. */
  consecutiveSpaces: 4,
} as const;

/**
 * A send component as a client wrote it, in Meta's shape. Nothing in it is trusted until
 * `validateTemplateSend` has checked it, so the loose record form is accepted too.
 */
export type SendComponent = TemplateSendComponent | Readonly<Record<string, unknown>>;

export interface TemplateSendInput {
  components?: readonly SendComponent[] | null;
}

export interface TemplateSendContext extends PlaceholderValues {
  /**
   * Where the template object sits in the request; problem paths start with it. Default
   * `template`; `''` when the template object is the whole body (template-level problems then have path `''`).
   */
  pathPrefix?: string;
}

export type TemplateSendResult =
  | { ok: true; components: TemplateSendComponent[] }
  | { ok: false; problems: FieldProblem[] };

type ParamType = TemplateParameter['type'];

const PARAM_KEYS: Record<ParamType, readonly string[]> = {
  text: ['type', 'text', 'parameter_name'],
  currency: ['type', 'currency', 'parameter_name'],
  date_time: ['type', 'date_time', 'parameter_name'],
  image: ['type', 'image'],
  video: ['type', 'video'],
  document: ['type', 'document'],
  location: ['type', 'location'],
  payload: ['type', 'payload'],
  coupon_code: ['type', 'coupon_code'],
  action: ['type', 'action'],
};

// Structural strings: filling placeholders in them would let a recipient's data change the shape.
const STRUCTURAL = new Set(['type', 'parameter_name']);

interface TextRules {
  /** Names the value in messages, e.g. `Body parameter {{2}}`. */
  label: string;
  max?: number;
  maxReason?: string;
  singleLine?: boolean;
  noWhitespace?: boolean;
  notUrl?: boolean;
}

/** `prefix.rest`, or just `rest` when the template object is the request body itself (prefix ''). */
export const joinPath = (prefix: string, rest: string) => (prefix ? `${prefix}.${rest}` : rest);

const vars = (names: readonly string[]) => names.map((n) => `{{${n}}}`).join(', ');
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const codePoints = (s: string) => [...s].length;

function displayValue(p: TemplateParameter): string | undefined {
  if (p.type === 'text') return p.text;
  if (p.type === 'currency') return p.currency.fallback_value;
  if (p.type === 'date_time') return p.date_time.fallback_value;
  return undefined;
}

class SendChecker {
  readonly problems: FieldProblem[] = [];
  private readonly render: PlaceholderRenderer;
  private readonly spec: TemplateSpec;

  constructor(
    private readonly template: TemplateDefinition,
    ctx: TemplateSendContext,
    private readonly prefix: string,
  ) {
    this.spec = readDefinition(template);
    this.render = new PlaceholderRenderer(ctx, this.problems);
  }

  check(send: TemplateSendInput): TemplateSendResult {
    const { template, spec, prefix } = this;
    if (template.status !== 'APPROVED') {
      this.problem(prefix, `Template "${template.name}" (${template.language}) is ${template.status || 'not approved'} and cannot be sent; only APPROVED templates can.`);
    }
    for (const kind of spec.unsupported) {
      this.problem(prefix, `Template "${template.name}" has a ${kind} component, which Parley cannot send yet.`);
    }

    const raw: unknown = isRecord(send) ? send.components : undefined;
    let components: readonly unknown[] = [];
    if (Array.isArray(raw)) components = raw;
    else if (raw !== undefined && raw !== null) this.problem(joinPath(prefix, 'components'), 'components must be an array.');

    const out: TemplateSendComponent[] = [];
    let headerAt: string | undefined;
    let bodyAt: string | undefined;
    const buttonsAt = new Map<number, string>();
    components.forEach((c, i) => {
      const path = joinPath(prefix, `components.${i}`);
      if (!isRecord(c)) return this.problem(path, 'A component must be an object with a "type".');
      const type = typeof c.type === 'string' ? c.type.toLowerCase() : undefined;
      let built: TemplateSendComponent | undefined;
      if (type === 'header' || type === 'body') {
        const seen = type === 'header' ? headerAt : bodyAt;
        if (seen !== undefined) return this.problem(path, `Duplicate ${type} component; the first one is ${seen}. Send one ${type} component.`);
        if (type === 'header') headerAt = path;
        else bodyAt = path;
        built = type === 'header' ? this.header(c, path) : this.body(c, path);
      } else if (type === 'button') {
        built = this.button(c, path, buttonsAt);
      } else {
        return this.problem(`${path}.type`, unknownTypeMessage(c.type));
      }
      if (built) out.push(built);
    });

    this.requireMissing(headerAt, bodyAt, buttonsAt);
    return this.problems.length ? { ok: false, problems: this.problems } : { ok: true, components: out };
  }

  // -------------------------------------------------------------------------------------------
  // Components

  private header(c: Record<string, unknown>, path: string): TemplateSendComponent | undefined {
    this.onlyKeys(c, path, ['type', 'parameters'], 'header');
    const params = this.parameterList(c, path);
    const h = this.spec.header;
    if (h === null || (h.format === 'TEXT' && h.variable === null)) {
      if (params.length) {
        this.problem(
          `${path}.parameters`,
          h === null
            ? 'This template has no header, so it takes no header parameters; leave the header component out.'
            : `The header "${h.format === 'TEXT' ? h.text : ''}" is fixed text and takes no parameters; leave the header component out.`,
        );
      }
      // An empty header component carries nothing and only risks Meta's rejection.
      return undefined;
    }
    const expected = headerParamType(h);
    if (params.length !== 1) {
      this.problem(`${path}.parameters`, `The ${describeHeader(h)} needs exactly one ${expected} parameter, got ${params.length}.`);
    }
    const built = params.map((p, i) => this.headerParameter(p, `${path}.parameters.${i}`, h, params.length === 1));
    return built.every((p) => p !== undefined) ? { type: 'header', parameters: built } : undefined;
  }

  private headerParameter(raw: unknown, path: string, h: HeaderSpec, only: boolean): TemplateParameter | undefined {
    const expected = headerParamType(h);
    const p = this.parameter(raw, path, [expected], `The ${describeHeader(h)} parameter`);
    if (!p) return undefined;
    if (h.format !== 'TEXT' || p.type !== 'text') return p;

    this.parameterName(p, path, h.variable ? [h.variable] : [], 'header');
    const fits = this.text(p.text, `${path}.text`, {
      label: `Header parameter {{${h.variable}}}`,
      max: TEMPLATE_LIMITS.headerText,
      singleLine: true,
    });
    if (fits && only && h.variable) {
      const full = substituteVariables(h.text, new Map([[h.variable, p.text]]));
      if (codePoints(full) > TEMPLATE_LIMITS.headerText) {
        this.problem(`${path}.text`, `With this value the header would be ${codePoints(full)} characters; Meta allows ${TEMPLATE_LIMITS.headerText}.`);
      }
    }
    return p;
  }

  private body(c: Record<string, unknown>, path: string): TemplateSendComponent | undefined {
    this.onlyKeys(c, path, ['type', 'parameters'], 'body');
    const params = this.parameterList(c, path);
    const variables = this.spec.body?.variables.map((v) => v.name) ?? [];
    if (variables.length === 0) {
      if (params.length) {
        this.problem(`${path}.parameters`, `The body has no variables, so it takes no parameters; got ${params.length}.`);
      }
      return undefined;
    }
    const before = this.problems.length;
    const named = this.spec.format === 'NAMED';
    if (!named && params.length !== variables.length) {
      this.problem(
        `${path}.parameters`,
        `The body has ${plural(variables.length, 'variable')} (${vars(variables)}) and needs exactly ${plural(variables.length, 'parameter')}, got ${params.length}.`,
      );
    }

    const built = params.map((raw, i) => {
      const ppath = `${path}.parameters.${i}`;
      const rawName = isRecord(raw) && typeof raw.parameter_name === 'string' ? raw.parameter_name : undefined;
      const variable = named ? rawName : variables[i];
      const label = `Body parameter ${variable !== undefined ? `{{${variable}}}` : i}`;
      const p = this.parameter(raw, ppath, ['text', 'currency', 'date_time'], label);
      if (!p) return undefined;
      this.parameterName(p, ppath, variables, 'body');
      const field = p.type === 'text' ? `${ppath}.text` : `${ppath}.${p.type}.fallback_value`;
      const value = displayValue(p);
      if (value !== undefined) {
        const auth = this.template.category === 'AUTHENTICATION';
        this.text(value, field, {
          label: p.type === 'text' ? label : `${label} fallback_value`,
          singleLine: true,
          ...(auth ? { max: TEMPLATE_LIMITS.authenticationCode, maxReason: 'authentication codes' } : {}),
        });
      }
      return p;
    });

    if (named) this.namedCoverage(built, variables, path);

    if (this.problems.length === before && this.spec.body) {
      const values = new Map<string, string>();
      built.forEach((p, i) => {
        const name = named ? (p && 'parameter_name' in p ? p.parameter_name : undefined) : variables[i];
        const value = p ? displayValue(p) : undefined;
        if (name !== undefined && value !== undefined) values.set(name, value);
      });
      const length = codePoints(substituteVariables(this.spec.body.text, values));
      if (length > TEMPLATE_LIMITS.bodyText) {
        this.problem(path, `With these parameters the body would be ${length} characters; Meta allows ${TEMPLATE_LIMITS.bodyText}.`);
      }
    }
    return built.every((p) => p !== undefined) ? { type: 'body', parameters: built } : undefined;
  }

  private namedCoverage(built: Array<TemplateParameter | undefined>, variables: readonly string[], path: string): void {
    const given = new Map<string, number>();
    built.forEach((p, i) => {
      const name = p && 'parameter_name' in p ? p.parameter_name : undefined;
      if (typeof name !== 'string' || !variables.includes(name)) return;
      const first = given.get(name);
      if (first !== undefined) {
        this.problem(`${path}.parameters.${i}.parameter_name`, `Duplicate parameter_name "${name}"; parameter ${first} already fills {{${name}}}.`);
      } else {
        given.set(name, i);
      }
    });
    const missing = variables.filter((v) => !given.has(v));
    for (const name of missing) {
      this.problem(`${path}.parameters`, `Missing a parameter with parameter_name "${name}" for the body variable {{${name}}}.`);
    }
  }

  private button(c: Record<string, unknown>, path: string, seen: Map<number, string>): TemplateSendComponent | undefined {
    this.onlyKeys(c, path, ['type', 'sub_type', 'index', 'parameters'], 'button');
    const buttons = this.spec.buttons;
    const index = this.buttonIndex(c.index, `${path}.index`);
    const spec = index === undefined ? undefined : buttons[index];
    if (index !== undefined && !spec) {
      this.problem(
        `${path}.index`,
        buttons.length
          ? `This template has no button at index ${index}; it has ${plural(buttons.length, 'button')} (index 0 to ${buttons.length - 1}).`
          : `This template has no buttons; there is no button at index ${index}.`,
      );
    }
    if (index !== undefined && spec) {
      const first = seen.get(index);
      if (first !== undefined) {
        this.problem(`${path}.index`, `Button ${index} already has a component (${first}); send one component per button.`);
        return undefined;
      }
      seen.set(index, path);
    }

    const subType = typeof c.sub_type === 'string' ? c.sub_type.toLowerCase() : undefined;
    if (subType === undefined) {
      this.problem(`${path}.sub_type`, `sub_type is required${spec?.subType ? `; button ${spec.index} (${spec.type}) needs "${spec.subType}"` : ''}.`);
    } else if (spec?.subType && subType !== spec.subType) {
      this.problem(`${path}.sub_type`, `Button ${spec.index} is a ${spec.type} button, so sub_type must be "${spec.subType}", not "${String(c.sub_type)}".`);
    }

    const params = this.parameterList(c, path);
    if (!spec) return undefined;
    if (spec.subType === null) {
      this.problem(path, `Button ${spec.index} is a ${spec.type || 'fixed'} button; it takes no parameters, so leave this component out.`);
      return undefined;
    }
    if (spec.parameter === null) {
      if (params.length) {
        this.problem(`${path}.parameters`, `Button ${spec.index} links to the fixed URL ${spec.url ?? ''}; it has no {{1}} suffix and takes no parameters.`);
      }
      return undefined;
    }
    if (spec.parameterRequired ? params.length !== 1 : params.length > 1) {
      this.problem(
        `${path}.parameters`,
        `Button ${spec.index} (${spec.type}) takes ${spec.parameterRequired ? 'exactly' : 'at most'} one ${spec.parameter} parameter, got ${params.length}.`,
      );
    }
    const built = params.map((p, i) => this.buttonParameter(p, `${path}.parameters.${i}`, spec));
    if (!built.every((p) => p !== undefined)) return undefined;
    return { type: 'button', sub_type: spec.subType, index: String(spec.index), parameters: built };
  }

  private buttonParameter(raw: unknown, path: string, spec: ButtonSpec): TemplateParameter | undefined {
    const label = `Button ${spec.index} parameter`;
    const p = this.parameter(raw, path, [spec.parameter!], label);
    if (!p) return undefined;
    if (p.type === 'text') {
      this.parameterName(p, path, [], 'button');
      if (spec.kind === 'otp') {
        this.text(p.text, `${path}.text`, {
          label: `The code for button ${spec.index}`,
          noWhitespace: true,
          max: TEMPLATE_LIMITS.authenticationCode,
          maxReason: 'authentication codes',
        });
      } else {
        this.text(p.text, `${path}.text`, {
          label: `The URL suffix for button ${spec.index} (${spec.url ?? ''})`,
          noWhitespace: true,
          notUrl: true,
        });
      }
    } else if (p.type === 'payload') {
      this.text(p.payload, `${path}.payload`, { label: `The payload of button ${spec.index}` });
    } else if (p.type === 'coupon_code') {
      this.text(p.coupon_code, `${path}.coupon_code`, {
        label: `The coupon code of button ${spec.index}`,
        max: TEMPLATE_LIMITS.couponCode,
        maxReason: 'coupon codes',
      });
    }
    return p;
  }

  private requireMissing(headerAt: string | undefined, bodyAt: string | undefined, buttonsAt: Map<number, string>): void {
    const { spec, prefix } = this;
    const at = joinPath(prefix, 'components');
    const h = spec.header;
    if (h && headerAt === undefined && !(h.format === 'TEXT' && h.variable === null)) {
      this.problem(at, `A header component with one ${headerParamType(h)} parameter is required for the ${describeHeader(h)}.`);
    }
    const variables = spec.body?.variables.map((v) => v.name) ?? [];
    if (variables.length && bodyAt === undefined) {
      this.problem(at, `A body component with ${plural(variables.length, 'parameter')} is required for ${vars(variables)}.`);
    }
    for (const b of spec.buttons) {
      if (!b.required || buttonsAt.has(b.index)) continue;
      this.problem(
        at,
        `A button component with sub_type "${b.subType}" and index ${b.index} is required for the ${b.type} button${b.text ? ` "${b.text}"` : ''}, with one ${b.parameter} parameter.`,
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // Parameters

  private parameterList(c: Record<string, unknown>, path: string): unknown[] {
    if (c.parameters === undefined) return [];
    if (Array.isArray(c.parameters)) return c.parameters;
    this.problem(`${path}.parameters`, 'parameters must be an array.');
    return [];
  }

  /** Checks one parameter's shape and fills its placeholders; undefined when it is unusable. */
  private parameter(raw: unknown, path: string, allowed: readonly ParamType[], label: string): TemplateParameter | undefined {
    const expected = allowed.map((t) => `"${t}"`).join(' or ');
    if (!isRecord(raw)) {
      this.problem(path, `${label} must be an object with type ${expected}.`);
      return undefined;
    }
    const type = raw.type;
    if (typeof type !== 'string' || !(allowed as readonly string[]).includes(type)) {
      this.problem(`${path}.type`, `${label} must have type ${expected}${typeof type === 'string' ? `, not "${type}"` : ''}.`);
      return undefined;
    }
    const t = type as ParamType;
    for (const key of Object.keys(raw)) {
      if (!PARAM_KEYS[t].includes(key)) this.problem(`${path}.${key}`, `Unknown field "${key}" in a ${t} parameter.`);
    }
    const value = this.render.deep(raw, path, STRUCTURAL).value as Record<string, unknown>;
    const name = value.parameter_name;
    if (name !== undefined && typeof name !== 'string') this.problem(`${path}.parameter_name`, 'parameter_name must be a string.');
    const withName = typeof name === 'string' ? { parameter_name: name } : {};

    let p: TemplateParameter | undefined;
    switch (t) {
      case 'text': {
        const text = this.requireString(value, 'text', path);
        if (text !== undefined) p = { type: 'text', text, ...withName };
        break;
      }
      case 'currency': {
        const currency = this.currency(value.currency, `${path}.currency`);
        if (currency) p = { type: 'currency', currency, ...withName };
        break;
      }
      case 'date_time': {
        const dt = this.object(value.date_time, `${path}.date_time`, ['fallback_value']);
        const fallback = dt && this.requireString(dt, 'fallback_value', `${path}.date_time`);
        if (fallback !== undefined) p = { type: 'date_time', date_time: { fallback_value: fallback }, ...withName };
        break;
      }
      case 'image':
      case 'video': {
        const media = this.media(value[t], `${path}.${t}`, false);
        if (media) p = t === 'image' ? { type: 'image', image: media } : { type: 'video', video: media };
        break;
      }
      case 'document': {
        const media = this.media(value.document, `${path}.document`, true);
        if (media) p = { type: 'document', document: media };
        break;
      }
      case 'location': {
        const location = this.location(value.location, `${path}.location`);
        if (location) p = { type: 'location', location };
        break;
      }
      case 'payload': {
        const payload = this.requireString(value, 'payload', path);
        if (payload !== undefined) p = { type: 'payload', payload };
        break;
      }
      case 'coupon_code': {
        const code = this.requireString(value, 'coupon_code', path);
        if (code !== undefined) p = { type: 'coupon_code', coupon_code: code };
        break;
      }
      case 'action': {
        const action = isRecord(value.action) ? value.action : undefined;
        if (!action) this.problem(`${path}.action`, 'action must be an object.');
        else p = { type: 'action', action };
        break;
      }
    }
    return p;
  }

  /**
   * NAMED templates match body (and header) parameters by `parameter_name`; positional ones by
   * order, where Meta rejects a stray `parameter_name`.
   */
  private parameterName(p: TemplateParameter, path: string, variables: readonly string[], where: 'header' | 'body' | 'button'): void {
    const name = 'parameter_name' in p ? p.parameter_name : undefined;
    const field = `${path}.parameter_name`;
    if (where === 'button' || this.spec.format === 'POSITIONAL') {
      if (name !== undefined) {
        this.problem(field, where === 'button' ? 'Button parameters take no parameter_name.' : 'parameter_name is only for templates with NAMED parameters; this one is POSITIONAL.');
      }
      return;
    }
    if (name === undefined) {
      this.problem(field, `parameter_name is required in a NAMED template: one of ${variables.map((v) => `"${v}"`).join(', ')}.`);
    } else if (typeof name === 'string' && !variables.includes(name)) {
      this.problem(field, `The ${where} has no variable {{${name}}}; its variables are ${vars(variables)}.`);
    }
  }

  /** Applies Meta's rules to a filled-in text value; false when it broke one. */
  private text(value: string, path: string, rules: TextRules): boolean {
    // A value whose placeholder had no value is already reported; judging its unfilled text would only add noise.
    if (this.problems.some((p) => p.path === path)) return false;
    const before = this.problems.length;
    if (value.trim() === '') {
      this.problem(path, `${rules.label} must not be empty.`);
      return false;
    }
    if (rules.singleLine && /[\n\r\t]/.test(value)) {
      this.problem(path, `${rules.label} must not contain new lines or tabs (Meta rejects them in parameters).`);
    }
    if (rules.singleLine && new RegExp(` {${TEMPLATE_LIMITS.consecutiveSpaces + 1},}`).test(value)) {
      this.problem(path, `${rules.label} must not contain more than ${TEMPLATE_LIMITS.consecutiveSpaces} consecutive spaces (Meta rejects them in parameters).`);
    }
    if (rules.notUrl && (/^[a-z][a-z\d+.-]*:\/\//i.test(value) || /^www\./i.test(value))) {
      this.problem(path, `${rules.label} must be only the part that replaces {{1}}, not a full URL.`);
    }
    if (rules.noWhitespace && /\s/.test(value)) {
      this.problem(path, `${rules.label} must not contain spaces.`);
    }
    if (rules.max !== undefined && codePoints(value) > rules.max) {
      this.problem(path, `${rules.label} must be at most ${rules.max} characters${rules.maxReason ? ` (Meta's limit for ${rules.maxReason})` : ''}; got ${codePoints(value)}.`);
    }
    return this.problems.length === before;
  }

  private requireString(obj: Record<string, unknown>, key: string, path: string): string | undefined {
    const v = obj[key];
    if (typeof v === 'string') return v;
    this.problem(`${path}.${key}`, v === undefined ? `${key} is required.` : `${key} must be a string.`);
    return undefined;
  }

  private object(raw: unknown, path: string, keys: readonly string[]): Record<string, unknown> | undefined {
    if (!isRecord(raw)) {
      this.problem(path, `Must be an object with ${keys.join(', ')}.`);
      return undefined;
    }
    for (const key of Object.keys(raw)) if (!keys.includes(key)) this.problem(`${path}.${key}`, `Unknown field "${key}".`);
    return raw;
  }

  private currency(raw: unknown, path: string): { fallback_value: string; code: string; amount_1000: number } | undefined {
    const c = this.object(raw, path, ['fallback_value', 'code', 'amount_1000']);
    if (!c) return undefined;
    const fallback = this.requireString(c, 'fallback_value', path);
    const code = this.requireString(c, 'code', path);
    if (code !== undefined && !/^[A-Z]{3}$/.test(code)) this.problemUnlessReported(`${path}.code`, 'code must be an ISO 4217 currency code such as "USD".');
    const amount = c.amount_1000;
    if (typeof amount !== 'number' || !Number.isInteger(amount)) {
      this.problem(`${path}.amount_1000`, 'amount_1000 must be an integer: the amount times 1000.');
      return undefined;
    }
    return fallback !== undefined && code !== undefined ? { fallback_value: fallback, code, amount_1000: amount } : undefined;
  }

  private media(raw: unknown, path: string, withFilename: boolean): (MediaRef & { filename?: string }) | undefined {
    const c = this.object(raw, path, withFilename ? ['id', 'link', 'filename'] : ['id', 'link']);
    if (!c) return undefined;
    const filename = c.filename;
    if (filename !== undefined && (typeof filename !== 'string' || filename.trim() === '')) {
      this.problemUnlessReported(`${path}.filename`, 'filename must be a non-empty string.');
    }
    const extra = typeof filename === 'string' ? { filename } : {};
    if (c.id !== undefined && c.link !== undefined) {
      this.problem(path, 'Give either "id" (an uploaded media id) or "link", not both.');
      return undefined;
    }
    if (c.id !== undefined) {
      if (typeof c.id !== 'string' || c.id.trim() === '') {
        this.problemUnlessReported(`${path}.id`, 'id must be a non-empty media id string.');
        return undefined;
      }
      return { id: c.id, ...extra };
    }
    if (c.link !== undefined) {
      if (typeof c.link !== 'string' || !isHttpsUrl(c.link)) {
        this.problemUnlessReported(`${path}.link`, 'link must be a public https:// URL.');
        return undefined;
      }
      return { link: c.link, ...extra };
    }
    this.problem(path, 'An "id" (from a media upload) or a "link" (an https:// URL) is required.');
    return undefined;
  }

  private location(raw: unknown, path: string): LocationObject | undefined {
    const c = this.object(raw, path, ['latitude', 'longitude', 'name', 'address']);
    if (!c) return undefined;
    const coordinate = (key: 'latitude' | 'longitude', limit: number): number | undefined => {
      const v = c[key];
      // Meta's own examples send coordinates as strings, so numeric strings are accepted and converted.
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n) || Math.abs(n) > limit) {
        this.problemUnlessReported(`${path}.${key}`, v === undefined ? `${key} is required.` : `${key} must be a number between -${limit} and ${limit}.`);
        return undefined;
      }
      return n;
    };
    const latitude = coordinate('latitude', 90);
    const longitude = coordinate('longitude', 180);
    const extra: { name?: string; address?: string } = {};
    for (const key of ['name', 'address'] as const) {
      const v = c[key];
      if (v === undefined) continue;
      if (typeof v === 'string') extra[key] = v;
      else this.problem(`${path}.${key}`, `${key} must be a string.`);
    }
    return latitude !== undefined && longitude !== undefined ? { latitude, longitude, ...extra } : undefined;
  }

  private buttonIndex(raw: unknown, path: string): number | undefined {
    if (raw === undefined) {
      this.problem(path, "index is required: the button's 0-based position in the template.");
      return undefined;
    }
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < 0) {
      this.problem(path, "index must be the button's 0-based position, a non-negative integer (as a number or a string).");
      return undefined;
    }
    return n;
  }

  private onlyKeys(c: Record<string, unknown>, path: string, keys: readonly string[], type: string): void {
    for (const key of Object.keys(c)) if (!keys.includes(key)) this.problem(`${path}.${key}`, `Unknown field "${key}" in a ${type} component.`);
  }

  private problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  private problemUnlessReported(path: string, message: string): void {
    if (!this.problems.some((p) => p.path === path)) this.problem(path, message);
  }
}

function headerParamType(h: HeaderSpec): 'text' | 'image' | 'video' | 'document' | 'location' {
  return h.format === 'TEXT' ? 'text' : (h.format.toLowerCase() as 'image' | 'video' | 'document' | 'location');
}

function describeHeader(h: HeaderSpec): string {
  return h.format === 'TEXT' ? `text header "${h.text}"` : `${h.format} header`;
}

function isHttpsUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.hostname !== '';
  } catch {
    return false;
  }
}

function unknownTypeMessage(type: unknown): string {
  const t = typeof type === 'string' ? type.toLowerCase() : undefined;
  const hint =
    t === 'footer'
      ? ' The footer is fixed text and takes no parameters.'
      : t === 'buttons'
        ? ' Send one component of type "button" (with sub_type and index) per button.'
        : '';
  return `${t === undefined ? 'A component needs a type' : `Unknown component type "${String(type)}"`}: expected "header", "body" or "button".${hint}`;
}

/**
 * Checks a template send against the synced definition and fills `{{ key }}` placeholders in its
 * parameter values, from `recipientParams` first, then `defaultParams`. Reports every problem,
 * each at its path under `pathPrefix` (default `template`); on success the components are the
 * rendered ones, ready for Meta's `template.components`.
 */
export function validateTemplateSend(
  template: TemplateDefinition,
  send: TemplateSendInput,
  ctx: TemplateSendContext = {},
): TemplateSendResult {
  return new SendChecker(template, ctx, ctx.pathPrefix ?? 'template').check(send);
}
