import type { CostProjection } from './cost.ts';
import { usd } from './cost.ts';

/**
 * The projected cumulative cost of each approach over months 0-12 as a standalone SVG: one line per
 * approach, axes, a legend and a marker where two curves cross. No fonts or scripts are
 * referenced, so the file renders the same anywhere, offline.
 */

const colours: Record<string, string> = {
  rag: '#2563eb',
  ft: '#dc2626',
  hybrid: '#16a34a',
  base: '#6b7280',
  extractive: '#9333ea',
};
const spare = ['#d97706', '#0891b2', '#db2777', '#4b5563'];
const margin = { top: 44, right: 190, bottom: 48, left: 72 };

export function renderCostCurveSvg(
  projection: CostProjection,
  options: { width?: number; height?: number } = {},
): string {
  const width = options.width ?? 760;
  const height = options.height ?? 380;
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const months = projection.months;
  const top = Math.max(0, ...projection.approaches.flatMap((a) => a.cumulative));
  const yTicks = ticks(top);
  const yMax = yTicks.at(-1)!;
  const x = (month: number) => margin.left + (month / months) * plotW;
  const y = (cost: number) => margin.top + plotH - (cost / yMax) * plotH;
  const colour = (i: number, approach: string) => colours[approach] ?? spare[i % spare.length]!;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${margin.left + plotW / 2}" y="22" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(
      `Projected cumulative cost: ${projection.queriesPerMonth.toLocaleString('en-US')} questions/month, knowledge changes ${projection.changeFrequency}`,
    )}</text>`,
  ];
  for (const t of yTicks)
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${f(y(t))}" y2="${f(y(t))}" stroke="#e5e7eb"/>`,
      `<text x="${margin.left - 8}" y="${f(y(t) + 4)}" text-anchor="end" fill="#374151">${escapeXml(usd(t))}</text>`,
    );
  for (let m = 0; m <= months; m++)
    parts.push(
      `<line x1="${f(x(m))}" x2="${f(x(m))}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 5}" stroke="#374151"/>`,
      `<text x="${f(x(m))}" y="${margin.top + plotH + 19}" text-anchor="middle" fill="#374151">${m}</text>`,
    );
  parts.push(
    `<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#374151"/>`,
    `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#374151"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle" fill="#111827">month</text>`,
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#111827">cumulative cost (USD)</text>`,
  );
  projection.approaches.forEach((a, i) => {
    const points = a.cumulative.map((c, m) => `${f(x(m))},${f(y(c))}`).join(' ');
    parts.push(
      `<polyline points="${points}" fill="none" stroke="${colour(i, a.approach)}" stroke-width="2"><title>${escapeXml(`${a.label}: ${usd(a.total)} after ${months} months`)}</title></polyline>`,
    );
  });
  for (const b of projection.breakEvens) {
    const first = projection.approaches.find((a) => a.label === b.first)!;
    const whole = Math.floor(b.month);
    const from = first.cumulative[whole]!;
    const to = first.cumulative[Math.min(months, whole + 1)]!;
    const cost = from + (to - from) * (b.month - whole);
    parts.push(
      `<circle cx="${f(x(b.month))}" cy="${f(y(cost))}" r="5" fill="none" stroke="#111827" stroke-width="1.5"/>`,
      `<text x="${f(x(b.month) + 8)}" y="${f(y(cost) - 8)}" fill="#111827">${escapeXml(`break-even ${b.first}/${b.second}, month ${b.month.toFixed(1)}`)}</text>`,
    );
  }
  // Legend to the right of the plot, with each approach's 12-month total.
  const lx = margin.left + plotW + 20;
  projection.approaches.forEach((a, i) => {
    const ly = margin.top + 10 + i * 22;
    parts.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${colour(i, a.approach)}" stroke-width="2"/>`,
      `<text x="${lx + 30}" y="${ly + 4}">${escapeXml(`${a.label} ${usd(a.total)}`)}</text>`,
    );
  });
  if (!projection.approaches.length)
    parts.push(
      `<text x="${margin.left + plotW / 2}" y="${margin.top + plotH / 2}" text-anchor="middle" fill="#6b7280">no measurements yet: run attune eval</text>`,
    );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Round ticks from 0 covering `max`: steps of 1, 2 or 5 times a power of ten. */
function ticks(max: number): number[] {
  const top = max > 0 ? max : 1;
  const raw = top / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const out: number[] = [];
  for (let t = 0; t < top + step * 0.999; t += step) out.push(Number(t.toPrecision(12)));
  if (out.length < 2) out.push(step);
  return out;
}

function f(n: number): string {
  return n.toFixed(1);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
