import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

/** GGUF value types, as numbered by the format. */
enum GgufType {
  Uint32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
}

/** GGML tensor element types used here. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q8_0 = 8,
}

export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: string[] }
  | { type: 'i32[]'; value: number[] };

export type GgufTensor = {
  name: string;
  /** Shape as PyTorch writes it (slowest dimension first); GGUF stores it reversed. */
  shape: number[];
  type: GgmlType;
  data: Uint8Array;
};

const ALIGNMENT = 32;

/** Writes a GGUF v3 file: header, key/values, tensor infos, then aligned tensor data. */
export async function writeGguf(path: string, metadata: Map<string, GgufValue>, tensors: GgufTensor[]) {
  const head = new ByteWriter();
  head.bytes(Buffer.from('GGUF', 'ascii'));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(metadata.size);
  for (const [key, value] of metadata) {
    head.string(key);
    writeValue(head, value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const tensor of tensors) {
    head.string(tensor.name);
    head.u32(tensor.shape.length);
    for (const dim of [...tensor.shape].reverse()) head.u64(dim);
    head.u32(tensor.type);
    head.u64(offset);
    offsets.push(offset);
    offset = align(offset + tensor.data.byteLength);
  }
  const headBytes = head.toBuffer();
  const out = createWriteStream(path);
  const write = async (chunk: Uint8Array) => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  await write(headBytes);
  await write(Buffer.alloc(align(headBytes.length) - headBytes.length));
  let written = 0;
  for (const [i, tensor] of tensors.entries()) {
    await write(Buffer.alloc(offsets[i]! - written));
    await write(tensor.data);
    written = offsets[i]! + tensor.data.byteLength;
  }
  out.end();
  await once(out, 'finish');
}

function align(n: number): number {
  return Math.ceil(n / ALIGNMENT) * ALIGNMENT;
}

function writeValue(w: ByteWriter, v: GgufValue) {
  switch (v.type) {
    case 'u32':
      w.u32(GgufType.Uint32);
      w.u32(v.value);
      return;
    case 'i32':
      w.u32(GgufType.Int32);
      w.i32(v.value);
      return;
    case 'f32':
      w.u32(GgufType.Float32);
      w.f32(v.value);
      return;
    case 'bool':
      w.u32(GgufType.Bool);
      w.bytes(Uint8Array.of(v.value ? 1 : 0));
      return;
    case 'string':
      w.u32(GgufType.String);
      w.string(v.value);
      return;
    case 'string[]':
      w.u32(GgufType.Array);
      w.u32(GgufType.String);
      w.u64(v.value.length);
      for (const s of v.value) w.string(s);
      return;
    case 'i32[]':
      w.u32(GgufType.Array);
      w.u32(GgufType.Int32);
      w.u64(v.value.length);
      for (const n of v.value) w.i32(n);
      return;
  }
}

class ByteWriter {
  #chunks: Buffer[] = [];
  bytes(b: Uint8Array) {
    this.#chunks.push(Buffer.from(b));
  }
  u32(n: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.#chunks.push(b);
  }
  i32(n: number) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    this.#chunks.push(b);
  }
  f32(n: number) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(n);
    this.#chunks.push(b);
  }
  u64(n: number) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.#chunks.push(b);
  }
  string(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.#chunks.push(b);
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

/** IEEE 754 half precision from single, round-to-nearest-even. */
export function float32ToFloat16(input: Float32Array): Uint16Array {
  const out = new Uint16Array(input.length);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < input.length; i++) {
    f32[0] = input[i]!;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    let exp = ((x >>> 23) & 0xff) - 127 + 15;
    let mant = x & 0x7fffff;
    if (((x >>> 23) & 0xff) === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    if (exp >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (exp <= 0) {
      if (exp < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - exp;
      const half = 1 << (shift - 1);
      let m = mant >>> shift;
      const rest = mant & ((1 << shift) - 1);
      if (rest > half || (rest === half && m & 1)) m++;
      out[i] = sign | m;
      continue;
    }
    let m = mant >>> 13;
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
      m++;
      if (m === 0x400) {
        m = 0;
        exp++;
        if (exp >= 0x1f) {
          out[i] = sign | 0x7c00;
          continue;
        }
      }
    }
    out[i] = sign | (exp << 10) | m;
  }
  return out;
}

/** Values per Q8_0 block; a block is an F16 scale followed by 32 signed bytes. */
export const Q8_0_BLOCK = 32;

/**
 * GGML's Q8_0 quantisation of rows of `rowLength` values: per block of 32, scale = max|x| / 127
 * (stored as F16) and each value rounded half away from zero to x / scale, as ggml's reference does.
 */
export function quantizeQ8_0(values: Float32Array, rowLength: number): Uint8Array {
  if (rowLength % Q8_0_BLOCK !== 0 || values.length % rowLength !== 0) {
    throw new Error(`Q8_0 needs rows that are a multiple of ${Q8_0_BLOCK} values (row of ${rowLength})`);
  }
  const blocks = values.length / Q8_0_BLOCK;
  const out = new Uint8Array(blocks * (2 + Q8_0_BLOCK));
  const view = new DataView(out.buffer);
  const scale = new Float32Array(1);
  for (let b = 0; b < blocks; b++) {
    const base = b * Q8_0_BLOCK;
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(values[base + j]!));
    scale[0] = amax / 127;
    const d = scale[0]!;
    const inverse = d ? Math.fround(1 / d) : 0;
    const at = b * (2 + Q8_0_BLOCK);
    view.setUint16(at, float32ToFloat16(scale)[0]!, true);
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const x = Math.fround(values[base + j]! * inverse);
      view.setInt8(at + 2 + j, Math.sign(x) * Math.round(Math.abs(x)));
    }
  }
  return out;
}

/** IEEE 754 single precision from half (exact: every half value is a float). */
export function float16ToFloat32(input: Uint16Array): Float32Array {
  const out = new Float32Array(input.length);
  for (let i = 0; i < input.length; i++) {
    const h = input[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) out[i] = sign * fraction * 2 ** -24;
    else if (exponent === 31) out[i] = fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else out[i] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  return out;
}
