export {
  type AdapterEntry,
  type AdapterLineage,
  AdapterRegistry,
  adaptersDir,
  type DatasetLineage,
  listAdapters,
  type MachineDescription,
  machineDescription,
  resolveAdapter,
} from './adapter-registry.ts';
export type { ChatExample, ChatTurn } from './chat-example.ts';
export { type SampleChunksOptions, type SourceChunk, sampleChunks } from './dataset-chunks.ts';
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
  type SplitFileOptions,
  type SplitOptions,
  seededRandom,
  shuffle,
  splitDataset,
  splitDatasetFile,
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
  type CreateJobOptions,
  FineTuneJobs,
  type FinetuneJobRecord,
  type FinetuneJobStatus,
  FinetuneJobStore,
  finetuneJobsDir,
  JobEndedError,
  jobEnded,
  type RunJobOptions,
  type StoredEvent,
} from './finetune-job.ts';
export {
  type BackendName,
  type DatasetGenerationOptions,
  type DatasetGenerationResult,
  describeBaseModel,
  generateDataset,
  resolveHyperparameters,
  trainingBackend,
} from './finetune-pipeline.ts';
export {
  buildAnswerExamples,
  type GroundedExamplesResult,
  type LabelledQuestion,
} from './grounded-examples.ts';
export {
  defaultHyperparameters,
  LocalTrainer,
  type LocalTrainerSettings,
  type LocalTrainOptions,
} from './local-trainer.ts';
export {
  type SetupOptions,
  type SetupResult,
  setupTrainer,
  type TrainerEnvironment,
  trainerEnvironment,
  trainerVenvDir,
} from './local-trainer-setup.ts';
export { type LossChartInput, type LossPoint, renderLossChart } from './loss-chart.ts';
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
export {
  contentWords,
  type GroundedPair,
  generateQaDataset,
  generateQaPairs,
  groundingSupport,
  judgePair,
  type QaDrop,
  type QaDropReason,
  type QaGenerationOptions,
  type QaGenerationResult,
  type QaJudgement,
  type QaPair,
  type QaProgress,
  qaDropReasons,
} from './qa-generator.ts';
export {
  ANSWER_PREFIX,
  BEGIN_QUOTE,
  bestQuote,
  buildRaftExamples,
  END_QUOTE,
  generateRaftDataset,
  type RaftGenerationOptions,
  type RaftItem,
  type RaftOptions,
  type RaftResult,
  raftAnswer,
  raftPrompt,
} from './raft.ts';
export type {
  FineTuningBackend,
  Hyperparameters,
  TrainingEvent,
  TrainingOutput,
  TrainOptions,
} from './trainer-spec.ts';
