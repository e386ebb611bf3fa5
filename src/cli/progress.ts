import cliProgress from 'cli-progress';

/**
 * Progress bars on stderr (stdout stays clean for --json). When stderr is not a terminal the bars
 * fall back to occasional plain lines so CI logs stay readable.
 */
export class ProgressBars {
  readonly #multi: cliProgress.MultiBar | undefined;
  readonly #bars = new Map<string, cliProgress.SingleBar>();
  readonly #startedAt = new Map<string, number>();
  readonly #lastLine = new Map<string, number>();
  readonly #enabled: boolean;

  constructor(options: { enabled?: boolean } = {}) {
    this.#enabled = options.enabled ?? true;
    if (this.#enabled && process.stderr.isTTY) {
      this.#multi = new cliProgress.MultiBar(
        {
          format: ' {bar} {percentage}% | {label} | {value}/{total} {unit} | {rate}/s | ETA {eta_formatted}',
          barCompleteChar: '█',
          barIncompleteChar: '░',
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  update(key: string, label: string, value: number, total: number, unit = ''): void {
    if (!this.#enabled) return;
    const started = this.#startedAt.get(key) ?? Date.now();
    this.#startedAt.set(key, started);
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const rate = formatNumber(value / seconds);
    if (this.#multi) {
      let bar = this.#bars.get(key);
      if (!bar) {
        bar = this.#multi.create(Math.max(total, 1), 0, { label, unit, rate });
        this.#bars.set(key, bar);
      }
      bar.setTotal(Math.max(total, 1));
      bar.update(value, { label, unit, rate });
      return;
    }
    const last = this.#lastLine.get(key) ?? 0;
    if (value >= total || Date.now() - last > 2000) {
      this.#lastLine.set(key, Date.now());
      const pct = total > 0 ? Math.floor((100 * value) / total) : 0;
      process.stderr.write(`  ${label}: ${pct}% (${formatNumber(value)}/${formatNumber(total)} ${unit})\n`);
    }
  }

  stop(): void {
    this.#multi?.stop();
  }
}

function formatNumber(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}
