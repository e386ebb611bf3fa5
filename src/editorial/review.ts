import { AttuneError } from '../models/index.ts';
import { articleMarkdown } from './article-render.ts';
import type { Article, Draft, DraftState, EditorialAction, PublishTarget } from './draft-record.ts';
import { hasChanges, wordDiff } from './word-diff.ts';

/** An action the draft's state does not allow (approving a rejected draft, publishing a draft in review). */
export class ReviewError extends AttuneError {
  constructor(message: string, hint?: string) {
    super(message, hint ? { hint } : {});
    this.name = 'ReviewError';
  }
}

type Now = () => Date;

function need(draft: Draft, allowed: DraftState[], action: string): void {
  if (!allowed.includes(draft.state))
    throw new ReviewError(
      `Draft ${draft.id} is ${draft.state}; it cannot be ${action}.`,
      draft.state === 'in-review'
        ? `Approve it first: attune editorial approve ${draft.id} --editor <name>`
        : draft.state === 'rejected'
          ? 'A rejected draft stays rejected, with its reason in the editorial log.'
          : undefined,
    );
}

function actor(name: string): string {
  const trimmed = name.trim();
  if (!trimmed)
    throw new ReviewError('Every review action needs the editor who took it.', 'Pass --editor <name>.');
  return trimmed;
}

/**
 * The review state machine: in-review --edit--> in-review (new revision) --approve--> approved
 * --publish--> published; in-review --reject--> rejected. An approval is for one revision: editing an
 * approved draft sends it back to review. Each transition returns the action to log.
 */
export function approveDraft(draft: Draft, editor: string, now: Now = () => new Date()): EditorialAction {
  need(draft, ['in-review'], 'approved');
  const at = now().toISOString();
  draft.state = 'approved';
  draft.approved = { by: actor(editor), at, revision: draft.revision };
  return {
    time: at,
    actor: draft.approved.by,
    action: 'approve',
    draftId: draft.id,
    revision: draft.revision,
  };
}

export function rejectDraft(
  draft: Draft,
  editor: string,
  reason: string,
  now: Now = () => new Date(),
): EditorialAction {
  need(draft, ['in-review', 'approved'], 'rejected');
  if (!reason.trim()) throw new ReviewError('A rejection needs a reason.', 'Pass --reason "<why>".');
  const at = now().toISOString();
  draft.state = 'rejected';
  delete draft.approved;
  draft.rejected = { by: actor(editor), at, reason: reason.trim(), revision: draft.revision };
  return {
    time: at,
    actor: draft.rejected.by,
    action: 'reject',
    draftId: draft.id,
    revision: draft.revision,
    reason: draft.rejected.reason,
  };
}

/** Applies an editor's changes as a new revision, with the word diff of the rendered article. */
export function editDraft(
  draft: Draft,
  editor: string,
  changes: Partial<Article>,
  now: Now = () => new Date(),
): EditorialAction {
  need(draft, ['in-review', 'approved'], 'edited');
  const by = actor(editor);
  const next: Article = { ...draft.article, ...changes };
  const diff = wordDiff(articleMarkdown(draft.article), articleMarkdown(next));
  if (!hasChanges(diff)) throw new ReviewError(`The edit changes nothing in draft ${draft.id}.`);
  const at = now().toISOString();
  draft.revision++;
  draft.article = next;
  draft.revisions.push({ revision: draft.revision, article: next, by, at });
  if (draft.state === 'approved') {
    draft.state = 'in-review';
    delete draft.approved;
  }
  return { time: at, actor: by, action: 'edit', draftId: draft.id, revision: draft.revision, diff };
}

/**
 * Whether the target still has to be published: never without an approval of the current revision,
 * never twice (a target already published for this revision is skipped); a failed attempt may be retried.
 */
export function needsPublishing(draft: Draft, target: PublishTarget): boolean {
  if (
    !(draft.state === 'approved' || draft.state === 'published') ||
    draft.approved?.revision !== draft.revision
  )
    throw new ReviewError(
      `Draft ${draft.id} is not approved${draft.approved ? ` at its current revision ${draft.revision}` : ''}; nothing is published without an editor's approval.`,
      `Approve it first: attune editorial approve ${draft.id} --editor <name>`,
    );
  return !draft.publications.some(
    (p) => p.target === target && p.status === 'published' && p.revision === draft.revision,
  );
}

/** Records one publish attempt on the draft (see settlePublication for its state). */
export function recordPublication(
  draft: Draft,
  target: PublishTarget,
  outcome: { ok: true; location: string } | { ok: false; error: string },
  editor: string,
  now: Now = () => new Date(),
): EditorialAction {
  const at = now().toISOString();
  const previous = draft.publications.find((p) => p.target === target && p.revision === draft.revision);
  const attempts = (previous?.attempts ?? 0) + 1;
  draft.publications = draft.publications.filter((p) => p !== previous);
  draft.publications.push({
    target,
    status: outcome.ok ? 'published' : 'failed',
    revision: draft.revision,
    at,
    attempts,
    ...(outcome.ok ? { location: outcome.location } : { error: outcome.error }),
  });
  return {
    time: at,
    actor: actor(editor),
    action: outcome.ok ? 'publish' : 'publish-failed',
    draftId: draft.id,
    revision: draft.revision,
    target,
    ...(outcome.ok ? { location: outcome.location } : { error: outcome.error }),
  };
}

/** After a publish call: the draft is published once every target tried for this revision succeeded. */
export function settlePublication(draft: Draft): void {
  const current = draft.publications.filter((p) => p.revision === draft.revision);
  if (current.length && current.every((p) => p.status === 'published')) draft.state = 'published';
}
