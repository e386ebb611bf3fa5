export {
  type AISDKChatOptions,
  type AISDKEmbeddingModel,
  type AISDKEmbeddingOptions,
  type AISDKLanguageModel,
  fromAISDKEmbeddingModel,
  fromAISDKLanguageModel,
} from './ai-sdk-adapter.ts';
export {
  type BertOnnx,
  type BertOnnxOptions,
  type BertPooling,
  bertGgufToOnnx,
  bertPooling,
} from './bert-onnx.ts';
export {
  builtinCatalog,
  type CatalogEntry,
  describeSource,
  ModelCatalog,
  type ModelFileSpec,
  type ModelFormat,
  type ModelSource,
  runtimeFile,
} from './catalog.ts';
export {
  embed,
  embedMany,
  generateObject,
  generateText,
  NoObjectGeneratedError,
  streamText,
} from './generate.ts';
export { type LlamaCppOptions, LlamaCppProvider } from './llama-cpp-provider.ts';
export { ModelCache, type PullProgress, type PullResult, sha256File } from './model-cache.ts';
export {
  AttuneError,
  ChecksumError,
  ModelMissingError,
  NoSourceError,
  SchemaNotSupportedError,
  UnknownModelError,
  UnsupportedFormatError,
} from './model-error.ts';
export type {
  ChatCallOptions,
  ChatMessage,
  ChatModel,
  ChatResult,
  ChatStreamPart,
  EmbeddingModel,
  EmbedResult,
  FinishReason,
  JsonSchema,
  LoraAdapterRef,
  Tokenizer,
} from './model-spec.ts';
export { Models } from './models.ts';
export {
  OnnxEmbeddingModel,
  OnnxRerankingModel,
  type OnnxRuntimeOptions,
  OnnxRuntimeProvider,
} from './onnx-provider.ts';
export {
  createOpenAICompatible,
  ModelServerError,
  type OpenAICompatibleProvider,
} from './openai-compatible-provider.ts';
export {
  estimatingTokenizer,
  isRemoteModelName,
  parseRemoteModelName,
  type RemoteModelSpec,
  remoteChatModel,
  remoteEmbeddingModel,
} from './remote-model.ts';
export { cosineSimilarity } from './vector-math.ts';
