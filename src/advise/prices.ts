import { z } from 'zod';
import { AttuneError } from '../models/model-error.ts';

/**
 * What a model costs to run. Hosted models are billed per token; local ones cost the hourly price
 * of the machine they run on, for the time they take.
 */
export type TokenPrice = { inputPerMillion: number; outputPerMillion: number };
export type HardwarePrice = { hardwarePerHour: number };
export type ModelPrice = TokenPrice | HardwarePrice;

export type PriceTable = {
  /** Where the prices came from, named in errors. */
  source: string;
  /** Per model name, and per machine name (training hardware is looked up here too). */
  models: Record<string, ModelPrice>;
  /** USD per 1M embedded tokens, for re-indexing with a hosted embedding model. */
  embeddingPerMillion?: number;
  storagePerGbMonth?: number;
  /** USD per hour of the training machine, when the training hardware has no entry of its own. */
  trainingPerHour?: number;
};

export function isTokenPrice(price: ModelPrice): price is TokenPrice {
  return 'inputPerMillion' in price;
}

const usd = z.number().min(0).finite();
const modelPriceSchema = z.union([
  z.object({ inputPerMillion: usd, outputPerMillion: usd }).strict(),
  z.object({ hardwarePerHour: usd }).strict(),
]);
const attuneShape = z
  .object({
    models: z.record(modelPriceSchema),
    embeddingPerMillion: usd.optional(),
    storagePerGbMonth: usd.optional(),
    trainingPerHour: usd.optional(),
  })
  .strict();

/**
 * Accepts Attune's own shape, or LiteLLM's `model_prices_and_context_window.json` (model name →
 * `input_cost_per_token`, `output_cost_per_token`), so a maintained public table can be used as is.
 */
export function parsePriceTable(json: unknown, source: string): PriceTable {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new AttuneError(`${source} must hold a JSON object of prices.`, { hint: priceHint });
  if ('models' in json) {
    const parsed = attuneShape.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new AttuneError(`${source}: ${issue.path.join('.') || '(root)'}: ${issue.message}.`, {
        hint: priceHint,
      });
    }
    return { source, ...parsed.data };
  }
  return parseLiteLlm(json as Record<string, unknown>, source);
}

const priceHint =
  'Use { "models": { "<name>": { "inputPerMillion": 0.15, "outputPerMillion": 0.6 } | { "hardwarePerHour": 0.1 } } }, or LiteLLM\'s model_prices_and_context_window.json.';

function parseLiteLlm(json: Record<string, unknown>, source: string): PriceTable {
  const models: Record<string, ModelPrice> = {};
  for (const [name, entry] of Object.entries(json)) {
    // sample_spec documents the fields; it prices nothing.
    if (name === 'sample_spec' || typeof entry !== 'object' || entry === null) continue;
    const { input_cost_per_token: input, output_cost_per_token: output } = entry as Record<string, unknown>;
    // Image, audio and per-request models are priced in other units; they cannot answer text questions here.
    if (typeof input !== 'number' || !Number.isFinite(input) || input < 0) continue;
    if (output !== undefined && (typeof output !== 'number' || !Number.isFinite(output) || output < 0))
      throw new AttuneError(`${source}: ${name}.output_cost_per_token must be a number of at least 0.`);
    // Embedding models list no output cost: they produce no billed tokens.
    models[name] = { inputPerMillion: perMillion(input), outputPerMillion: perMillion(output ?? 0) };
  }
  if (Object.keys(models).length === 0)
    throw new AttuneError(`${source} prices no model.`, { hint: priceHint });
  return { source, models };
}

/** Per-token prices are tiny binary fractions; rounding keeps 1.5e-7 from printing as 0.15000000000000002. */
function perMillion(perToken: number): number {
  return Number((perToken * 1e6).toPrecision(12));
}

export function priceOf(table: PriceTable, model: string): ModelPrice {
  const price = Object.hasOwn(table.models, model) ? table.models[model] : undefined;
  if (!price)
    throw new AttuneError(`No price for model "${model}" in ${table.source}.`, {
      hint: `Add "${model}" under "models" in a --prices file, with inputPerMillion/outputPerMillion or hardwarePerHour. Priced: ${Object.keys(table.models).slice(0, 12).join(', ')}${Object.keys(table.models).length > 12 ? ', ...' : ''}.`,
    });
  return price;
}

/** Hourly price of a named training machine, else the table's trainingPerHour. */
export function trainingPricePerHour(table: PriceTable, hardware: string): number {
  const entry = Object.hasOwn(table.models, hardware) ? table.models[hardware] : undefined;
  if (entry && !isTokenPrice(entry)) return entry.hardwarePerHour;
  if (table.trainingPerHour !== undefined) return table.trainingPerHour;
  throw new AttuneError(`No hourly price for training hardware "${hardware}" in ${table.source}.`, {
    hint: `Add "${hardware}": { "hardwarePerHour": <USD> } under "models", or set "trainingPerHour".`,
  });
}

/**
 * The defaults price Attune's local default models by the machine they run on. The hourly rates are
 * assumptions (a 2-core CPU VM at about $0.10/h), not quotes: override them with --prices.
 */
const cpuVmPerHour = 0.1;

export const defaultPrices: PriceTable = {
  source: 'the built-in default prices',
  models: {
    'cpu-2core': { hardwarePerHour: cpuVmPerHour },
    'qwen2.5-coder-1.5b-instruct': { hardwarePerHour: cpuVmPerHour },
    'qwen2.5-coder-0.5b-instruct': { hardwarePerHour: cpuVmPerHour },
    'smollm2-135m-instruct': { hardwarePerHour: cpuVmPerHour },
    'gemma3-270m': { hardwarePerHour: cpuVmPerHour },
    'all-minilm-l6-v2': { hardwarePerHour: cpuVmPerHour },
    // Examples of hosted list prices, as written in 2026-12; prices change, so check the provider's page.
    'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 },
    'gpt-4.1-mini': { inputPerMillion: 0.4, outputPerMillion: 1.6 },
  },
  // Assumption: block storage at about $0.10 per GB-month.
  storagePerGbMonth: 0.1,
  // Assumption: the local trainer runs on the same CPU VM.
  trainingPerHour: cpuVmPerHour,
};
