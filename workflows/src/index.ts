/** Every workflow the worker registers. Workflow code is deterministic and imports activity types only. */
export * from './maintenance';
export * from './templates';
export * from './broadcast';
export * from './assistant';
export * from './routing';
export * from './routing-chatbot';
