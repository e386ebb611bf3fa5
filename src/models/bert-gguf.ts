import { open, readFile } from 'node:fs/promises';
import {
  float32ToFloat16,
  GgmlType,
  type GgufTensor,
  type GgufValue,
  quantizeQ8_0,
  writeGguf,
} from './gguf-writer.ts';

/** llama.cpp's `general.file_type` numbering (LLAMA_FTYPE_*) for the weight formats written here. */
const FILE_TYPE = { f32: 0, f16: 1, q8_0: 7 } as const;

/**
 * Converts a Hugging Face BERT sentence-embedding model (safetensors + tokenizer.json +
 * config.json) into a GGUF file llama.cpp loads as `general.architecture = bert` with mean
 * pooling. Deterministic: the same inputs give the same bytes, so the output has a checksum.
 */
export async function convertBertToGguf(input: {
  safetensors: string;
  tokenizer: string;
  config: string;
  output: string;
  name: string;
  /**
   * How weight matrices are stored: F32 (default), F16 (half the size) or Q8_0 (a quarter). Norms,
   * biases and the position and token-type embeddings stay F32 regardless.
   */
  weights?: 'f32' | 'f16' | 'q8_0';
}): Promise<void> {
  const options = input;
  const config = JSON.parse(await readFile(input.config, 'utf8')) as Record<string, number | string>;
  if (config.model_type !== 'bert') {
    throw new Error(`${input.config}: model_type is "${config.model_type}", only "bert" can be converted`);
  }
  const tokenizer = JSON.parse(await readFile(input.tokenizer, 'utf8')) as {
    model: { type: string; vocab: Record<string, number> };
  };
  if (tokenizer.model.type !== 'WordPiece') {
    throw new Error(`${input.tokenizer}: tokenizer is ${tokenizer.model.type}, expected WordPiece`);
  }
  const vocabSize = Number(config.vocab_size);
  const tokens: string[] = new Array(vocabSize);
  for (const [token, id] of Object.entries(tokenizer.model.vocab)) tokens[id] = token;
  // llama.cpp's WordPiece marks word starts with U+2581 instead of marking continuations with ##.
  const ggufTokens = tokens.map((t, i) => {
    if (t === undefined) return `[PAD${i}]`;
    if (t.startsWith('[') && t.endsWith(']')) return t;
    if (t.startsWith('##')) return t.slice(2);
    return `\u2581${t}`;
  });
  const tokenTypes = tokens.map((t) => (t?.startsWith('[') && t.endsWith(']') ? 3 : 1));
  const id = (t: string) => tokenizer.model.vocab[t] ?? 0;

  const meta = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'bert' }],
    ['general.name', { type: 'string', value: input.name }],
    ['general.file_type', { type: 'u32', value: FILE_TYPE[input.weights ?? 'f32'] }],
    ['bert.context_length', { type: 'u32', value: Number(config.max_position_embeddings) }],
    ['bert.embedding_length', { type: 'u32', value: Number(config.hidden_size) }],
    ['bert.feed_forward_length', { type: 'u32', value: Number(config.intermediate_size) }],
    ['bert.block_count', { type: 'u32', value: Number(config.num_hidden_layers) }],
    ['bert.attention.head_count', { type: 'u32', value: Number(config.num_attention_heads) }],
    ['bert.attention.layer_norm_epsilon', { type: 'f32', value: Number(config.layer_norm_eps ?? 1e-12) }],
    ['bert.attention.causal', { type: 'bool', value: false }],
    ['bert.pooling_type', { type: 'u32', value: 1 }],
    ['tokenizer.ggml.model', { type: 'string', value: 'bert' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: ggufTokens }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: tokenTypes }],
    ['tokenizer.ggml.token_type_count', { type: 'u32', value: Number(config.type_vocab_size ?? 2) }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: id('[UNK]') }],
    ['tokenizer.ggml.seperator_token_id', { type: 'u32', value: id('[SEP]') }],
    ['tokenizer.ggml.padding_token_id', { type: 'u32', value: id('[PAD]') }],
    ['tokenizer.ggml.cls_token_id', { type: 'u32', value: id('[CLS]') }],
    ['tokenizer.ggml.mask_token_id', { type: 'u32', value: id('[MASK]') }],
  ]);

  const tensors: GgufTensor[] = [];
  for (const t of await readSafetensors(input.safetensors)) {
    const name = ggufTensorName(t.name);
    if (!name) continue;
    if (t.dtype !== 'F32')
      throw new Error(`${input.safetensors}: tensor ${t.name} is ${t.dtype}, expected F32`);
    const f32 = new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
    // F32 is the default: for a model this small llama.cpp's F32 kernels embed 20-30% faster than
    // F16 on the CPU (measured: 1120 vs 942 tokens/s on 254-token inputs, 2 cores). Q8_0 trades a
    // little precision for a quarter of the memory traffic (bench/embedding-weights.ts).
    const weights =
      t.shape.length === 2 && name !== 'token_types.weight' && name !== 'position_embd.weight'
        ? (options.weights ?? 'f32')
        : 'f32';
    const rowLength = t.shape.at(-1)!;
    if (weights === 'q8_0') {
      tensors.push({ name, shape: t.shape, type: GgmlType.Q8_0, data: quantizeQ8_0(f32, rowLength) });
    } else if (weights === 'f16') {
      tensors.push({
        name,
        shape: t.shape,
        type: GgmlType.F16,
        data: new Uint8Array(float32ToFloat16(f32).buffer),
      });
    } else {
      tensors.push({ name, shape: t.shape, type: GgmlType.F32, data: new Uint8Array(f32.slice().buffer) });
    }
  }
  await writeGguf(input.output, meta, tensors);
}

function ggufTensorName(hf: string): string | undefined {
  const name = hf.replace(/^bert\./, '');
  const fixed: Record<string, string> = {
    'embeddings.word_embeddings.weight': 'token_embd.weight',
    'embeddings.token_type_embeddings.weight': 'token_types.weight',
    'embeddings.position_embeddings.weight': 'position_embd.weight',
    'embeddings.LayerNorm.weight': 'token_embd_norm.weight',
    'embeddings.LayerNorm.bias': 'token_embd_norm.bias',
  };
  if (fixed[name]) return fixed[name];
  const m = /^encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (!m) return undefined;
  const parts: Record<string, string> = {
    'attention.self.query': 'attn_q',
    'attention.self.key': 'attn_k',
    'attention.self.value': 'attn_v',
    'attention.output.dense': 'attn_output',
    'attention.output.LayerNorm': 'attn_output_norm',
    'intermediate.dense': 'ffn_up',
    'output.dense': 'ffn_down',
    'output.LayerNorm': 'layer_output_norm',
  };
  const part = parts[m[2]!];
  return part ? `blk.${m[1]}.${part}.${m[3]}` : undefined;
}

type SafeTensor = { name: string; dtype: string; shape: number[]; data: Uint8Array };

/** Reads every tensor of a .safetensors file: an 8-byte header length, a JSON header, then raw data. */
export async function readSafetensors(path: string): Promise<SafeTensor[]> {
  const handle = await open(path, 'r');
  try {
    const lenBuf = Buffer.alloc(8);
    await handle.read(lenBuf, 0, 8, 0);
    const headerLength = Number(lenBuf.readBigUInt64LE());
    const { size } = await handle.stat();
    if (headerLength <= 0 || headerLength > size - 8) throw new Error(`${path}: not a safetensors file`);
    const headerBuf = Buffer.alloc(headerLength);
    await handle.read(headerBuf, 0, headerLength, 8);
    const header = JSON.parse(headerBuf.toString('utf8')) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] }
    >;
    const base = 8 + headerLength;
    const out: SafeTensor[] = [];
    for (const [name, info] of Object.entries(header).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (name === '__metadata__') continue;
      const [start, end] = info.data_offsets;
      // A fresh ArrayBuffer per tensor keeps Float32Array views aligned.
      const data = new Uint8Array(end - start);
      await handle.read(data, 0, end - start, base + start);
      out.push({ name, dtype: info.dtype, shape: info.shape, data });
    }
    return out;
  } finally {
    await handle.close();
  }
}
