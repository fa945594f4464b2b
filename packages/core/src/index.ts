export * from './errors';
export * from './clock';
export * from './logger';
export * from './safe-error';
export * from './text';
export * from './ids';
export * from './secrets';
export * from './phone';
