export * from './rate';
export * from './sender';
export * from './service';
export * from './stats';
export * from './statuses';
