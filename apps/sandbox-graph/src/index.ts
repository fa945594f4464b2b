export { startSandboxGraph } from './server';
export * from './types';
export * from './webhooks';
export { GraphError, META_ERRORS, httpStatusForCode, metaErrorBody, type MetaErrorBody, type MetaErrorSpec } from './errors';
export { seedTemplateInputs, paginate, type MessageTemplate, type TemplateInput, type TemplateComponent, type TemplateCategory } from './templates';
export { displayDigitsFor, defaultWabaIdFor, formatDisplayNumber, newWamid } from './ids';
export type { DeliveryResult, WebhookRecord, WebhookStats, WebhookRetryOptions, WebhookKind, WebhookState } from './delivery';
