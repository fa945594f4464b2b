export * from './embedded-postgres';
export * from './temporal-cli';
