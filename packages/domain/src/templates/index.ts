export {
  type ButtonKind,
  type ButtonParameterType,
  type ParameterFormat,
  type TemplateDefinition,
} from './definition';
export { TemplateNotFoundError, TemplateParamsMismatchError } from './errors';
export { type PlaceholderValues, placeholderKeys, renderPlaceholders } from './render';
export { type ShorthandContext, type ShorthandParam, simpleParamsToComponents } from './shorthand';
export {
  type TemplateButtonSummary,
  type TemplateHeaderSummary,
  type TemplateSummary,
  type TemplateVariableSummary,
  templateSummary,
} from './summary';
export {
  type SendComponent,
  TEMPLATE_LIMITS,
  type TemplateSendContext,
  type TemplateSendInput,
  type TemplateSendResult,
  validateTemplateSend,
} from './validate';
