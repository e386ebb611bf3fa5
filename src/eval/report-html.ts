import type { EvalReport } from './eval-run.ts';
import type { Estimate, StrategySummary } from './metrics.ts';
import { percentile } from './percentile.ts';

/**
 * One self-contained HTML file per eval run: inline CSS, inline SVG charts and a few lines of
 * inline script for the question filter, so it opens from disk or an email attachment with no
 * network.
 */

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

export const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const fmt = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const estimateText = (e: Estimate, digits = 3) =>
  Number.isFinite(e.value)
    ? `${fmt(e.value, digits)} [${fmt(e.low, digits)}, ${fmt(e.high, digits)}] n=${e.n}`
    : '– (n=0)';

export const reportMetrics: { key: keyof StrategySummary; label: string; lowerIsBetter?: boolean }[] = [
  { key: 'accuracy', label: 'accuracy (F1 ≥ 0.5, or abstained when unanswerable)' },
  { key: 'f1', label: 'token F1 (SQuAD 2.0 convention)' },
  { key: 'answerableF1', label: 'token F1, answerable questions' },
  { key: 'exactMatch', label: 'exact match' },
  { key: 'groundedness', label: 'groundedness' },
  { key: 'citationPrecision', label: 'citation precision' },
  { key: 'citationRecall', label: 'citation recall' },
  { key: 'abstentionPrecision', label: 'abstention precision' },
  { key: 'abstentionRecall', label: 'abstention recall (unanswerable)' },
  {
    key: 'hallucinationRate',
    label: 'hallucination rate (answered, wrong, unsupported)',
    lowerIsBetter: true,
  },
  { key: 'answeredWrong', label: 'answered and wrong', lowerIsBetter: true },
  { key: 'recallAtK', label: 'retrieval recall@k' },
  { key: 'mrr', label: 'MRR' },
  { key: 'ndcg10', label: 'nDCG@10' },
];

/** Horizontal bars with 95% interval whiskers, one group per metric, one bar per strategy. */
export function metricBarsSvg(summaries: StrategySummary[]): string {
  const metrics = reportMetrics.filter((m) => summaries.some((s) => (s[m.key] as Estimate).n > 0));
  const row = 16;
  const groupGap = 14;
  // Metric names go on their own line above their bars; strategy names sit left of the bars.
  const labelWidth = 110;
  const plotWidth = 520;
  const height = metrics.length * ((summaries.length + 1) * row + groupGap) + 40;
  const x = (v: number) => labelWidth + Math.max(0, Math.min(1, v)) * plotWidth;
  const parts: string[] = [];
  let y = 20;
  for (const metric of metrics) {
    parts.push(`<text x="0" y="${y + 12}" class="label metric">${escapeHtml(metric.label)}</text>`);
    y += row;
    for (const [i, s] of summaries.entries()) {
      parts.push(`<text x="8" y="${y + 11}" class="tick">${escapeHtml(s.strategy.slice(0, 16))}</text>`);
      const e = s[metric.key] as Estimate;
      const color = COLORS[i % COLORS.length]!;
      if (e.n > 0 && Number.isFinite(e.value)) {
        parts.push(
          `<rect class="bar" data-strategy="${escapeHtml(s.strategy)}" data-metric="${metric.key}" x="${labelWidth}" y="${y + 2}" width="${(x(e.value) - labelWidth).toFixed(1)}" height="${row - 5}" fill="${color}" opacity="0.8"><title>${escapeHtml(`${s.strategy}: ${estimateText(e)}`)}</title></rect>`,
          `<line class="whisker" x1="${x(e.low).toFixed(1)}" x2="${x(e.high).toFixed(1)}" y1="${y + row / 2}" y2="${y + row / 2}" stroke="#111" stroke-width="1.5"/>`,
          `<text x="${labelWidth + plotWidth + 8}" y="${y + 12}" class="value">${fmt(e.value)}</text>`,
        );
      } else {
        parts.push(`<text x="${labelWidth + 4}" y="${y + 12}" class="value">n/a</text>`);
      }
      y += row;
    }
    y += groupGap;
  }
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (t) =>
        `<line x1="${x(t)}" x2="${x(t)}" y1="14" y2="${height - 20}" stroke="#ddd"/><text x="${x(t)}" y="${height - 6}" text-anchor="middle" class="tick">${t}</text>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="metric-bars" width="${labelWidth + plotWidth + 60}" height="${height}" role="img" aria-label="metrics per strategy with 95% intervals">${ticks}${parts.join('')}</svg>`;
}

/** Answer times per strategy: every question as a dot, with the p50 and p95 marked. */
export function latencySvg(report: EvalReport): string {
  const names = report.config.strategies.map((s) => s.name);
  const times = names.map((n) =>
    report.outcomes
      .filter((o) => o.strategy === n && o.status === 'ok' && o.repeat === 0)
      .map((o) => o.totalMs),
  );
  const max = Math.max(1, ...times.flat());
  const labelWidth = 160;
  const plotWidth = 520;
  const row = 34;
  const height = names.length * row + 40;
  const x = (ms: number) => labelWidth + (ms / max) * plotWidth;
  const parts: string[] = [];
  for (const [i, name] of names.entries()) {
    const y = 20 + i * row;
    const color = COLORS[i % COLORS.length]!;
    parts.push(`<text x="0" y="${y + 14}" class="label">${escapeHtml(name)}</text>`);
    for (const [j, t] of times[i]!.entries())
      parts.push(
        `<circle class="dot" cx="${x(t).toFixed(1)}" cy="${y + 6 + ((j * 7) % 14)}" r="2.5" fill="${color}" opacity="0.6"/>`,
      );
    for (const p of [50, 95]) {
      const v = percentile(times[i]!, p);
      if (Number.isFinite(v))
        parts.push(
          `<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${y}" y2="${y + 26}" stroke="#111" stroke-width="${p === 50 ? 2 : 1}" stroke-dasharray="${p === 50 ? '' : '3,2'}"><title>p${p} ${(v / 1000).toFixed(2)} s</title></line>`,
        );
    }
  }
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (t) =>
        `<text x="${x(t * max)}" y="${height - 6}" text-anchor="middle" class="tick">${((t * max) / 1000).toFixed(1)} s</text>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="latency" width="${labelWidth + plotWidth + 40}" height="${height}" role="img" aria-label="answer time per question">${ticks}${parts.join('')}</svg>`;
}

export function renderReportHtml(
  report: EvalReport,
  extra: {
    costSvg?: string;
    costTable?: { approach: string; usdPer1000: number; twelveMonthUsd?: number }[];
  } = {},
): string {
  const { config, summaries } = report;
  const names = config.strategies.map((s) => s.name);
  const byQuestion = new Map<string, Map<string, (typeof report.outcomes)[number]>>();
  for (const o of report.outcomes.filter((x) => x.repeat === 0)) {
    if (!byQuestion.has(o.questionId)) byQuestion.set(o.questionId, new Map());
    byQuestion.get(o.questionId)!.set(o.strategy, o);
  }
  const questionText = new Map<string, { question: string; gold: string[]; answerable: boolean }>();
  for (const q of report.questions)
    questionText.set(q.id, { question: q.question, gold: q.answers, answerable: q.answerable });

  const summaryRows = summaries
    .map(
      (s) =>
        `<tr><td>${escapeHtml(s.strategy)}</td><td>${s.questions}</td><td>${s.failed}</td><td>${estimateText(s.accuracy)}</td><td>${estimateText(s.f1)}</td><td>${estimateText(s.groundedness)}</td><td>${estimateText(s.hallucinationRate)}</td><td>${estimateText(s.answeredWrong)}</td><td>${estimateText(s.abstentionRecall)}</td><td>${(s.latencyMs.firstTokenP50 / 1000).toFixed(2)} / ${(s.latencyMs.firstTokenP95 / 1000).toFixed(2)}</td><td>${(s.latencyMs.totalP50 / 1000).toFixed(2)} / ${(s.latencyMs.totalP95 / 1000).toFixed(2)}</td><td>${s.tokens.inputMean.toFixed(0)} / ${s.tokens.outputMean.toFixed(0)}</td><td>${((s.latencyMs.totalMean * 1000) / 3_600_000).toFixed(2)} h</td></tr>`,
    )
    .join('\n');
  const comparisonRows = report.comparisons
    .map(
      (c) =>
        `<tr><td>${escapeHtml(c.b)} − ${escapeHtml(c.a)}</td><td>${c.metric}</td><td>${c.matched}</td><td>${fmt(c.meanDelta)} [${fmt(c.low)}, ${fmt(c.high)}]</td><td>${fmt(c.pValue, 4)}</td><td>${c.regressions.length}</td><td>${c.improvements.length}</td><td>${c.regressions
          .slice(0, 8)
          .map((r) => escapeHtml(r.questionId))
          .join(', ')}</td></tr>`,
    )
    .join('\n');
  const questionRows = [...byQuestion.entries()]
    .map(([id, row]) => {
      const q = questionText.get(id);
      const cells = names
        .map((n) => {
          const o = row.get(n);
          if (!o) return '<td class="missing">–</td>';
          const verdict =
            o.status === 'failed'
              ? 'failed'
              : o.abstained
                ? `abstained${o.abstainReason ? ` (${o.abstainReason})` : ''}`
                : o.correct
                  ? 'right'
                  : o.hallucinated
                    ? 'hallucinated'
                    : 'wrong';
          const sources = o.sources.map((s) => `[${s.n}] ${s.docId}`).join('; ');
          return `<td class="${verdict.split(' ')[0]}"><div>${escapeHtml(o.status === 'failed' ? (o.error ?? '') : o.answer)}</div><small>${verdict} · F1 ${fmt(o.f1, 2)}${o.groundedness !== undefined ? ` · grounded ${fmt(o.groundedness, 2)}` : ''}</small>${sources ? `<small class="src">${escapeHtml(sources)}</small>` : ''}</td>`;
        })
        .join('');
      return `<tr data-verdicts="${names.map((n) => row.get(n)?.correct ?? false).join(',')}"><td>${escapeHtml(id)}</td><td>${escapeHtml(q?.question ?? '')}</td><td>${escapeHtml(q ? (q.answerable ? q.gold.join(' | ') : '(unanswerable)') : '')}</td>${cells}</tr>`;
    })
    .join('\n');
  const freshness = report.freshness as
    | {
        strategies: {
          strategy: string;
          fresh: number;
          stale: number;
          probes: number;
          freshShare: Estimate;
          firstFreshMs?: number;
        }[];
        documents: number;
        syncMs: number;
      }
    | undefined;
  const freshnessHtml = freshness
    ? `<h2>Freshness after an update</h2><p>${freshness.documents} documents changed in a copy of the knowledge base (a checkable fact each); sync took ${(freshness.syncMs / 1000).toFixed(1)} s.</p><table><tr><th>strategy</th><th>probes</th><th>answers with the new fact</th><th>with the old fact</th><th>share fresh [95%]</th><th>sync → first fresh answer</th></tr>${freshness.strategies
        .map(
          (f) =>
            `<tr><td>${escapeHtml(f.strategy)}</td><td>${f.probes}</td><td>${f.fresh}</td><td>${f.stale}</td><td>${estimateText(f.freshShare)}</td><td>${f.firstFreshMs !== undefined ? `${(f.firstFreshMs / 1000).toFixed(1)} s` : 'never'}</td></tr>`,
        )
        .join('')}</table>`
    : '';
  const costHtml =
    extra.costSvg || extra.costTable
      ? `<h2>Cost</h2>${extra.costTable ? `<table><tr><th>approach</th><th>USD per 1,000 questions</th><th>12-month total</th></tr>${extra.costTable.map((c) => `<tr><td>${escapeHtml(c.approach)}</td><td>${fmt(c.usdPer1000, 4)}</td><td>${c.twelveMonthUsd !== undefined ? fmt(c.twelveMonthUsd, 2) : '–'}</td></tr>`).join('')}</table>` : ''}${extra.costSvg ?? ''}`
      : '';
  const strategyRows = config.strategies
    .map(
      (s) =>
        `<tr><td>${escapeHtml(s.name)}</td><td>${s.kind}</td><td>${escapeHtml(s.model.name)}${s.model.sha256 ? `<br><small>sha256 ${s.model.sha256.slice(0, 16)}…</small>` : ''}</td><td>${escapeHtml(s.adapterInfo?.id ?? '–')}</td><td>${s.k ?? 5}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Attune eval ${escapeHtml(config.id)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#111;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#f5f5f5}.chart text{font-size:12px}.metric{font-weight:600}.label{fill:#333}.tick{fill:#777}.value{fill:#333}
td.right{background:#f0fdf4}td.wrong{background:#fef2f2}td.hallucinated{background:#fee2e2}td.abstained{background:#f8fafc}td.failed{background:#fde68a}
small{display:block;color:#555}.src{color:#888}.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
</style></head><body>
<h1>Attune evaluation</h1>
<p>Run <code>${escapeHtml(config.id)}</code>, ${escapeHtml(config.createdAt)}. Test set <b>${escapeHtml(config.testSet.name)}</b> (${config.testSet.questions} questions, sha256 ${config.testSet.contentSha256.slice(0, 12)}…, frozen at knowledge-base version ${config.testSet.kbVersion ?? '–'}); answered from version ${config.kbVersion ?? '–'}. Intervals are 95%: Wilson for proportions, seeded bootstrap (seed ${config.seed}) for means. Percentiles are nearest-rank.</p>
${config.notes.length ? `<ul>${config.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
<table><tr><th>strategy</th><th>kind</th><th>model</th><th>adapter</th><th>k</th></tr>${strategyRows}</table>
<p class="legend">${names.map((n, i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${escapeHtml(n)}</span>`).join('')}</p>
<h2>Metrics</h2>
${metricBarsSvg(summaries)}
<table><tr><th>strategy</th><th>questions</th><th>failed</th><th>accuracy</th><th>F1</th><th>groundedness</th><th>hallucination</th><th>answered &amp; wrong</th><th>abstention recall</th><th>first token p50/p95 s</th><th>total p50/p95 s</th><th>tokens in/out</th><th>machine time per 1,000 q</th></tr>
${summaryRows}</table>
<h2>Answer time</h2>
<p>Each dot is one question; solid line p50, dashed p95.</p>
${latencySvg(report)}
${costHtml}
${freshnessHtml}
<h2>Paired comparisons</h2>
<p>Against <b>${escapeHtml(names[0] ?? '')}</b>, on the same questions: mean difference with a paired bootstrap interval, sign-flip permutation p-value; regressions are the questions that got worse.</p>
<table><tr><th>difference</th><th>metric</th><th>pairs</th><th>mean Δ [95%]</th><th>p</th><th>regressions</th><th>improvements</th><th>worst regressions</th></tr>${comparisonRows}</table>
${
  report.repeats.length
    ? `<h2>Run-to-run spread</h2><table><tr><th>strategy</th><th>passes</th><th>F1 per pass</th><th>sd</th><th>mean |change| per question</th></tr>${report.repeats.map((r) => `<tr><td>${escapeHtml(r.strategy)}</td><td>${r.repeats}</td><td>${r.means.map((m) => fmt(m)).join(', ')}</td><td>${fmt(r.sd, 4)}</td><td>${fmt(r.meanAbsChange, 4)}</td></tr>`).join('')}</table>`
    : ''
}
<h2>Questions</h2>
<p><input id="filter" placeholder="filter: words in the question or answers" size="40"> <label><input type="checkbox" id="disagree"> only where strategies disagree</label> <span id="shown"></span></p>
<table id="questions"><thead><tr><th>id</th><th>question</th><th>gold</th>${names.map((n) => `<th>${escapeHtml(n)}</th>`).join('')}</tr></thead><tbody>
${questionRows}
</tbody></table>
<script>
const rows=[...document.querySelectorAll('#questions tbody tr')];
function apply(){const f=document.getElementById('filter').value.toLowerCase();const d=document.getElementById('disagree').checked;let n=0;
for(const r of rows){const v=r.dataset.verdicts.split(',');const show=(!f||r.textContent.toLowerCase().includes(f))&&(!d||new Set(v).size>1);r.style.display=show?'':'none';if(show)n++;}
document.getElementById('shown').textContent=n+' of '+rows.length+' questions';}
document.getElementById('filter').addEventListener('input',apply);document.getElementById('disagree').addEventListener('change',apply);apply();
</script>
</body></html>
`;
}

/** The console table `attune eval` prints. */
export function formatSummaryTable(summaries: StrategySummary[]): string {
  const header = [
    'strategy',
    'n',
    'failed',
    'accuracy',
    'F1',
    'grounded',
    'halluc.',
    'ans.wrong',
    'abst.rec',
    'recall@k',
    'p50 s',
    'p95 s',
  ];
  const rows = summaries.map((s) => [
    s.strategy,
    String(s.questions),
    String(s.failed),
    interval(s.accuracy),
    interval(s.f1),
    interval(s.groundedness),
    interval(s.hallucinationRate),
    interval(s.answeredWrong),
    interval(s.abstentionRecall),
    interval(s.recallAtK),
    (s.latencyMs.totalP50 / 1000).toFixed(2),
    (s.latencyMs.totalP95 / 1000).toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const interval = (e: Estimate) =>
  e.n === 0 || !Number.isFinite(e.value)
    ? '–'
    : `${e.value.toFixed(2)} [${e.low.toFixed(2)},${e.high.toFixed(2)}]`;
