export { Attune, type AttuneOptions } from './attune.ts';
export * from './config/index.ts';
export * from './ingest/index.ts';
export * from './knowledge/index.ts';
export * from './models/index.ts';
export * from './store/index.ts';
