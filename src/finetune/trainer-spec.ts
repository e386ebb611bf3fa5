/**
 * Provider-shaped spec for fine-tuning backends: the local Python/PEFT worker and hosted
 * OpenAI-style services implement the same `doTrain`, which streams events until done.
 */

export type Hyperparameters = {
  rank: number;
  alpha: number;
  dropout: number;
  /** Module names LoRA wraps, e.g. q_proj, v_proj. */
  targetModules: string[];
  learningRate: number;
  epochs: number;
  batchSize: number;
  gradientAccumulation: number;
  /** Longest example in the base model's tokens; longer ones are refused before training. */
  maxSeqLength: number;
  seed: number;
  /** Save a resumable checkpoint every N optimizer steps (0 = only at the end). */
  checkpointEvery: number;
  /** Evaluate on the validation split every N optimizer steps (0 = once per epoch). */
  evalEvery: number;
  /**
   * Local worker: lay short examples end to end in rows of maxSeqLength tokens, each attending only
   * to itself (batchSize then does not apply: a micro-batch is one row). Same loss per example;
   * 3.45x the tokens/s of padded batches of 4 here, with a third of the optimizer steps per epoch
   * (bench/results/training-packing.json). Default on for the local worker; hosted backends ignore it.
   */
  packing?: boolean;
};

export type TrainOptions = {
  /** Catalog name, .gguf path or Hugging Face directory for local backends; a model id for hosted ones. */
  baseModel: string;
  /** Chat JSONL in the OpenAI `{"messages":[...]}` shape. */
  trainFile: string;
  validationFile?: string;
  hyperparameters: Hyperparameters;
  /** Where checkpoints and the exported adapter are written. */
  outputDir: string;
  /** Continue from the last checkpoint in outputDir. */
  resume?: boolean;
  /** Aborting asks the backend to save a checkpoint and stop (local: SIGTERM; hosted: cancel). */
  abortSignal?: AbortSignal;
};

export type TrainingEvent =
  | {
      type: 'started';
      totalSteps: number;
      trainExamples: number;
      validationExamples: number;
      resumedFromStep?: number;
    }
  | {
      type: 'step';
      step: number;
      totalSteps: number;
      epoch: number;
      loss: number;
      learningRate: number;
      tokensPerSecond: number;
      etaSeconds: number;
    }
  | { type: 'eval'; step: number; evalLoss: number }
  | { type: 'checkpoint'; step: number; path: string }
  | { type: 'log'; message: string }
  | { type: 'cancelled'; step: number; checkpoint?: string }
  | { type: 'failed'; message: string }
  | { type: 'succeeded'; output: TrainingOutput; metrics: Record<string, number> };

export type TrainingOutput =
  /** Local training: files on disk. */
  | { kind: 'adapter'; gguf: string; safetensors: string }
  /** Hosted training: the service's fine-tuned model id. */
  | { kind: 'hosted-model'; modelId: string };

export interface FineTuningBackend {
  readonly specificationVersion: 'v1';
  readonly provider: string;
  /** Ends with exactly one of cancelled, failed or succeeded. */
  doTrain(options: TrainOptions): AsyncIterable<TrainingEvent>;
}
