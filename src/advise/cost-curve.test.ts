import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { projectCosts } from './cost.ts';
import { renderCostCurveSvg } from './cost-curve.ts';
import { parsePriceTable } from './prices.ts';
import { measured } from './testing.ts';

const prices = parsePriceTable(
  {
    models: {
      'vm-model': { hardwarePerHour: 0.36 },
      gpu: { hardwarePerHour: 2 },
      hosted: { inputPerMillion: 0.15, outputPerMillion: 0 },
    },
  },
  'p.json',
);

describe('cost curve chart', () => {
  it('draws one line per approach with a legend and a break-even marker', () => {
    const projection = projectCosts({
      strategies: [
        measured({ approach: 'ft', secondsPerQuestion: 10 }),
        measured({ approach: 'rag', model: 'hosted', inputTokensPerQuestion: 20_000 }),
        measured({ approach: 'base' }),
      ],
      queriesPerMonth: 1000,
      changeFrequency: 'monthly',
      prices,
      training: { secondsPerRun: 18_000, hardware: 'gpu', runsPerMonth: 0 },
    });
    const svg = renderCostCurveSvg(projection, { width: 600, height: 300 });
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="600" height="300"'));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.equal(svg.match(/<polyline /g)?.length, 3);
    for (const name of ['ft', 'rag', 'base']) assert.match(svg, new RegExp(`>${name} \\$`));
    assert.match(svg, /break-even ft\/rag, month 5\.0/);
    assert.match(svg, /<circle /);
    assert.doesNotMatch(svg, /<script|@import|url\(/);
    // Every point of every line lies inside the drawing.
    for (const [, points] of svg.matchAll(/points="([^"]+)"/g))
      for (const p of points!.split(' ')) {
        const [x, y] = p.split(',').map(Number);
        assert.ok(x! >= 0 && x! <= 600 && y! >= 0 && y! <= 300, p);
      }
    // Tags balance: no element is left open.
    const opened = (svg.match(/<[a-z]+[^>]*[^/]>/g) ?? []).length;
    const closed = (svg.match(/<\/[a-z]+>/g) ?? []).length;
    assert.equal(opened, closed);
  });
  it('renders an empty projection without failing', () => {
    const svg = renderCostCurveSvg(
      projectCosts({ strategies: [], queriesPerMonth: 1, changeFrequency: 'daily', prices }),
    );
    assert.match(svg, /no measurements yet/);
    assert.equal(svg.match(/<polyline /g), null);
  });
});
