/*
 * What a template needs from a sender, in a form an API can hand to clients so they can build a
 * send (or the flat shorthand) without reading Meta's definition format.
 */
import { type ButtonKind, type ButtonParameterType, type ParameterFormat, readDefinition, type TemplateDefinition } from './definition';
import { type ShorthandParam, shorthandParams } from './shorthand';

export interface TemplateVariableSummary {
  /** `1`, `2`, ... in POSITIONAL templates; the variable name in NAMED ones. */
  name: string;
  /** The example Meta approved the template with, when the definition has one. */
  example: string | null;
}

export interface TemplateHeaderSummary {
  format: 'TEXT' | 'IMAGE' | 'VIDEO' | 'DOCUMENT' | 'LOCATION';
  /** The definition text of a TEXT header; null for other formats. */
  text: string | null;
  /** The TEXT header's variable; null for a fixed text header and for non-text headers. */
  variable: TemplateVariableSummary | null;
  /** The type of the one header parameter a send must carry; null when it takes none. */
  parameterType: 'text' | 'image' | 'video' | 'document' | 'location' | null;
}

export interface TemplateButtonSummary {
  index: number;
  /** Meta's definition type, e.g. `URL`, `QUICK_REPLY`, `PHONE_NUMBER`, `OTP`. */
  type: string;
  kind: ButtonKind;
  text: string | null;
  url: string | null;
  /** The `sub_type` a send component for this button carries; null when none may be sent. */
  subType: string | null;
  takesParameter: boolean;
  parameterType: ButtonParameterType | null;
  /** Whether a send must include a component for this button. */
  required: boolean;
  example: string | null;
}

export interface TemplateSummary {
  name: string;
  language: string;
  status: string;
  category: string;
  parameterFormat: ParameterFormat;
  /** False when Meta would refuse any send: not APPROVED, or a component Parley cannot build. */
  sendable: boolean;
  /** Why it is not sendable; empty when it is. */
  reasons: string[];
  header: TemplateHeaderSummary | null;
  body: { text: string; variables: TemplateVariableSummary[] } | null;
  footer: string | null;
  buttons: TemplateButtonSummary[];
  /** The keys of the flat shorthand (`meta: {template, ...params}`) this template accepts. */
  params: ShorthandParam[];
}

export function templateSummary(template: TemplateDefinition): TemplateSummary {
  const spec = readDefinition(template);
  const reasons: string[] = [];
  if (template.status !== 'APPROVED') reasons.push(`The template is ${template.status || 'not approved'}; only APPROVED templates can be sent.`);
  for (const kind of spec.unsupported) reasons.push(`The template has a ${kind} component, which Parley cannot send yet.`);

  const h = spec.header;
  let header: TemplateHeaderSummary | null = null;
  if (h?.format === 'TEXT') {
    header = {
      format: 'TEXT',
      text: h.text,
      variable: h.variable === null ? null : { name: h.variable, example: spec.headerExample },
      parameterType: h.variable === null ? null : 'text',
    };
  } else if (h) {
    header = { format: h.format, text: null, variable: null, parameterType: h.format.toLowerCase() as TemplateHeaderSummary['parameterType'] };
  }

  return {
    name: template.name,
    language: template.language,
    status: template.status,
    category: template.category,
    parameterFormat: spec.format,
    sendable: reasons.length === 0,
    reasons,
    header,
    body: spec.body ? { text: spec.body.text, variables: spec.body.variables.map((v) => ({ ...v })) } : null,
    footer: spec.footer,
    buttons: spec.buttons.map((b) => ({
      index: b.index,
      type: b.type,
      kind: b.kind,
      text: b.text,
      url: b.url,
      subType: b.subType,
      takesParameter: b.parameter !== null,
      parameterType: b.parameter,
      required: b.required,
      example: b.example,
    })),
    params: shorthandParams(spec),
  };
}
