export * from './target';
export * from './http';
export * from './schedule';
export * from './signing';
export * from './subscriptions';
export * from './deliveries';
export * from './dispatcher';
export * from './retention';
