import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import {
  type Advice,
  type AdviceAnswers,
  advise,
  defaultPrices,
  type EvalRunMeasurements,
  measurementsFromReport,
  type PriceTable,
  renderCostCurveSvg,
} from './advise/index.ts';
import {
  Answerer,
  type AnswerResult,
  type AskOptions,
  defaultCalibration,
  verifierThreshold,
} from './answer/index.ts';
import { type AuditLog, type AuditRecord, LanceAuditLog, PostgresAuditLog } from './audit/index.ts';
import { type AttuneConfig, type AttuneConfigInput, loadConfig } from './config/index.ts';
import { type HealthCheck, healthChecks } from './doctor/index.ts';
import {
  type DeskDefinition,
  defineDesk,
  EditorialDesk,
  type EditorialDeskOptions,
  EditorialStore,
  readDeskFile,
} from './editorial/index.ts';
import {
  buildReport,
  type EvalProgress,
  type EvalReport,
  type EvalRunConfig,
  EvalRunStore,
  type FreshnessResult,
  freezeTestSet,
  judgeCorrectness,
  normalizeAnswer,
  parseStrategyList,
  type ResolvedStrategy,
  readTestQuestions,
  renderReportHtml,
  runEvaluation,
  runFreshnessProbe,
  type Strategy,
  StrategyError,
  type TestQuestion,
  type TestSet,
  TestSetError,
  TestSetStore,
  unknownGoldDocuments,
  usesAdapter,
  usesRetrieval,
} from './eval/index.ts';
import {
  type BackendName,
  type DatasetGenerationOptions,
  type DatasetGenerationResult,
  describeBaseModel,
  FineTuneJobs,
  type FineTuningBackend,
  type FinetuneJobRecord,
  generateDataset,
  generateQaDataset,
  type Hyperparameters,
  LocalTrainer,
  listAdapters,
  machineDescription,
  requirePrivacyScan,
  resolveAdapter,
  resolveHyperparameters,
  type TrainingEvent,
  trainerEnvironment,
  trainingBackend,
} from './finetune/index.ts';
import { type Acl, loadBytes } from './ingest/index.ts';
import { KeyStore } from './keys/index.ts';
import {
  type CopyKnowledgeBaseResult,
  copyKnowledgeBase,
  KnowledgeBase,
  type SyncOptions,
  type SyncSummary,
} from './knowledge/index.ts';
import {
  AttuneError,
  embedMany,
  Models,
  type PullProgress,
  type PullResult,
  runtimeFile,
} from './models/index.ts';
import { type RetrievalResult, type RetrieveOptions, Retriever } from './retrieve/index.ts';
import {
  checkPrincipal,
  type DocumentSnapshot,
  type KbVersion,
  type KnowledgeStore,
  type ListOptions,
  type Principal,
  type StoredDocument,
} from './store/index.ts';

export type FinetuneRunOptions = {
  onEvent?: (event: TrainingEvent, record: FinetuneJobRecord) => void;
  abortSignal?: AbortSignal;
};

export type FinetuneOptions = FinetuneRunOptions & {
  /** Training data: chat JSONL, prompt/completion pairs or transcripts. */
  data?: string;
  /** Validation data (default: 10% of the data held out). */
  validation?: string;
  /** Generate the data from the knowledge base instead: grounded Q&A pairs, or RAFT examples. */
  fromKnowledgeBase?: { count?: number; raft?: boolean };
  /** Catalog name, .gguf path or Hugging Face folder; default the chat model (local backend). */
  base?: string;
  backend?: BackendName;
  hyperparameters?: Partial<Hyperparameters>;
  allowUnscanned?: boolean;
  onCreated?: (record: FinetuneJobRecord) => void;
  onGenerated?: (file: string) => void;
  onGenerateProgress?: (p: { kept: number; target: number }) => void;
};

export type ModelCatalogEntry = {
  name: string;
  task: string;
  format: string;
  sizeBytes: number;
  licence: string;
  present: boolean;
  default: boolean;
  path: string;
  sources: string[];
};

/** A knowledge-base version; `summary` and `note` are present for admins only. */
export type VersionView = Pick<KbVersion, 'number' | 'createdAt'> &
  Partial<Pick<KbVersion, 'summary' | 'note'>>;

export type AttuneOptions = {
  cwd?: string;
  /** Usually process.env; nothing else in Attune reads the environment. */
  env?: Record<string, string | undefined>;
  configFile?: string;
  config?: AttuneConfigInput;
} & AttuneParts;

/**
 * Parts made elsewhere to use instead of the configured ones: a `KnowledgeStore` of any backend
 * (its embedding model must be the configured one), an audit log. Attune takes them over: its
 * `close()` closes them.
 */
export type AttuneParts = {
  store?: KnowledgeStore;
  audit?: AuditLog;
};

/**
 * The library entry point; the CLI and the server are thin layers over it.
 *
 *   const attune = await Attune.open({ env: process.env });
 *   await attune.sync(['./handbook']);
 *   await attune.close();
 */
const ADMIN: Principal = { user: 'eval', groups: [], admin: true };

export class Attune {
  readonly config: AttuneConfig;
  readonly models: Models;
  #kb: Promise<KnowledgeBase> | undefined;
  #audit: Promise<AuditLog> | undefined;
  #retriever: Promise<Retriever> | undefined;
  readonly #answerers = new Map<string, Promise<Answerer>>();
  readonly #ownsModels: boolean;
  readonly #parts: AttuneParts;

  private constructor(config: AttuneConfig, models?: Models, parts: AttuneParts = {}) {
    this.config = config;
    this.models = models ?? new Models(config);
    this.#ownsModels = models === undefined;
    this.#parts = parts;
  }

  /**
   * From an already validated configuration (the CLI loads its own, with flags). `models` shares
   * loaded models with another instance; it is then not disposed on close.
   */
  static fromConfig(config: AttuneConfig, options: { models?: Models } & AttuneParts = {}): Attune {
    const { models, ...parts } = options;
    return new Attune(config, models, parts);
  }

  static async open(options: AttuneOptions = {}): Promise<Attune> {
    return new Attune(
      loadConfig({
        ...(options.cwd ? { cwd: options.cwd } : {}),
        env: options.env ?? {},
        ...(options.configFile ? { file: options.configFile } : {}),
        ...(options.config ? { flags: options.config } : {}),
      }),
      undefined,
      {
        ...(options.store ? { store: options.store } : {}),
        ...(options.audit ? { audit: options.audit } : {}),
      },
    );
  }

  /** What is installed and usable for this configuration (runtime, default models, Python, trainer, store). */
  doctor(): Promise<HealthCheck[]> {
    return healthChecks(this.config, this.models);
  }

  /** The knowledge base; `create: false` refuses to start an empty one where none exists. */
  knowledgeBase(options: { create?: boolean } = {}): Promise<KnowledgeBase> {
    this.#kb ??= KnowledgeBase.open(this.config, this.models, {
      ...options,
      ...(this.#parts.store ? { store: this.#parts.store } : {}),
    });
    this.#kb.catch(() => {
      this.#kb = undefined;
    });
    return this.#kb;
  }

  /** The answer audit trail: beside the knowledge base in its directory, or in its PostgreSQL database. */
  audit(): Promise<AuditLog> {
    // Through the knowledge base: a mistyped ATTUNE_DIR is an error, never a new empty audit log.
    this.#audit ??= this.knowledgeBase({ create: false }).then(
      (): Promise<AuditLog> =>
        this.#parts.audit
          ? Promise.resolve(this.#parts.audit)
          : this.config.store.kind === 'postgres'
            ? PostgresAuditLog.open({ url: this.config.store.url ?? '' })
            : LanceAuditLog.open(join(this.config.dir, 'audit')),
    );
    this.#audit.catch(() => {
      this.#audit = undefined;
    });
    return this.#audit;
  }

  /**
   * Grounded answers over the knowledge base, audited; with the configured chat model unless a
   * strategy names another (an evaluation compares several in one run).
   */
  answerer(
    options: {
      chatModel?: string;
      systemPrompt?: string;
      evidenceSentences?: number;
      /** Off only to measure what the instruction filter prevents (AnswererOptions.instructionFilter). */
      instructionFilter?: boolean;
    } = {},
  ): Promise<Answerer> {
    const chatName = options.chatModel ?? this.config.models.chat;
    const key = JSON.stringify([
      chatName,
      options.systemPrompt ?? null,
      options.evidenceSentences ?? null,
      options.instructionFilter ?? true,
    ]);
    let answerer = this.#answerers.get(key);
    if (!answerer) {
      answerer = (async () => {
        const kb = await this.knowledgeBase({ create: false });
        const embedder = await this.models.embedding(kb.embeddingModelName);
        const reranker = await this.models.reranker();
        const verifier = await this.models.verifier();
        const calibration = defaultCalibration();
        return new Answerer({
          calibration,
          ...(verifier
            ? {
                verifier: {
                  model: verifier,
                  threshold: verifierThreshold(
                    verifier.modelId,
                    calibration,
                    this.config.models.verifierThreshold,
                  ),
                },
              }
            : {}),
          chat: await this.models.chat(chatName),
          tokenizer: await this.models.tokenizer(chatName),
          embedder,
          retriever: new Retriever({ store: kb.store, embedder, reranker }),
          store: kb.store,
          audit: await this.audit(),
          ...(options.systemPrompt ? { systemPrompt: options.systemPrompt } : {}),
          ...(options.evidenceSentences !== undefined
            ? { evidenceSentences: options.evidenceSentences }
            : {}),
          ...(options.instructionFilter === false ? { instructionFilter: false } : {}),
        });
      })();
      this.#answerers.set(key, answerer);
      answerer.catch(() => this.#answerers.delete(key));
    }
    return answerer;
  }

  /** Frozen test sets, in `<dir>/testsets`. */
  testSets(): TestSetStore {
    return new TestSetStore(join(this.config.dir, 'testsets'));
  }

  /** Eval runs, in `<dir>/eval`. */
  evalRuns(): EvalRunStore {
    return new EvalRunStore(join(this.config.dir, 'eval'));
  }

  /**
   * Imports questions from a JSONL or CSV file as a frozen test set. Gold document ids must name
   * documents of the knowledge base (when there is one), so a typo is an error now rather than a
   * recall of 0 later.
   */
  async importTestSet(path: string, options: { name: string; overwrite?: boolean }): Promise<TestSet> {
    const questions = readTestQuestions(path);
    return this.#freeze(questions, { name: options.name, origin: path, overwrite: options.overwrite });
  }

  async #freeze(
    questions: TestQuestion[],
    options: {
      name: string;
      origin: string;
      overwrite?: boolean | undefined;
      generation?: Record<string, unknown>;
    },
  ): Promise<TestSet> {
    const kb = await this.knowledgeBase({ create: false }).catch(() => undefined);
    const kbVersion = kb ? (await kb.store.currentVersion())?.number : undefined;
    if (kb && questions.some((q) => q.gold_doc_ids.length > 0)) {
      const ids = (await kb.listDocuments(ADMIN, { limit: 1_000_000 })).map((d) => d.id);
      const unknown = unknownGoldDocuments(questions, ids);
      if (unknown.length > 0)
        throw new TestSetError(
          `${options.origin}: ${unknown.length} gold document id(s) name no document of the knowledge base, e.g. question "${unknown[0]!.questionId}": field "gold_doc_ids" has "${unknown[0]!.goldDocId}".`,
          {
            hint: 'Use the document ids `attune docs ls` shows (or their part after "#"), or sync the documents first.',
          },
        );
    }
    const set = freezeTestSet(questions, {
      name: options.name,
      origin: options.origin,
      kbVersion,
      ...(options.generation ? { generation: options.generation } : {}),
    });
    this.testSets().save(set, { overwrite: options.overwrite ?? false });
    return set;
  }

  /**
   * Generates a test set from the knowledge base with the chat model. A generated question is kept
   * only when retrieval finds its own chunk among the top k and its answer is a span of that chunk,
   * so every kept question is answerable from the knowledge base by construction.
   */
  async generateTestSet(options: {
    name: string;
    count: number;
    seed?: number;
    k?: number;
    overwrite?: boolean;
    principal?: Principal;
    onProgress?: (p: { kept: number; tried: number; target: number }) => void;
  }): Promise<TestSet> {
    const kb = await this.knowledgeBase({ create: false });
    const principal = options.principal ?? ADMIN;
    const generated = await generateQaDataset({
      model: await this.models.chat(),
      store: kb.store,
      principal,
      count: options.count * 2,
      seed: options.seed ?? 1,
    });
    const embedder = await this.models.embedding(kb.embeddingModelName);
    const retriever = new Retriever({ store: kb.store, embedder, reranker: await this.models.reranker() });
    const k = options.k ?? 5;
    const kept: TestQuestion[] = [];
    const dropped = { notRetrieved: 0, notSpan: 0 };
    for (const [i, pair] of generated.pairs.entries()) {
      if (kept.length >= options.count) break;
      options.onProgress?.({ kept: kept.length, tried: i, target: options.count });
      if (!normalizeAnswer(pair.source.chunk.text).includes(normalizeAnswer(pair.answer))) {
        dropped.notSpan++;
        continue;
      }
      const { evidence } = await retriever.retrieve(pair.question, { principal, k });
      if (!evidence.some((e) => e.chunk.id === pair.source.chunk.id)) {
        dropped.notRetrieved++;
        continue;
      }
      kept.push({
        id: `g${kept.length + 1}`,
        question: pair.question,
        answers: [pair.answer],
        answerable: true,
        gold_doc_ids: [pair.source.document.id],
      });
    }
    if (kept.length === 0)
      throw new TestSetError(`No generated question survived the checks (${generated.generated} proposed).`, {
        hint: 'Try a larger --count, another chat model (--chat-model), or import questions written by people.',
      });
    return this.#freeze(kept, {
      name: options.name,
      origin: 'generated',
      overwrite: options.overwrite,
      generation: {
        model: this.config.models.chat,
        seed: options.seed ?? 1,
        k,
        proposed: generated.generated,
        keptByGenerator: generated.kept,
        droppedByGenerator: generated.droppedByReason,
        droppedAnswerNotSpan: dropped.notSpan,
        droppedOwnChunkNotRetrieved: dropped.notRetrieved,
        kept: kept.length,
      },
    });
  }

  /**
   * Resolves what each strategy will run: its chat model (with checksum) and, for ft and hybrid,
   * its adapter — given, or the newest one trained on that model. An adapter trained on another
   * model than the strategy's is refused: llama.cpp would load it and answer nonsense.
   */
  resolveStrategies(strategies: Strategy[] | string, options: { adapter?: string } = {}): ResolvedStrategy[] {
    const list = typeof strategies === 'string' ? parseStrategyList(strategies) : strategies;
    return list.map((s) => {
      const adapterRef = s.adapter ?? (usesAdapter(s.kind) ? options.adapter : undefined);
      let chatModel = s.chatModel ?? this.config.models.chat;
      let adapterInfo: ResolvedStrategy['adapterInfo'];
      if (usesAdapter(s.kind)) {
        const adapters = listAdapters(this.config);
        const entry = adapterRef
          ? adapters.find((a) => a.id === adapterRef || a.gguf === resolvePath(adapterRef))
          : (adapters.find((a) => a.lineage.baseModel.name === chatModel) ??
            (s.chatModel ? undefined : adapters[0]));
        if (!adapterRef && !entry)
          throw new StrategyError(
            `Strategy "${s.name}" needs a fine-tuned adapter, and none is registered.`,
            {
              hint: 'Train one with: attune finetune <dataset.jsonl>, or pass --adapter <id|file.gguf>.',
            },
          );
        const base = entry?.lineage.baseModel.name;
        if (base && s.chatModel && base !== s.chatModel)
          throw new StrategyError(
            `Strategy "${s.name}": adapter ${entry!.id} was trained on "${base}", not on "${s.chatModel}".`,
            { hint: `Use ${s.kind}@${base}, or an adapter trained on ${s.chatModel}.` },
          );
        if (base) chatModel = base;
        const resolved = resolveAdapter(this.config, adapterRef ?? entry!.id);
        adapterInfo = { ...resolved, ...(entry ? { lineage: entry.lineage } : {}) };
      }
      const entry = this.models.catalog.has(chatModel) ? this.models.catalog.get(chatModel) : undefined;
      const sha256 = entry ? runtimeFile(entry).sha256 : undefined;
      return {
        ...s,
        chatModel,
        model: { name: chatModel, id: chatModel, ...(sha256 ? { sha256 } : {}) },
        ...(adapterInfo ? { adapterInfo } : {}),
      };
    });
  }

  /** One answer the way a strategy answers, cache off (an eval measures, it does not replay). */
  async answerAs(
    strategy: ResolvedStrategy,
    question: string,
    options: { principal: Principal; abortSignal?: AbortSignal },
  ): Promise<AnswerResult> {
    const answerer = await this.answerer({
      chatModel: strategy.model.name,
      ...(strategy.systemPrompt ? { systemPrompt: strategy.systemPrompt } : {}),
      ...(strategy.evidenceSentences !== undefined ? { evidenceSentences: strategy.evidenceSentences } : {}),
    });
    return answerer.answer(question, {
      principal: options.principal,
      cache: false,
      retrieval: usesRetrieval(strategy.kind),
      ...(strategy.kind === 'extractive' ? { mode: 'extractive' as const } : {}),
      ...(strategy.adapterInfo
        ? { adapter: { id: strategy.adapterInfo.id, path: strategy.adapterInfo.path } }
        : {}),
      ...(strategy.k !== undefined ? { k: strategy.k } : {}),
      ...(strategy.rerank !== undefined ? { rerank: strategy.rerank } : {}),
      ...(strategy.maxTokens !== undefined ? { maxTokens: strategy.maxTokens } : {}),
      ...(strategy.temperature !== undefined ? { temperature: strategy.temperature } : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
  }

  /**
   * Runs a test set through every strategy, scores each answer, and writes the run (resumable),
   * its JSON report and its HTML report under `<dir>/eval/<run id>`.
   */
  async evaluate(options: {
    testSet: string | TestSet;
    strategies: Strategy[] | string;
    adapter?: string;
    repeats?: number;
    seed?: number;
    principal?: Principal;
    /** Continue this run: questions already answered are not asked again. */
    resume?: string;
    /** Also run the freshness probe on this many documents (on a copy of the knowledge base). */
    freshness?: number;
    judgeModel?: string;
    onProgress?: (p: EvalProgress) => void;
    onFreshnessProgress?: (done: number, total: number) => void;
    /** Once the run is recorded (or found, to resume), before any question is answered. */
    onCreated?: (run: EvalRunConfig) => void;
    abortSignal?: AbortSignal;
  }): Promise<{ report: EvalReport; paths: { json: string; html?: string } }> {
    const started = performance.now();
    const runs = this.evalRuns();
    const kb = await this.knowledgeBase({ create: false });
    const kbVersion = (await kb.store.currentVersion())?.number;
    let run: ReturnType<EvalRunStore['config']>;
    let testSet: TestSet;
    if (options.resume) {
      run = runs.config(options.resume);
      testSet = this.testSets().load(run.testSet.name);
      if (testSet.contentSha256 !== run.testSet.contentSha256)
        throw new TestSetError(`Test set ${run.testSet.name} changed since run ${run.id} started.`, {
          hint: 'Start a new run; the old answers are for other questions.',
        });
    } else {
      testSet = typeof options.testSet === 'string' ? this.testSets().load(options.testSet) : options.testSet;
      const strategies = this.resolveStrategies(options.strategies, {
        ...(options.adapter ? { adapter: options.adapter } : {}),
      });
      const notes: string[] = [];
      if (testSet.kbVersion !== undefined && kbVersion !== testSet.kbVersion)
        notes.push(
          `The test set was frozen at knowledge-base version ${testSet.kbVersion}; this run answers from version ${kbVersion}. Runs over different versions are not strictly comparable.`,
        );
      run = runs.create({
        testSet: {
          name: testSet.name,
          contentSha256: testSet.contentSha256,
          kbVersion: testSet.kbVersion,
          questions: testSet.questions.length,
        },
        kbVersion,
        strategies,
        repeats: options.repeats ?? 1,
        seed: options.seed ?? 1,
        principal: options.principal ?? ADMIN,
        embeddingModel: kb.embeddingModelName,
        ...(this.config.models.reranker ? { reranker: this.config.models.reranker } : {}),
        machine: machineDescription(),
        notes,
      });
    }
    options.onCreated?.(run);
    const judge = options.judgeModel ? await this.models.chat(options.judgeModel) : undefined;
    const principal = run.principal;
    const answer = async (
      strategy: ResolvedStrategy,
      question: TestQuestion,
      o: { abortSignal?: AbortSignal },
    ) =>
      this.answerAs(strategy, question.question, {
        principal,
        ...(o.abortSignal ? { abortSignal: o.abortSignal } : {}),
      });
    const { outcomes, answerMs, warmupMs } = await runEvaluation({
      store: runs,
      run,
      testSet,
      answer,
      // One untimed answer loads the strategy's models (a failure here shows up in the real answers).
      warmup: async (strategy) => {
        const first = testSet.questions[0];
        if (first) await answer(strategy, first, {});
      },
      ...(judge ? { judge: (question, o) => judgeCorrectness(judge, question, o.answer, o.abstained) } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
    const freshness = options.freshness
      ? await this.freshnessProbe({
          questions: testSet.questions,
          strategies: run.strategies,
          documents: options.freshness,
          principal,
          ...(options.onFreshnessProgress ? { onProgress: options.onFreshnessProgress } : {}),
        })
      : undefined;
    const report = buildReport(
      run,
      outcomes,
      { answerMs, warmupMs, runMs: performance.now() - started },
      { questions: testSet.questions, ...(freshness ? { freshness } : {}) },
    );
    const paths = runs.writeReport(run.id, report, renderReportHtml(report));
    return { report, paths };
  }

  /**
   * Recomputes a finished run's summaries, comparisons and HTML from its stored outcomes (after an
   * upgrade of Attune's metrics, say); the answers, the freshness result and the timing are kept.
   */
  rebuildReport(runId: string): { report: EvalReport; paths: { json: string; html?: string } } {
    const runs = this.evalRuns();
    const old = runs.report(runId);
    const report = buildReport(runs.config(runId), runs.outcomes(runId), old.timing, {
      questions: old.questions,
      ...(old.freshness !== undefined ? { freshness: old.freshness } : {}),
    });
    return { report, paths: runs.writeReport(runId, report, renderReportHtml(report)) };
  }

  /**
   * The freshness probe on a copy of the knowledge base: the user's documents and versions are
   * never changed, and the copy is deleted afterwards.
   */
  async freshnessProbe(options: {
    questions: TestQuestion[];
    strategies: ResolvedStrategy[];
    documents: number;
    principal?: Principal;
    seed?: number;
    onProgress?: (done: number, total: number) => void;
  }): Promise<FreshnessResult> {
    const kb = await this.knowledgeBase({ create: false });
    const copyDir = mkdtempSync(join(tmpdir(), 'attune-freshness-'));
    const copy = Attune.fromConfig({ ...this.config, dir: copyDir }, { models: this.models });
    try {
      // Copied under the writer lock, so no sync commits halfway through the copy.
      await kb.store.beginWrite();
      try {
        cpSync(this.config.dir, copyDir, {
          recursive: true,
          // Not the lock this process holds while copying, nor the runs and the audit trail.
          filter: (src) =>
            !src.endsWith('write.lock') &&
            !src.startsWith(join(this.config.dir, 'eval')) &&
            !src.startsWith(join(this.config.dir, 'audit')),
        });
      } finally {
        await kb.store.endWrite();
      }
      return await runFreshnessProbe({
        kb: await copy.knowledgeBase({ create: false }),
        questions: options.questions,
        strategies: options.strategies,
        documents: options.documents,
        principal: options.principal ?? ADMIN,
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        answer: (strategy, question) =>
          copy.answerAs(strategy, question.question, { principal: options.principal ?? ADMIN }),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
    } finally {
      await copy.close();
      rmSync(copyDir, { recursive: true, force: true });
    }
  }

  /**
   * Recommends RAG, fine-tuning or the hybrid from the decision answers and an eval run (the
   * latest by default), with a 12-month cost projection. With a run, the advice, the cost curves
   * (SVG) and a report.html that includes them are written beside the run.
   */
  async advise(options: {
    answers: AdviceAnswers;
    prices?: PriceTable;
    /** An eval run id; default the latest finished one; `false`: advise from the answers alone. */
    run?: string | false;
    /** Measurements from elsewhere (e.g. a report file of another machine) instead of a run. */
    measurements?: EvalRunMeasurements;
  }): Promise<{ advice: Advice; runId?: string; paths?: { advice: string; svg: string; html: string } }> {
    const prices = options.prices ?? defaultPrices;
    const runs = this.evalRuns();
    const runId = options.measurements || options.run === false ? undefined : (options.run ?? runs.latest());
    const report = runId ? runs.report(runId) : undefined;
    const measured =
      options.measurements ??
      (report
        ? measurementsFromReport(report, { embedding: await this.#embeddingMeasurement() })
        : { strategies: [] });
    const advice = advise({
      answers: options.answers,
      measured: measured.strategies,
      prices,
      ...(measured.training ? { training: measured.training } : {}),
      ...(measured.embedding ? { embedding: measured.embedding } : {}),
      ...(measured.storageGb !== undefined ? { storageGb: measured.storageGb } : {}),
    });
    if (!report || !runId) return { advice };
    const dir = join(runs.dir, runId);
    const svg = renderCostCurveSvg(advice.costs);
    writeFileSync(
      join(dir, 'advice.json'),
      `${JSON.stringify({ answers: options.answers, prices: prices.source, ...advice }, null, 1)}\n`,
    );
    writeFileSync(join(dir, 'cost.svg'), svg);
    const html = runs.writeReport(
      runId,
      report,
      renderReportHtml(report, {
        costSvg: svg,
        costTable: advice.costs.approaches.map((a) => ({
          approach: a.label,
          usdPer1000: a.monthlyTotal / Math.max(1, advice.costs.queriesPerMonth / 1000),
          twelveMonthUsd: a.total,
        })),
      }),
    ).html!;
    return { advice, runId, paths: { advice: join(dir, 'advice.json'), svg: join(dir, 'cost.svg'), html } };
  }

  /**
   * What a full re-index costs: the tokens of every stored chunk, and the seconds to embed them
   * at the rate measured now on a sample of up to 32 chunks (so a local embedding model is priced
   * by the hour it actually takes on this machine).
   */
  async #embeddingMeasurement(): Promise<
    { tokensInKb: number; secondsToEmbed?: number; model: string } | undefined
  > {
    const kb = await this.knowledgeBase({ create: false }).catch(() => undefined);
    if (!kb) return undefined;
    let tokens = 0;
    const sample: { text: string; tokens: number }[] = [];
    for (const doc of await kb.listDocuments(ADMIN, { limit: 1_000_000 }))
      for (const chunk of await kb.store.getChunks(doc.id, ADMIN)) {
        tokens += chunk.tokenCount;
        if (sample.length < 32) sample.push({ text: chunk.text, tokens: chunk.tokenCount });
      }
    if (sample.length === 0) return { tokensInKb: 0, model: kb.embeddingModelName };
    const embedder = await this.models.embedding(kb.embeddingModelName);
    const started = performance.now();
    await embedMany({ model: embedder, values: sample.map((c) => c.text) });
    const seconds = (performance.now() - started) / 1000;
    const sampled = sample.reduce((n, c) => n + c.tokens, 0);
    return {
      tokensInKb: tokens,
      secondsToEmbed: (tokens / Math.max(1, sampled)) * seconds,
      model: kb.embeddingModelName,
    };
  }

  /**
   * An editorial desk (a desk file's path, or its definition): its feeds become knowledge-base
   * documents, its state lives in `<dir>/editorial/<desk>`. The chat model loads on the first draft.
   */
  async editorial(
    desk: string | DeskDefinition | Record<string, unknown>,
    options: Pick<EditorialDeskOptions, 'classifier' | 'fetch' | 'now'> & { chatModel?: string } = {},
  ): Promise<EditorialDesk> {
    const definition = typeof desk === 'string' ? readDeskFile(desk) : defineDesk(desk);
    const kb = await this.knowledgeBase();
    const chatName = options.chatModel ?? this.config.models.chat;
    return new EditorialDesk({
      definition,
      store: new EditorialStore(join(this.config.dir, 'editorial', definition.name)),
      knowledgeBase: kb,
      embedder: await this.models.embedding(kb.embeddingModelName),
      chat: async () => ({
        name: chatName,
        model: await this.models.chat(chatName),
        tokenizer: await this.models.tokenizer(chatName),
      }),
      ...(options.classifier ? { classifier: options.classifier } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
  }

  async ask(question: string, options: AskOptions): Promise<AnswerResult> {
    return (await this.answerer()).answer(question, options);
  }

  /** Documents a principal may read. */
  async listDocuments(principal: Principal, options: ListOptions = {}): Promise<StoredDocument[]> {
    return (await this.knowledgeBase({ create: false })).listDocuments(principal, options);
  }

  /**
   * One document and its chunks as a principal sees it, now or as it was at a knowledge-base
   * version; undefined when it does not exist for them (never a different error for "forbidden").
   */
  async document(
    id: string,
    principal: Principal,
    options: { version?: number } = {},
  ): Promise<DocumentSnapshot | undefined> {
    const { store } = await this.knowledgeBase({ create: false });
    if (options.version !== undefined) {
      if (!Number.isInteger(options.version) || options.version < 1 || options.version > 2 ** 31 - 1)
        throw new AttuneError(`Version ${options.version} is not a knowledge-base version number.`, {
          hint: 'List versions with: attune versions',
        });
      return store.documentAt(id, options.version, principal);
    }
    const document = await store.getDocument(id, principal);
    return document ? { document, chunks: await store.getChunks(id, principal) } : undefined;
  }

  /** Removes a document as a new version; false when there is no such document. */
  async removeDocument(id: string): Promise<boolean> {
    return (await this.knowledgeBase({ create: false })).remove(id);
  }

  /**
   * The knowledge-base versions as this principal may see them. Numbers and times are shared by
   * everyone (an answer names the version it read); what changed is not: the counts and the note
   * (which names documents: `upload <name>`, `rm <id>`) are an admin's only, so a reader cannot
   * learn of a document outside their ACL from the history.
   */
  async versions(principal: Principal): Promise<VersionView[]> {
    const { admin } = checkPrincipal(principal);
    const versions = await (await this.knowledgeBase({ create: false })).versions();
    return admin ? versions : versions.map(({ number, createdAt }) => ({ number, createdAt }));
  }

  /**
   * Adds content that arrives as bytes (an upload) as the document `uploads/<name>`, with an ACL
   * (default: admins only, so a forgotten ACL never publishes). The same loaders and limits as files;
   * a file that cannot be loaded is a failure in the summary, and nothing is written.
   */
  async addDocument(input: {
    name: string;
    bytes: Uint8Array;
    mediaType?: string;
    acl?: Acl;
    note?: string;
  }): Promise<SyncSummary> {
    const name = uploadName(input.name);
    const id = `uploads/${name}`;
    const results = await loadBytes(
      {
        bytes: input.bytes,
        name,
        id,
        source: `upload:${name}`,
        ...(input.mediaType ? { mediaType: input.mediaType } : {}),
      },
      // Through the loader, so the ACL is part of the content hash: a new ACL alone is a change.
      {
        maxFileBytes: this.config.ingest.maxFileBytes,
        acl: input.acl ?? { public: false, users: [], groups: [] },
      },
    );
    const failures = results.flatMap((r) =>
      r.ok ? [] : [{ source: r.source, id: r.id ?? id, reason: r.reason }],
    );
    const documents = results.flatMap((r) => (r.ok ? [r.document] : []));
    const kb = await this.knowledgeBase();
    if (documents.length === 0) {
      const version = (await kb.store.currentVersion())?.number;
      return {
        version,
        added: 0,
        changed: 0,
        removed: 0,
        unchanged: 0,
        failed: failures.length,
        chunksEmbedded: 0,
        failures,
        skipped: [],
        durationMs: 0,
      };
    }
    const summary = await kb.update(documents, { note: input.note ?? `upload ${name}` });
    return {
      ...summary,
      failed: summary.failed + failures.length,
      failures: [...summary.failures, ...failures],
    };
  }

  /** Hybrid retrieval as a principal: the evidence an answer would be built from, with scores. */
  async search(query: string, options: RetrieveOptions): Promise<RetrievalResult> {
    this.#retriever ??= (async () => {
      const kb = await this.knowledgeBase({ create: false });
      const embedder = await this.models.embedding(kb.embeddingModelName);
      return new Retriever({ store: kb.store, embedder, reranker: await this.models.reranker() });
    })();
    this.#retriever.catch(() => {
      this.#retriever = undefined;
    });
    return (await this.#retriever).retrieve(query, options);
  }

  /**
   * Every document an audit record cited, as it was when the answer was given ("which documents
   * drove this answer"), read as the record's own principal.
   */
  async documentsAt(record: AuditRecord): Promise<{ docId: string; version: number; text?: string }[]> {
    const kb = await this.knowledgeBase({ create: false });
    const wanted = new Map<string, number>();
    for (const e of record.evidence)
      if (e.n !== undefined) wanted.set(e.docId, record.kbVersion ?? e.chunkVersion);
    const out: { docId: string; version: number; text?: string }[] = [];
    for (const [docId, version] of wanted) {
      const snapshot = await kb.store.documentAt(docId, version, record.principal).catch(() => undefined);
      out.push({
        docId,
        version,
        ...(snapshot ? { text: snapshot.chunks.map((c) => c.text).join('\n\n') } : {}),
      });
    }
    return out;
  }

  /** The model catalog: every model Attune knows, whether it is cached, and which are the defaults. */
  modelCatalog(): ModelCatalogEntry[] {
    const m = this.models;
    return m.catalog.list().map((entry) => ({
      name: entry.name,
      task: entry.task,
      format: entry.format,
      sizeBytes: runtimeFile(entry).size,
      licence: entry.licence,
      present: m.cache.isPresent(entry.name),
      default: m.defaultNames.includes(entry.name),
      path: m.cache.pathOf(entry.name),
      sources: entry.sources.map((s) => s.kind),
    }));
  }

  /** Fetches models into the cache, verified by sha256 (default: the configured local models). */
  async pullModels(
    names: string[] = this.models.localDefaultNames,
    options: { onProgress?: (model: string, progress: PullProgress) => void } = {},
  ): Promise<PullResult[]> {
    const results: PullResult[] = [];
    for (const name of names)
      results.push(
        await this.models.cache.pull(name, {
          ...(options.onProgress ? { onProgress: (p: PullProgress) => options.onProgress?.(name, p) } : {}),
        }),
      );
    return results;
  }

  /**
   * Training data generated from the knowledge base (grounded Q&A, or RAFT with `raft`), written as
   * chat JSONL and privacy-scanned. Reads as `principal` (default: public documents only).
   */
  async generateDataset(
    options: Omit<DatasetGenerationOptions, 'config' | 'store' | 'model' | 'raft'> & {
      generatorModel?: string;
      raft?: Omit<NonNullable<DatasetGenerationOptions['raft']>, 'retriever'>;
    },
  ): Promise<DatasetGenerationResult> {
    const kb = await this.knowledgeBase({ create: false });
    const { generatorModel, raft, ...rest } = options;
    return generateDataset({
      ...rest,
      config: this.config,
      store: kb.store,
      model: await this.models.chat(generatorModel ?? this.config.models.chat),
      ...(raft
        ? {
            raft: {
              ...raft,
              retriever: new Retriever({
                store: kb.store,
                embedder: await this.models.embedding(kb.embeddingModelName),
              }),
            },
          }
        : {}),
    });
  }

  /** Fine-tuning jobs and their records, in `<dir>/finetune`. */
  finetuneJobs(): FineTuneJobs {
    return FineTuneJobs.forConfig(this.config);
  }

  /**
   * Trains a LoRA adapter: data from a file (any format the importer reads) or generated from the
   * knowledge base → privacy gate (a clean scan record is required unless `allowUnscanned`) →
   * backend → job record with lineage → adapter in the registry. Resolves when the job ends; the
   * job id is known from `onCreated`, for a caller that shows or cancels it meanwhile.
   */
  async finetune(options: FinetuneOptions): Promise<FinetuneJobRecord> {
    let data = options.data;
    if (options.fromKnowledgeBase) {
      const generated = await this.generateDataset({
        count: options.fromKnowledgeBase.count ?? 200,
        ...(options.fromKnowledgeBase.raft ? { raft: {} } : {}),
        ...(options.hyperparameters?.seed !== undefined ? { seed: options.hyperparameters.seed } : {}),
        ...(options.onGenerateProgress ? { onProgress: options.onGenerateProgress } : {}),
      });
      if (generated.examples.length < 4)
        throw new AttuneError(
          `The knowledge base yielded only ${generated.examples.length} grounded example(s); too few to train on.`,
          { hint: 'Ingest more documents, or train on your own data.' },
        );
      data = generated.file;
      options.onGenerated?.(data);
    }
    if (!data)
      throw new AttuneError(
        'Nothing to train on: give a data file, or generate it from the knowledge base.',
        {
          hint: 'attune finetune --data pairs.jsonl [--validation val.jsonl], or --from-kb',
        },
      );
    for (const file of [data, options.validation])
      if (file)
        await requirePrivacyScan(this.config, file, { allowUnscanned: options.allowUnscanned === true });
    const backendName = options.backend ?? 'local';
    const backend = trainingBackend(this.config, this.models, backendName);
    const baseModel = await describeBaseModel(
      this.models,
      options.base ?? (backendName === 'local' ? this.config.models.chat : undefined),
    );
    const jobs = this.finetuneJobs();
    const record = await jobs.create({
      backend: backend.provider,
      baseModel,
      trainFile: data,
      ...(options.validation ? { validationFile: options.validation } : {}),
      hyperparameters: resolveHyperparameters(options.hyperparameters),
    });
    options.onCreated?.(record);
    return jobs.run(record.id, this.#runOptions(backend, options));
  }

  /** Continues a cancelled or failed job from its last checkpoint. */
  async resumeFinetune(id: string, options: FinetuneRunOptions = {}): Promise<FinetuneJobRecord> {
    const jobs = this.finetuneJobs();
    const backend = trainingBackend(this.config, this.models, jobs.get(id).backend);
    return jobs.resume(id, this.#runOptions(backend, options));
  }

  /** Stops a running job; its worker saves a checkpoint first. */
  cancelFinetune(id: string): Promise<FinetuneJobRecord> {
    return this.finetuneJobs().cancel(id);
  }

  #runOptions(backend: FineTuningBackend, options: FinetuneRunOptions) {
    const requirementsSha256 =
      backend instanceof LocalTrainer ? trainerEnvironment(this.config).requirementsSha256 : undefined;
    return {
      backend,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(requirementsSha256 ? { trainerRequirementsSha256: requirementsSha256 } : {}),
    };
  }

  /** API keys, each mapped to a principal, in `<dir>/keys.json` (hashed). */
  keys(): KeyStore {
    return new KeyStore(join(this.config.dir, 'keys.json'));
  }

  async ingest(sources: string[], options?: SyncOptions): Promise<SyncSummary> {
    return (await this.knowledgeBase()).ingest(sources, options);
  }

  async sync(sources: string[], options?: SyncOptions): Promise<SyncSummary> {
    return (await this.knowledgeBase()).sync(sources, options);
  }

  /**
   * Copies a whole knowledge base (documents, vectors, versions, audit records) between a
   * directory and a postgres:// URL, either way, into an empty target; verified by checksum.
   */
  copyKnowledgeBase(
    from: string,
    to: string,
    options?: Parameters<typeof copyKnowledgeBase>[2],
  ): Promise<CopyKnowledgeBaseResult> {
    return copyKnowledgeBase(from, to, options);
  }

  async close(): Promise<void> {
    await (await this.#audit?.catch(() => undefined))?.close();
    await (await this.#kb?.catch(() => undefined))?.close();
    if (this.#ownsModels) await this.models.dispose();
  }
}

/**
 * An uploaded file's name becomes part of a document id: one path segment, printable, so it can
 * neither climb out of `uploads/` nor forge lines where ids are printed.
 */
function uploadName(name: string): string {
  const trimmed = name.trim();
  if (
    trimmed === '' ||
    trimmed === '.' ||
    trimmed === '..' ||
    /[/\\]/.test(trimmed) ||
    /[\p{Cc}\u2028\u2029]/u.test(trimmed) ||
    Buffer.byteLength(trimmed) > 200
  )
    throw new AttuneError(`"${name.replace(/[\p{Cc}]/gu, '?')}" is not a usable file name for an upload.`, {
      hint: 'Send one plain file name (no folders, no control characters, at most 200 bytes), e.g. leave-policy.md.',
    });
  return trimmed;
}
