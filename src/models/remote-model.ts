import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { fromAISDKEmbeddingModel, fromAISDKLanguageModel } from './ai-sdk-adapter.ts';
import { AttuneError } from './model-error.ts';
import type { ChatModel, EmbeddingModel, Tokenizer } from './model-spec.ts';

/** `openai-compatible:<base URL>#<model id>`: a model served by Ollama, vLLM, llama.cpp server, OpenAI... */
export type RemoteModelSpec = { kind: 'openai-compatible'; baseURL: string; modelId: string };

const PREFIX = 'openai-compatible:';

/** Whether a configured model name points at a server rather than the local catalog. */
export function isRemoteModelName(name: string): boolean {
  return name.startsWith(PREFIX);
}

export function parseRemoteModelName(name: string): RemoteModelSpec {
  const rest = name.slice(PREFIX.length);
  const hash = rest.lastIndexOf('#');
  const baseURL = hash >= 0 ? rest.slice(0, hash) : '';
  const modelId = hash >= 0 ? rest.slice(hash + 1) : '';
  let url: URL | undefined;
  try {
    url = new URL(baseURL);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol) || !modelId)
    throw new AttuneError(`Model "${name}" is not of the form openai-compatible:<base URL>#<model id>.`, {
      hint: 'For example: openai-compatible:http://127.0.0.1:11434/v1#qwen2.5:7b (Ollama), with the API key in OPENAI_API_KEY when the server needs one.',
    });
  return { kind: 'openai-compatible', baseURL: baseURL.replace(/\/+$/, ''), modelId };
}

export type RemoteModelSettings = { apiKey?: string | undefined; contextSize?: number };

function provider(spec: RemoteModelSpec, settings: RemoteModelSettings) {
  return createOpenAICompatible({
    name: new URL(spec.baseURL).host,
    baseURL: spec.baseURL,
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
    includeUsage: true,
    supportsStructuredOutputs: true,
  });
}

/** A chat model on an OpenAI-compatible server, through the AI SDK's own provider and Attune's adapter. */
export function remoteChatModel(name: string, settings: RemoteModelSettings = {}): ChatModel {
  const spec = parseRemoteModelName(name);
  return fromAISDKLanguageModel(provider(spec, settings).chatModel(spec.modelId), {
    contextSize: settings.contextSize ?? 8192,
  });
}

export function remoteEmbeddingModel(name: string, settings: RemoteModelSettings = {}): EmbeddingModel {
  const spec = parseRemoteModelName(name);
  return fromAISDKEmbeddingModel(provider(spec, settings).embeddingModel(spec.modelId));
}

/**
 * A server's tokenizer cannot be asked for portably, so prompts for a remote model are sized by an
 * over-estimate: one token per three characters or per word, whichever is more. BPE tokenizers
 * average about four characters per English token, so the budget errs on the safe side.
 */
export function estimatingTokenizer(modelId: string): Tokenizer {
  const count = (text: string) => Math.max(Math.ceil(text.length / 3), (text.match(/\S+/g) ?? []).length);
  return {
    modelId,
    countTokens: count,
    encode: (text) => Array.from({ length: count(text) }, (_v, i) => i),
    decode: () => {
      throw new AttuneError(
        `The tokenizer of ${modelId} runs on its server; Attune only estimates token counts.`,
      );
    },
  };
}
