export type { ChatExample, ChatTurn } from './chat-example.ts';
export { type ExportFormat, type JsonlOptions, toChatJsonl, writeChatJsonl } from './dataset-export.ts';
export {
  type DatasetFormat,
  datasetFormats,
  detectDatasetFormat,
  type ImportOptions,
  type ImportResult,
  loadDataset,
  parseDataset,
  readableExamples,
  readDataset,
  roleForSpeaker,
} from './dataset-import.ts';
export { DatasetError, type DatasetIssue, formatIssue } from './dataset-issue.ts';
export {
  type DatasetSplit,
  type SplitOptions,
  seededRandom,
  shuffle,
  splitDataset,
} from './dataset-split.ts';
export {
  countExampleTokens,
  type DatasetReport,
  type DatasetStats,
  type Distribution,
  datasetStats,
  exampleKey,
  locationOf,
  type ValidateOptions,
  validateDataset,
  validateDatasetFile,
} from './dataset-validation.ts';
export {
  PrivacyScanError,
  type PrivacyScanRecord,
  readScanRecord,
  redactedFileName,
  requirePrivacyScan,
  type ScanFileOptions,
  type ScanFileResult,
  scanDatasetFile,
  scanRecordPath,
  sha256OfFile,
} from './privacy-record.ts';
export {
  entropy,
  findPii,
  isValidIban,
  luhnValid,
  maskValue,
  type PiiKind,
  type PiiMatch,
  PRIVACY_DETECTORS_VERSION,
  type PrivacyFinding,
  type PrivacyReport,
  piiKinds,
  redactDataset,
  redactionTokens,
  redactText,
  type ScanOptions,
  scanDataset,
} from './privacy-scan.ts';
