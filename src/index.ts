export * from './advise/index.ts';
export * from './answer/index.ts';
export {
  Attune,
  type AttuneOptions,
  type AttuneParts,
  type FinetuneOptions,
  type FinetuneRunOptions,
  type ModelCatalogEntry,
  type VersionView,
} from './attune.ts';
export * from './audit/index.ts';
export * from './config/index.ts';
export * from './doctor/index.ts';
export * from './editorial/index.ts';
export * from './eval/index.ts';
export * from './finetune/index.ts';
export * from './ingest/index.ts';
export * from './keys/index.ts';
export * from './knowledge/index.ts';
export * from './models/index.ts';
export * from './retrieve/index.ts';
export * from './server/index.ts';
export * from './store/index.ts';
