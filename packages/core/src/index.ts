export * from './errors';
export * from './clock';
export * from './logger';
export * from './ids';
export * from './secrets';
export * from './phone';
