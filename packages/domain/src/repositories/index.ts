export * from './tenant';
export * from './contacts';
export * from './conversations';
export * from './messages';
export * from './inbound';
