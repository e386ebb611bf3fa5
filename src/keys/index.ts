export { type ApiKeyInfo, type ApiKeyRecord, KeyError, KeyStore } from './key-store.ts';
