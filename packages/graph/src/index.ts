export * from './client';
export * from './errors';
export * from './signature';
export * from './types';
