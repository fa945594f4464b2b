export * from './control';
export * from './model';
export * from './settings';
export * from './signaller';
export * from './turns';
export * from './state';
