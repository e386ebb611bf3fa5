/**
 * The loss curve of a fine-tuning job as a standalone SVG: training loss per step as a line,
 * validation loss as points, with axes, ticks and labels. Small on purpose; no chart library.
 */

export type LossPoint = { step: number; loss: number };

export type LossChartInput = {
  title: string;
  train: LossPoint[];
  eval?: LossPoint[];
  width?: number;
  height?: number;
};

const margin = { top: 40, right: 24, bottom: 48, left: 64 };

export function renderLossChart(input: LossChartInput): string {
  const width = input.width ?? 720;
  const height = input.height ?? 360;
  const train = [...input.train].filter((p) => Number.isFinite(p.loss)).sort((a, b) => a.step - b.step);
  const evals = [...(input.eval ?? [])]
    .filter((p) => Number.isFinite(p.loss))
    .sort((a, b) => a.step - b.step);
  const all = [...train, ...evals];
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;

  const maxStep = Math.max(1, ...all.map((p) => p.step));
  const losses = all.map((p) => p.loss);
  const yTicks = niceTicks(
    losses.length ? Math.min(0, ...losses) : 0,
    losses.length ? Math.max(...losses) : 1,
    5,
  );
  const xTicks = niceTicks(0, maxStep, 6);
  const yMin = yTicks[0]!;
  const yMax = yTicks.at(-1)!;
  const xMax = xTicks.at(-1)!;
  const x = (step: number) => margin.left + (step / xMax) * plotW;
  const y = (loss: number) => margin.top + plotH - ((loss - yMin) / (yMax - yMin || 1)) * plotH;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(input.title)}</text>`,
  );
  for (const t of yTicks) {
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${f(y(t))}" y2="${f(y(t))}" stroke="#e5e7eb"/>`,
      `<text x="${margin.left - 8}" y="${f(y(t) + 4)}" text-anchor="end" fill="#374151">${formatTick(t)}</text>`,
    );
  }
  for (const t of xTicks) {
    parts.push(
      `<line x1="${f(x(t))}" x2="${f(x(t))}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 5}" stroke="#374151"/>`,
      `<text x="${f(x(t))}" y="${margin.top + plotH + 19}" text-anchor="middle" fill="#374151">${formatTick(t)}</text>`,
    );
  }
  parts.push(
    `<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#374151"/>`,
    `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#374151"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle" fill="#111827">optimizer step</text>`,
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#111827">loss (cross-entropy, assistant tokens)</text>`,
  );
  if (train.length) {
    const path = train.map((p, i) => `${i ? 'L' : 'M'}${f(x(p.step))},${f(y(p.loss))}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="#2563eb" stroke-width="1.8"/>`);
    if (train.length === 1) parts.push(circle(x(train[0]!.step), y(train[0]!.loss), '#2563eb'));
  }
  for (const p of evals) parts.push(circle(x(p.step), y(p.loss), '#dc2626'));
  // Legend, top right inside the plot.
  const lx = margin.left + plotW - 150;
  const ly = margin.top + 10;
  parts.push(
    `<rect x="${lx - 8}" y="${ly - 12}" width="154" height="${evals.length ? 44 : 24}" fill="#ffffff" fill-opacity="0.85" stroke="#d1d5db"/>`,
    `<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="#2563eb" stroke-width="2"/>`,
    `<text x="${lx + 30}" y="${ly + 4}">training loss</text>`,
  );
  if (evals.length) {
    parts.push(
      circle(lx + 11, ly + 20, '#dc2626'),
      `<text x="${lx + 30}" y="${ly + 24}">validation loss</text>`,
    );
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function circle(cx: number, cy: number, color: string): string {
  return `<circle cx="${f(cx)}" cy="${f(cy)}" r="4" fill="${color}" stroke="#ffffff" stroke-width="1"/>`;
}

/** Round tick values covering [min, max]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(min: number, max: number, count: number): number[] {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const start = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let t = start; t < max + step * 0.999; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks.length < 2) ticks.push(start + step);
  return ticks;
}

function formatTick(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(3)));
}

function f(n: number): string {
  return n.toFixed(1);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
