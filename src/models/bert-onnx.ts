import { open } from 'node:fs/promises';
import { GgmlType, readGgufFileInfo } from 'node-llama-cpp';
import { float16ToFloat32, Q8_0_BLOCK } from './gguf-writer.ts';
import { MICROSOFT_DOMAIN, OnnxGraphBuilder, OnnxType } from './onnx-writer.ts';

/** What a BERT GGUF pools into: a mean sentence vector, or a cross-encoder's relevance logit. */
export type BertPooling = 'mean' | 'rank';

export type BertOnnx = {
  /** The ONNX model: inputs `input_ids`, `attention_mask` (int64, [batch, sequence]). */
  model: Uint8Array;
  /** `mean`: output `embedding` [batch, hidden], not normalised. `rank`: output `score` [batch], a logit. */
  pooling: BertPooling;
  hiddenSize: number;
  contextLength: number;
  /**
   * True when the graph quantises activations per call (int8 products): a sequence's output then
   * depends on what else is in the batch, so each sequence must run alone.
   */
  onePerCall: boolean;
};

export type BertOnnxOptions = {
  /**
   * How Q8_0 matrices are run. `int8`: as 8-bit integer products (ONNX Runtime's
   * DynamicQuantizeMatMul), as llama.cpp also runs them in 8 bits, though with its own blocks and
   * rounding, so the two agree to cosine ~0.99 rather than to float rounding. `f32`: dequantised
   * to F32 matrices, llama.cpp's weights exactly. F32 and F16 matrices always run as F32.
   * Default: `int8` for embedders (mean pooling), whose dense recall holds
   * (bench/results/embedding-weights.json); `f32` for cross-encoders, whose scores moved by up to
   * 0.2 with 8-bit activations on the shipped reranker, too far for the thresholds fitted on them.
   */
  q8?: 'int8' | 'f32';
};

/** llama.cpp's pooling-type numbers (LLAMA_POOLING_TYPE_*) for the two kinds written here. */
const POOLING: Record<number, BertPooling> = { 1: 'mean', 4: 'rank' };

/** The pooling of a BERT GGUF this module converts; undefined for any other model (read from its header). */
export async function bertPooling(path: string): Promise<BertPooling | undefined> {
  const info = await readGgufFileInfo(path, { readTensorInfo: false }).catch(() => undefined);
  if (info?.metadata.general.architecture !== 'bert') return undefined;
  const bert = (info.metadata as unknown as Record<string, Record<string, unknown>>).bert;
  return POOLING[Number(bert?.pooling_type)];
}

/**
 * The ONNX graph of a BERT GGUF (the kind src/models/bert-gguf.ts writes, or any llama.cpp `bert`
 * GGUF with mean or rank pooling), built from the GGUF's own weights so ONNX Runtime computes the
 * same function llama.cpp does: same tokens in, the same vector out (to float rounding). F32, F16
 * and Q8_0 weights are read; see `BertOnnxOptions.q8` for how Q8_0 matrices run.
 */
export async function bertGgufToOnnx(path: string, options: BertOnnxOptions = {}): Promise<BertOnnx> {
  const info = await readGgufFileInfo(path, { readTensorInfo: true });
  const meta = info.metadata as unknown as Record<string, Record<string, unknown>>;
  if (info.metadata.general.architecture !== 'bert')
    throw new Error(`${path}: a ${info.metadata.general.architecture} GGUF, not bert`);
  const bert = meta.bert as Record<string, unknown> & { attention: Record<string, unknown> };
  const pooling = POOLING[Number(bert.pooling_type)];
  if (!pooling)
    throw new Error(`${path}: pooling type ${bert.pooling_type} (only mean and rank are supported)`);
  const q8 = options.q8 ?? (pooling === 'mean' ? 'int8' : 'f32');
  const hidden = Number(bert.embedding_length);
  const heads = Number(bert.attention.head_count);
  const layers = Number(bert.block_count);
  const epsilon = Number(bert.attention.layer_norm_epsilon ?? 1e-12);
  const headSize = hidden / heads;

  const tensors = new Map((info.tensorInfo ?? []).map((t) => [t.name, t]));
  const file = await open(path, 'r');
  const g = new OnnxGraphBuilder();
  let onePerCall = false;
  try {
    /** A tensor's bytes as stored, with its type and dimensions (GGUF order: last dimension first). */
    const readRaw = async (name: string) => {
      const t = tensors.get(name);
      if (!t) throw new Error(`${path}: tensor ${name} is missing`);
      const dims = t.dimensions.map(Number);
      const count = dims.reduce((a, b) => a * b, 1);
      const bytes =
        t.ggmlType === GgmlType.F32
          ? count * 4
          : t.ggmlType === GgmlType.F16
            ? count * 2
            : t.ggmlType === GgmlType.Q8_0
              ? (count / Q8_0_BLOCK) * (2 + Q8_0_BLOCK)
              : undefined;
      if (bytes === undefined)
        throw new Error(`${path}: tensor ${name} is ${GgmlType[t.ggmlType]} (F32, F16 and Q8_0 are read)`);
      const raw = new Uint8Array(bytes);
      await file.read(raw, 0, bytes, Number(t.fileOffset));
      return { dims, count, raw, type: t.ggmlType };
    };
    /** A tensor as F32 in GGUF (row-major, last dimension first in `dims`) order. */
    const read = async (name: string): Promise<{ dims: number[]; values: Float32Array }> => {
      const { dims, count, raw, type } = await readRaw(name);
      return { dims, values: decode(raw, type, count) };
    };
    /** A [out, in] GGUF matrix as the [in, out] right-hand side of ONNX MatMul. */
    const matrix = async (name: string) => {
      const { dims, values } = await read(name);
      const [inputs, outputs] = dims as [number, number];
      const t = new Float32Array(values.length);
      for (let o = 0; o < outputs; o++)
        for (let i = 0; i < inputs; i++) t[i * outputs + o] = values[o * inputs + i]!;
      return g.initializer(name, [inputs, outputs], t);
    };
    const vector = async (name: string) => {
      const { values } = await read(name);
      return g.initializer(name, [values.length], values);
    };
    /**
     * A Q8_0 [out, in] matrix as DynamicQuantizeMatMul's right-hand side: [in, out] signed bytes with
     * one scale per output column. GGUF's 32-value blocks each have their own scale, which this op
     * cannot take, so each column is requantised from the dequantised blocks to its largest value
     * (a second rounding, within half a step of the first). MatMulNBits takes the blocks as they are
     * but ran only 1.1-1.2x F32 MatMul on this CPU (ONNX Runtime 1.30); this op, whose int8
     * kernels use VNNI, ran 1.5-4x F32 MatMul on MiniLM's shapes (scratch microbenchmark, 2 cores).
     */
    const int8Matrix = (name: string, dims: number[], values: Float32Array) => {
      const [inputs, outputs] = dims as [number, number];
      const bytes = new Int8Array(inputs * outputs);
      const scales = new Float32Array(outputs);
      for (let o = 0; o < outputs; o++) {
        let largest = 0;
        for (let i = 0; i < inputs; i++) largest = Math.max(largest, Math.abs(values[o * inputs + i]!));
        const scale = largest / 127 || 1;
        scales[o] = scale;
        for (let i = 0; i < inputs; i++) bytes[i * outputs + o] = Math.round(values[o * inputs + i]! / scale);
      }
      return {
        weights: g.initializer(name, [inputs, outputs], bytes),
        scales: g.initializer(`${name}.scales`, [outputs], scales),
      };
    };
    const dense = async (x: string, prefix: string) => {
      const name = `${prefix}.weight`;
      const bias = await vector(`${prefix}.bias`);
      if (q8 === 'int8' && tensors.get(name)?.ggmlType === GgmlType.Q8_0) {
        const { dims, values } = await read(name);
        const m = int8Matrix(name, dims, values);
        onePerCall = true;
        // The activations are quantised per call to 8 bits (one scale and zero point per tensor),
        // hence one sequence per call. The bias goes in the op; the weights' zero point ('') is
        // absent, as they are symmetric.
        return g.op(
          'DynamicQuantizeMatMul',
          [x, m.weights, m.scales, '', bias],
          {},
          undefined,
          MICROSOFT_DOMAIN,
        );
      }
      return g.op('Add', [g.op('MatMul', [x, await matrix(name)]), bias]);
    };
    const layerNorm = async (x: string, prefix: string) =>
      g.op('LayerNormalization', [x, await vector(`${prefix}.weight`), await vector(`${prefix}.bias`)], {
        axis: -1,
        epsilon: { float: epsilon },
      });
    const int = (values: number[]) => g.constant(values, 'int64');
    const float = (value: number) => g.constant([value], 'float', []);

    // Embeddings: word + position + token type 0 (Attune never sends a second segment id).
    const words = await read('token_embd.weight');
    const positions = await read('position_embd.weight');
    const types = await read('token_types.weight');
    const contextLength = positions.dims[1]!;
    g.initializer('token_embd.weight', [words.dims[1]!, hidden], words.values);
    g.initializer('position_embd.weight', [contextLength, hidden], positions.values);
    const typeZero = g.initializer('token_type_0', [hidden], types.values.slice(0, hidden));
    const length = g.op('Slice', [g.op('Shape', ['input_ids']), int([1]), int([2]), int([0])]);
    const position = g.op('Slice', ['position_embd.weight', int([0]), length, int([0])]);
    let x = g.op('Add', [
      g.op('Add', [g.op('Gather', ['token_embd.weight', 'input_ids']), position]),
      typeZero,
    ]);
    x = await layerNorm(x, 'token_embd_norm');

    // Padding positions get -10000 before the softmax: exp underflows to exactly 0 in F32.
    const mask = g.op('Cast', ['attention_mask'], { to: OnnxType.FLOAT });
    const maskBias = g.op('Mul', [
      g.op('Sub', [g.op('Unsqueeze', [mask, int([1, 2])]), float(1)]),
      float(10000),
    ]);
    const split = int([0, 0, heads, headSize]);
    const merged = int([0, 0, hidden]);
    for (let l = 0; l < layers; l++) {
      const p = `blk.${l}`;
      const perHead = async (name: string, perm: number[]) =>
        g.op('Transpose', [g.op('Reshape', [await dense(x, `${p}.${name}`), split])], { perm });
      const q = await perHead('attn_q', [0, 2, 1, 3]);
      const k = await perHead('attn_k', [0, 2, 3, 1]);
      const v = await perHead('attn_v', [0, 2, 1, 3]);
      const scores = g.op('Add', [
        g.op('Mul', [g.op('MatMul', [q, k]), float(1 / Math.sqrt(headSize))]),
        maskBias,
      ]);
      const context = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
      const attended = g.op('Reshape', [g.op('Transpose', [context], { perm: [0, 2, 1, 3] }), merged]);
      x = await layerNorm(
        g.op('Add', [await dense(attended, `${p}.attn_output`), x]),
        `${p}.attn_output_norm`,
      );
      // GELU in its exact (erf) form, as BERT was trained; ONNX Runtime fuses the pattern.
      const up = await dense(x, `${p}.ffn_up`);
      const gelu = g.op('Mul', [
        g.op('Mul', [up, float(0.5)]),
        g.op('Add', [g.op('Erf', [g.op('Div', [up, float(Math.SQRT2)])]), float(1)]),
      ]);
      x = await layerNorm(g.op('Add', [await dense(gelu, `${p}.ffn_down`), x]), `${p}.layer_output_norm`);
    }

    const dynamic = ['batch', 'sequence'];
    const inputs = [
      { name: 'input_ids', elemType: OnnxType.INT64, shape: dynamic },
      { name: 'attention_mask', elemType: OnnxType.INT64, shape: dynamic },
    ];
    if (pooling === 'mean') {
      const summed = g.op('ReduceSum', [g.op('Mul', [x, g.op('Unsqueeze', [mask, int([2])])]), int([1])], {
        keepdims: 0,
      });
      const count = g.op('ReduceSum', [mask, int([1])], { keepdims: 1 });
      g.op('Div', [summed, count], {}, 'embedding');
      return {
        model: g.encode({
          name: 'bert-mean',
          producer: 'attune',
          inputs,
          outputs: [{ name: 'embedding', elemType: OnnxType.FLOAT, shape: ['batch', hidden] }],
        }),
        pooling,
        hiddenSize: hidden,
        contextLength,
        onePerCall,
      };
    }
    // Rank pooling, as llama.cpp's: the [CLS] state through the pooler (dense + tanh), then the classifier.
    const cls = g.op('Gather', [x, g.constant([0], 'int64', [])], { axis: 1 });
    const pooled = g.op('Tanh', [await dense(cls, 'cls')]);
    const logit = await dense(pooled, 'cls.output');
    g.op('Squeeze', [logit, int([1])], {}, 'score');
    return {
      model: g.encode({
        name: 'bert-rank',
        producer: 'attune',
        inputs,
        outputs: [{ name: 'score', elemType: OnnxType.FLOAT, shape: ['batch'] }],
      }),
      pooling,
      hiddenSize: hidden,
      contextLength,
      onePerCall,
    };
  } finally {
    await file.close();
  }
}

function decode(raw: Uint8Array, type: GgmlType, count: number): Float32Array {
  if (type === GgmlType.F32) return new Float32Array(raw.buffer, raw.byteOffset, count);
  if (type === GgmlType.F16) return float16ToFloat32(new Uint16Array(raw.buffer, raw.byteOffset, count));
  // Q8_0: blocks of an F16 scale and 32 signed bytes; value = scale × byte.
  const out = new Float32Array(count);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const block = 2 + Q8_0_BLOCK;
  for (let b = 0; b < count / Q8_0_BLOCK; b++) {
    const scale = float16ToFloat32(Uint16Array.of(view.getUint16(b * block, true)))[0]!;
    for (let j = 0; j < Q8_0_BLOCK; j++) out[b * Q8_0_BLOCK + j] = scale * view.getInt8(b * block + 2 + j);
  }
  return out;
}
