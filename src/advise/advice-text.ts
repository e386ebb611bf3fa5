import type { Advice } from './advisor.ts';
import { usd } from './cost.ts';

/** The advice as plain text for a terminal: recommendation, reasons with their basis, costs. */
export function formatAdvice(advice: Advice): string {
  const lines: string[] = [];
  const names = {
    rag: 'RAG (retrieval)',
    ft: 'fine-tuning',
    hybrid: 'the hybrid (fine-tuned model + retrieval)',
  };
  lines.push(`Recommendation: ${names[advice.recommendation]} — confidence ${advice.confidence}`);
  const scores = (['rag', 'ft', 'hybrid'] as const)
    .map((r) => `${r} ${advice.scores[r].toFixed(1)}${advice.excluded.includes(r) ? ' (ruled out)' : ''}`)
    .join(', ');
  lines.push(`scores: ${scores}`, '', 'Why:');
  for (const r of advice.reasons)
    lines.push(`  ${r.basis === 'answer' ? 'answer  ' : 'measured'} ${r.ref.padEnd(18)} ${r.text}`);
  if (advice.contradictions.length) {
    lines.push('', 'Where the measurements contradict the rules of thumb:');
    for (const c of advice.contradictions) lines.push(`  - ${c}`);
  }
  const costs = advice.costs;
  if (costs.approaches.length) {
    lines.push(
      '',
      `Projected cost over ${costs.months} months (${costs.queriesPerMonth.toLocaleString('en-US')} questions/month, knowledge changes ${costs.changeFrequency}):`,
    );
    for (const a of costs.approaches) {
      const m = a.monthly;
      lines.push(
        `  ${a.label.padEnd(10)} ${usd(a.total).padStart(12)}  setup ${usd(a.setup.training + a.setup.indexing)}, then ${usd(a.monthlyTotal)}/month (inference ${usd(m.inference)}, retraining ${usd(m.retraining)}, re-indexing ${usd(m.reindexing)}, storage ${usd(m.storage)}) · ${a.strategy} on ${a.model}`,
      );
    }
    for (const b of costs.breakEvens)
      lines.push(
        `  break-even: ${b.first} and ${b.second} cross at month ${b.month.toFixed(1)}; ${b.cheaperAfter} is cheaper after`,
      );
    for (const r of costs.ratios) lines.push(`  ${r.text}`);
  }
  if (advice.nextSteps.length) {
    lines.push('', 'Next:');
    for (const s of advice.nextSteps) lines.push(`  - ${s}`);
  }
  return lines.join('\n');
}
