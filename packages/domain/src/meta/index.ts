export * from './directory';
export * from './ingest';
export * from './parse';
export * from './payload';
export * from './processor';
export * from './batcher';
export * from './failures';
export * from './message-statuses';
