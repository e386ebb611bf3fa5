import { AttuneError } from '../models/model-error.ts';

/**
 * One problem found in a dataset. `location` is `file:line` (JSONL, CSV) or `file: path.to.field`
 * (a whole-file JSON), so a message can be pasted next to the line it is about.
 */
export type DatasetIssue = {
  severity: 'error' | 'warning';
  /** Stable, machine-readable: `json`, `role`, `empty-content`, `no-assistant`, `too-long`, ... */
  code: string;
  message: string;
  location?: string;
  /** 0-based index into the examples the check saw. */
  example?: number;
  /** 0-based index into that example's messages. */
  turn?: number;
};

/** `data.jsonl:17: messages[2].role must be system, user or assistant` */
export function formatIssue(issue: DatasetIssue): string {
  return issue.location ? `${issue.location}: ${issue.message}` : issue.message;
}

/** A dataset that cannot be used as it is; the message lists the first problems with their locations. */
export class DatasetError extends AttuneError {
  readonly issues: DatasetIssue[];
  constructor(summary: string, issues: DatasetIssue[], hint?: string) {
    const shown = issues.slice(0, 10).map((i) => `  ${formatIssue(i)}`);
    if (issues.length > shown.length) shown.push(`  ... and ${issues.length - shown.length} more`);
    super(shown.length > 0 ? `${summary}\n${shown.join('\n')}` : summary, hint ? { hint } : {});
    this.name = 'DatasetError';
    this.issues = issues;
  }
}
