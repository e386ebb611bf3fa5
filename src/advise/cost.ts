import type { ChangeFrequency } from './advice-inputs.ts';
import type {
  Approach,
  EmbeddingMeasurement,
  MeasuredStrategy,
  TrainingMeasurement,
} from './measured-strategy.ts';
import { isTokenPrice, type PriceTable, priceOf, trainingPricePerHour } from './prices.ts';

/**
 * Knowledge updates per month for each change frequency: how often a retrieval approach
 * re-indexes, and how often a fine-tuned model must be retrained to stay current. The only
 * constant in the projection; 4.3 is 52 weeks / 12 months.
 */
export const updatesPerMonth: Record<ChangeFrequency, number> = {
  daily: 30,
  weekly: 4.3,
  monthly: 1,
  quarterly: 1 / 3,
  rarely: 1 / 12,
};

export const projectionMonths = 12;

export type CostInput = {
  /** One projection per strategy; pass the one per approach that would be deployed. */
  strategies: MeasuredStrategy[];
  queriesPerMonth: number;
  changeFrequency: ChangeFrequency;
  prices: PriceTable;
  training?: TrainingMeasurement;
  embedding?: EmbeddingMeasurement;
  storageGb?: number;
};

/** USD per month, by what it pays for. */
export type MonthlyCosts = { inference: number; retraining: number; reindexing: number; storage: number };

export type ApproachCost = {
  /** The approach, or the strategy's name where two strategies share an approach. */
  label: string;
  approach: Approach;
  strategy: string;
  model: string;
  /** Paid once, in month 0: the first training run, the first full index. */
  setup: { training: number; indexing: number };
  monthly: MonthlyCosts;
  monthlyTotal: number;
  /** Cumulative USD at the end of month 0 (setup only) through month 12. */
  cumulative: number[];
  /** Cumulative USD after 12 months. */
  total: number;
  /** How each figure was computed, from which input. */
  basis: string[];
};

export type BreakEven = {
  first: string;
  second: string;
  /** Fractional month where the cumulative curves cross. */
  month: number;
  /** The one cheaper from then on. */
  cheaperAfter: string;
};

export type CostRatio = { more: string; less: string; ratio: number; text: string };

export type CostProjection = {
  months: number;
  queriesPerMonth: number;
  changeFrequency: ChangeFrequency;
  approaches: ApproachCost[];
  /** Every pair whose curves cross within the 12 months; pairs that never cross are absent. */
  breakEvens: BreakEven[];
  ratios: CostRatio[];
  /** What could not be priced, and so is left out of the totals. */
  notes: string[];
};

const retrieves = (a: Approach) => a === 'rag' || a === 'hybrid' || a === 'extractive';
const trains = (a: Approach) => a === 'ft' || a === 'hybrid';

export function projectCosts(input: CostInput): CostProjection {
  const notes: string[] = [];
  const perApproach = new Map<Approach, number>();
  for (const s of input.strategies) perApproach.set(s.approach, (perApproach.get(s.approach) ?? 0) + 1);
  const approaches = input.strategies.map((s) =>
    projectOne(s, perApproach.get(s.approach)! > 1 ? s.strategy : s.approach, input, notes),
  );
  return {
    months: projectionMonths,
    queriesPerMonth: input.queriesPerMonth,
    changeFrequency: input.changeFrequency,
    approaches,
    breakEvens: breakEvens(approaches),
    ratios: ratios(approaches),
    notes: [...new Set(notes)],
  };
}

function projectOne(s: MeasuredStrategy, label: string, input: CostInput, notes: string[]): ApproachCost {
  const basis: string[] = [];
  const q = input.queriesPerMonth;
  const price = priceOf(input.prices, s.model);
  let inference: number;
  if (isTokenPrice(price)) {
    inference =
      (q *
        (s.inputTokensPerQuestion * price.inputPerMillion +
          s.outputTokensPerQuestion * price.outputPerMillion)) /
      1e6;
    basis.push(
      `inference: ${q} questions × (${s.inputTokensPerQuestion} in × $${price.inputPerMillion} + ${s.outputTokensPerQuestion} out × $${price.outputPerMillion}) per 1M tokens = ${usd(inference)}/month`,
    );
  } else {
    // Busy hours only: a machine kept on all month for this costs at least its monthly rent.
    inference = ((q * s.secondsPerQuestion) / 3600) * price.hardwarePerHour;
    basis.push(
      `inference: ${q} questions × ${s.secondsPerQuestion} s ÷ 3600 × $${price.hardwarePerHour}/h = ${usd(inference)}/month`,
    );
  }
  const updates = updatesPerMonth[input.changeFrequency];
  let setupTraining = 0;
  let retraining = 0;
  if (trains(s.approach)) {
    if (input.training) {
      const t = input.training;
      const perRun = (t.secondsPerRun / 3600) * trainingPricePerHour(input.prices, t.hardware);
      const runs = t.runsPerMonth ?? updates;
      setupTraining = perRun;
      retraining = perRun * runs;
      basis.push(
        `training: ${t.secondsPerRun} s per run on ${t.hardware} = ${usd(perRun)} per run; one run in month 0, then ${round(runs)} run(s)/month (${t.runsPerMonth === undefined ? `knowledge changes ${input.changeFrequency}` : 'as given'}) = ${usd(retraining)}/month`,
      );
    } else
      notes.push(
        `${label}: training is not priced (no measured training run), so its totals are a lower bound.`,
      );
  }
  let setupIndexing = 0;
  let reindexing = 0;
  let storage = 0;
  if (retrieves(s.approach)) {
    const full = fullIndexCost(input, price, notes, label);
    if (full !== undefined) {
      const share = input.embedding?.changedSharePerUpdate ?? 1;
      setupIndexing = full.cost;
      reindexing = full.cost * share * updates;
      basis.push(
        `indexing: ${full.how} = ${usd(full.cost)} per full index; one in month 0, then ${round(updates)} update(s)/month × ${share} of the knowledge base = ${usd(reindexing)}/month`,
      );
    }
    if (input.storageGb !== undefined) {
      if (input.prices.storagePerGbMonth === undefined)
        notes.push(`storage is not priced: ${input.prices.source} has no storagePerGbMonth.`);
      else {
        storage = input.storageGb * input.prices.storagePerGbMonth;
        basis.push(
          `storage: ${input.storageGb} GB × $${input.prices.storagePerGbMonth}/GB-month = ${usd(storage)}/month`,
        );
      }
    }
  }
  const monthly = { inference, retraining, reindexing, storage };
  const monthlyTotal = inference + retraining + reindexing + storage;
  const setup = setupTraining + setupIndexing;
  const cumulative = Array.from({ length: projectionMonths + 1 }, (_, m) => setup + m * monthlyTotal);
  return {
    label,
    approach: s.approach,
    strategy: s.strategy,
    model: s.model,
    setup: { training: setupTraining, indexing: setupIndexing },
    monthly,
    monthlyTotal,
    cumulative,
    total: cumulative[projectionMonths]!,
    basis,
  };
}

function fullIndexCost(
  input: CostInput,
  answerPrice: ReturnType<typeof priceOf>,
  notes: string[],
  label: string,
): { cost: number; how: string } | undefined {
  const e = input.embedding;
  if (!e) {
    notes.push(`${label}: indexing is not priced (no embedding measurement).`);
    return undefined;
  }
  if (e.model !== undefined) {
    const price = priceOf(input.prices, e.model);
    if (isTokenPrice(price))
      return {
        cost: (e.tokensInKb * price.inputPerMillion) / 1e6,
        how: `${e.tokensInKb} tokens × $${price.inputPerMillion} per 1M (${e.model})`,
      };
    if (e.secondsToEmbed !== undefined)
      return {
        cost: (e.secondsToEmbed / 3600) * price.hardwarePerHour,
        how: `${e.secondsToEmbed} s ÷ 3600 × $${price.hardwarePerHour}/h (${e.model})`,
      };
    notes.push(`${label}: indexing is not priced (${e.model} is priced by the hour; no secondsToEmbed).`);
    return undefined;
  }
  if (input.prices.embeddingPerMillion !== undefined)
    return {
      cost: (e.tokensInKb * input.prices.embeddingPerMillion) / 1e6,
      how: `${e.tokensInKb} tokens × $${input.prices.embeddingPerMillion} per 1M`,
    };
  // A local embedding model with no entry of its own runs on the machine that answers.
  if (e.secondsToEmbed !== undefined && !isTokenPrice(answerPrice))
    return {
      cost: (e.secondsToEmbed / 3600) * answerPrice.hardwarePerHour,
      how: `${e.secondsToEmbed} s ÷ 3600 × $${answerPrice.hardwarePerHour}/h`,
    };
  notes.push(
    `${label}: indexing is not priced (no embedding model price, embeddingPerMillion or secondsToEmbed on a local machine).`,
  );
  return undefined;
}

function breakEvens(approaches: ApproachCost[]): BreakEven[] {
  const out: BreakEven[] = [];
  for (let i = 0; i < approaches.length; i++) {
    for (let j = i + 1; j < approaches.length; j++) {
      const a = approaches[i]!;
      const b = approaches[j]!;
      for (let m = 1; m <= projectionMonths; m++) {
        const before = a.cumulative[m - 1]! - b.cumulative[m - 1]!;
        const after = a.cumulative[m]! - b.cumulative[m]!;
        // Starting level is not a crossing; a sign change (or landing on equal) is.
        if (before === 0 || Math.sign(before) === Math.sign(after)) continue;
        out.push({
          first: a.label,
          second: b.label,
          month: m - 1 + before / (before - after),
          cheaperAfter: before > 0 ? a.label : b.label,
        });
        break;
      }
    }
  }
  return out;
}

function ratios(approaches: ApproachCost[]): CostRatio[] {
  const out: CostRatio[] = [];
  for (let i = 0; i < approaches.length; i++) {
    for (let j = i + 1; j < approaches.length; j++) {
      const [more, less] =
        approaches[i]!.total >= approaches[j]!.total
          ? [approaches[i]!, approaches[j]!]
          : [approaches[j]!, approaches[i]!];
      const ratio = less.total > 0 ? more.total / less.total : more.total > 0 ? Number.POSITIVE_INFINITY : 1;
      const text =
        ratio === 1
          ? `${more.label} and ${less.label} cost the same over ${projectionMonths} months (${usd(more.total)})`
          : Number.isFinite(ratio)
            ? `${more.label} costs ${ratio.toFixed(1)}× ${less.label} over ${projectionMonths} months (${usd(more.total)} vs ${usd(less.total)})`
            : `${more.label} costs ${usd(more.total)} over ${projectionMonths} months; ${less.label} costs nothing that was priced`;
      out.push({ more: more.label, less: less.label, ratio, text });
    }
  }
  return out;
}

export function usd(amount: number): string {
  if (amount !== 0 && Math.abs(amount) < 0.01) return `$${amount.toPrecision(2)}`;
  return `$${amount.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

function round(n: number): string {
  return String(Number(n.toPrecision(3)));
}
