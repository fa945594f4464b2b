export * from './catalog';
export * from './payloads';
export * from './record';
export * from './schemas';
