export * from './config';
export * from './time';
export * from './validate';
export * from './versions';
export * from './queues';
export * from './service';
export * from './tree';
export * from './schedules';
