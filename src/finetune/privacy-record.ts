import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { AttuneConfig } from '../config/index.ts';
import { AttuneError } from '../models/model-error.ts';
import { writeChatJsonl } from './dataset-export.ts';
import { type DatasetFormat, type ImportOptions, readableExamples, readDataset } from './dataset-import.ts';
import {
  type PiiKind,
  PRIVACY_DETECTORS_VERSION,
  type PrivacyFinding,
  type PrivacyReport,
  piiKinds,
  redactDataset,
  type ScanOptions,
  scanDataset,
} from './privacy-scan.ts';

/**
 * What `attune dataset scan` found in one file's exact bytes, stored as
 * `<config.dir>/datasets/scans/<sha256>.json`. Keyed by content, so editing the file after the
 * scan leaves it unscanned, and a copy or rename keeps its record.
 */
export type PrivacyScanRecord = {
  sha256: string;
  /** Absolute path when it was scanned (informational: the key is the content). */
  file: string;
  scannedAt: string;
  detectorsVersion: number;
  format: DatasetFormat;
  kinds: PiiKind[];
  examples: number;
  examplesWithFindings: number;
  total: number;
  counts: Record<PiiKind, number>;
  /** The first findings, masked. */
  samples: PrivacyFinding[];
  /** This file is the redacted copy of another. */
  redactedFrom?: { file: string; sha256: string };
  /** A redacted copy of this file was written there. */
  redactedTo?: { file: string; sha256: string };
};

const SAMPLE_FINDINGS = 50;

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function scanRecordPath(config: Pick<AttuneConfig, 'dir'>, sha256: string): string {
  return join(config.dir, 'datasets', 'scans', `${sha256}.json`);
}

export async function readScanRecord(
  config: Pick<AttuneConfig, 'dir'>,
  sha256: string,
): Promise<PrivacyScanRecord | undefined> {
  try {
    return JSON.parse(await readFile(scanRecordPath(config, sha256), 'utf8')) as PrivacyScanRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeScanRecord(config: Pick<AttuneConfig, 'dir'>, record: PrivacyScanRecord): Promise<void> {
  const path = scanRecordPath(config, record.sha256);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`);
  await rename(temporary, path);
}

export type ScanFileOptions = ImportOptions &
  ScanOptions & {
    /** Write a redacted copy (chat JSONL, without meta) here, and record its scan too. */
    redactTo?: string;
  };

export type ScanFileResult = {
  report: PrivacyReport;
  record: PrivacyScanRecord;
  /** The redacted copy's own record (its rescan), when `redactTo` was given. */
  redacted?: PrivacyScanRecord;
};

/**
 * Scans a dataset file, records the result under its sha256 and, with `redactTo`, writes a
 * redacted copy, rescans it and records that too: the redacted copy is what may be trained on.
 * Malformed lines are refused first (a line that cannot be read cannot be scanned).
 */
export async function scanDatasetFile(
  config: Pick<AttuneConfig, 'dir'>,
  file: string,
  options: ScanFileOptions = {},
): Promise<ScanFileResult> {
  const sha256 = await sha256OfFile(file);
  const imported = await readDataset(file, options);
  const examples = readableExamples(imported);
  const format = imported.format;
  const report = scanDataset(examples, options);
  const kinds = [...(options.kinds ?? piiKinds)];
  const record = recordOf(file, sha256, format, kinds, report);
  let redacted: PrivacyScanRecord | undefined;
  if (options.redactTo) {
    const clean = redactDataset(examples, options);
    // Meta is dropped: importer meta holds speaker names and file positions of the original.
    await writeChatJsonl(
      options.redactTo,
      clean.map((e) => ({ messages: e.messages })),
    );
    const redactedSha = await sha256OfFile(options.redactTo);
    redacted = {
      ...recordOf(options.redactTo, redactedSha, 'chat', kinds, scanDataset(clean, options)),
      redactedFrom: { file: resolve(file), sha256 },
    };
    record.redactedTo = { file: resolve(options.redactTo), sha256: redactedSha };
    await writeScanRecord(config, redacted);
  }
  await writeScanRecord(config, record);
  return { report, record, ...(redacted ? { redacted } : {}) };
}

function recordOf(
  file: string,
  sha256: string,
  format: DatasetFormat,
  kinds: PiiKind[],
  report: PrivacyReport,
): PrivacyScanRecord {
  return {
    sha256,
    file: resolve(file),
    scannedAt: new Date().toISOString(),
    detectorsVersion: PRIVACY_DETECTORS_VERSION,
    format,
    kinds,
    examples: report.examples,
    examplesWithFindings: report.examplesWithFindings,
    total: report.total,
    counts: report.counts,
    samples: report.findings.slice(0, SAMPLE_FINDINGS),
  };
}

/** `data.jsonl` → `data.redacted.jsonl` */
export function redactedFileName(file: string): string {
  const ext = extname(file);
  return join(dirname(file), `${basename(file, ext)}.redacted.jsonl`);
}

export class PrivacyScanError extends AttuneError {
  constructor(message: string, hint: string) {
    super(message, { hint });
    this.name = 'PrivacyScanError';
  }
}

/**
 * The gate before training: passes when this exact file content was scanned and nothing was
 * found (a redacted copy's rescan finds nothing), or when `allowUnscanned` is set. Otherwise
 * throws PrivacyScanError whose hint is the command to run. Returns the record when there is one.
 */
export async function requirePrivacyScan(
  config: Pick<AttuneConfig, 'dir'>,
  file: string,
  options: { allowUnscanned?: boolean } = {},
): Promise<PrivacyScanRecord | undefined> {
  const sha256 = await sha256OfFile(file);
  const record = await readScanRecord(config, sha256);
  if (options.allowUnscanned) return record;
  if (!record) {
    throw new PrivacyScanError(
      `${file} has not been scanned for personal data and secrets in its current content (sha256 ${sha256.slice(0, 12)}…).`,
      `Run: attune dataset scan ${file}   (or pass --allow-unscanned to train without a scan)`,
    );
  }
  if (record.total > 0) {
    const found = piiKinds
      .filter((k) => record.counts[k] > 0)
      .map((k) => `${record.counts[k]} ${k}`)
      .join(', ');
    const target = redactedFileName(file);
    throw new PrivacyScanError(
      `The privacy scan of ${file} found ${found} in ${record.examplesWithFindings} of ${record.examples} examples, and this file is not redacted.`,
      `Run: attune dataset scan ${file} --redact ${target}   and train on ${target} (or pass --allow-unscanned to train on it as it is)`,
    );
  }
  return record;
}
