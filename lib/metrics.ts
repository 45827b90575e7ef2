/**
 * @module
 * A small metrics registry and its Prometheus text exposition (format 0.0.4):
 * counters, gauges and histograms, with labels. A series is a plain number
 * (histograms: one array of bucket counts) held in a Map keyed by its label
 * values; callers on a hot path look a series up once and keep it, so
 * counting a frame is one property increment. Gauges that describe state
 * (sockets open, memory) are filled by `collect` callbacks at scrape time and
 * cost nothing in between. It knows nothing of the app's metrics
 * (realtime/metrics.ts) and never reads a clock.
 *
 * Written here rather than taken from prom-client: prom-client hashes a
 * label object on every `inc` (an allocation per frame), prints `Nan` for its
 * default metrics on Deno, and brings three dependencies.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * const frames = registry.counter("app_frames_total", "Frames read.", ["kind"]);
 * const text = frames.series("text"); // keep it: the hot path only increments
 * text.inc();
 * registry.expose(); // "# HELP app_frames_total Frames read.\n# TYPE ..."
 * ```
 */

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Series per metric at most; label values beyond it share one `_overflow` series. */
const MAX_SERIES = 1000;
const OVERFLOW = "_overflow";

/** One labelled value of a counter or a gauge. */
export class Sample {
  value = 0;
  constructor(readonly labels: readonly string[]) {}
  inc(n = 1): void {
    this.value += n;
  }
  set(v: number): void {
    this.value = v;
  }
}

/** One labelled histogram: counts per bucket (not cumulative), their sum and count. */
export class HistogramSample {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly labels: readonly string[], readonly bounds: readonly number[]) {
    // One more than the bounds: the +Inf bucket.
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

type Kind = "counter" | "gauge" | "histogram";

/** A series' map key: its label values, in order. */
function keyOf(values: readonly string[]): string {
  return values.length === 1 ? values[0] : values.join("\u0000");
}

abstract class Metric<S extends { labels: readonly string[] }> {
  readonly #series = new Map<string, S>();
  constructor(
    readonly kind: Kind,
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected abstract create(labels: readonly string[]): S;

  /**
   * The series of these label values (one per label name, in order), made on
   * first use. Look it up once and keep it where it is counted often.
   */
  series(...values: string[]): S {
    if (values.length !== this.labelNames.length) {
      throw new TypeError(
        `Metric "${this.name}" takes ${this.labelNames.length} label values, got ${values.length}`,
      );
    }
    const s = this.#series.get(keyOf(values));
    if (s !== undefined) return s;
    // Past MAX_SERIES, every new label set shares one overflow series.
    const full = this.#series.size >= MAX_SERIES;
    return this.#made(full ? this.labelNames.map(() => OVERFLOW) : values);
  }

  /** The series of `values`, made now if it is not there yet. */
  #made(values: readonly string[]): S {
    const key = keyOf(values);
    let s = this.#series.get(key);
    if (s === undefined) this.#series.set(key, s = this.create(values));
    return s;
  }

  /** Every series made so far. */
  all(): IterableIterator<S> {
    return this.#series.values();
  }

  /** Forgets every series (a gauge refilled at each scrape). */
  clear(): void {
    this.#series.clear();
  }
}

/** A counter or a gauge: series of one number each (the kind says which). */
export class SampleMetric extends Metric<Sample> {
  protected create(labels: readonly string[]): Sample {
    return new Sample(labels);
  }
}

export type Counter = SampleMetric;
export type Gauge = SampleMetric;

export class Histogram extends Metric<HistogramSample> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly bounds: readonly number[],
  ) {
    super("histogram", name, help, labelNames);
  }
  protected create(labels: readonly string[]): HistogramSample {
    return new HistogramSample(labels, this.bounds);
  }
}

/** Bucket bounds `start`, `start * factor`, ... (`count` of them). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, v = start; i < count; i++, v *= factor) out.push(Number(v.toPrecision(6)));
  return out;
}

/** The metrics of one app, and their exposition. */
export class Registry {
  readonly #metrics: Metric<{ labels: readonly string[] }>[] = [];
  readonly #names = new Set<string>();
  readonly #collectors: (() => void)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new SampleMetric("counter", name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new SampleMetric("gauge", name, help, labelNames));
  }

  /** `bounds` are the buckets' upper bounds, ascending; `+Inf` is added. */
  histogram(
    name: string,
    help: string,
    opts: { labelNames?: readonly string[]; bounds: readonly number[] },
  ): Histogram {
    const { bounds } = opts;
    if (bounds.length === 0 || bounds.some((b, i) => !Number.isFinite(b) || b <= bounds[i - 1])) {
      throw new TypeError(`Histogram "${name}": bounds must be finite and strictly ascending`);
    }
    const labelNames = opts.labelNames ?? [];
    if (labelNames.includes("le")) throw new TypeError(`Histogram "${name}": "le" is reserved`);
    return this.#add(new Histogram(name, help, labelNames, bounds));
  }

  /** Runs before every exposition: sets the gauges that describe current state. */
  onCollect(fn: () => void): void {
    this.#collectors.push(fn);
  }

  #add<M extends Metric<{ labels: readonly string[] }>>(m: M): M {
    if (!METRIC_NAME.test(m.name)) throw new TypeError(`Invalid metric name "${m.name}"`);
    if (this.#names.has(m.name)) throw new TypeError(`Metric "${m.name}" is registered twice`);
    for (const l of m.labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith("__")) {
        throw new TypeError(`Metric "${m.name}": invalid label name "${l}"`);
      }
    }
    this.#names.add(m.name);
    this.#metrics.push(m);
    return m;
  }

  /** The Prometheus text format, version 0.0.4. */
  expose(): string {
    for (const fn of this.#collectors) fn();
    const out: string[] = [];
    for (const m of this.#metrics) {
      out.push(`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.kind}`);
      const names = m.labelNames;
      // An unlabelled counter or histogram is shown at zero before its first event.
      if (names.length === 0 && m.kind !== "gauge") (m as Counter | Histogram).series();
      if (m instanceof Histogram) {
        for (const s of m.all()) {
          const base = labelPairs(names, s.labels);
          let cumulative = 0;
          for (let i = 0; i <= m.bounds.length; i++) {
            cumulative += s.counts[i];
            const le = i < m.bounds.length ? formatNumber(m.bounds[i]) : "+Inf";
            const labels = base ? `${base},le="${le}"` : `le="${le}"`;
            out.push(`${m.name}_bucket{${labels}} ${formatNumber(cumulative)}`);
          }
          const suffix = base ? `{${base}}` : "";
          out.push(`${m.name}_sum${suffix} ${formatNumber(s.sum)}`);
          out.push(`${m.name}_count${suffix} ${formatNumber(s.count)}`);
        }
      } else {
        for (const s of (m as Counter).all()) {
          const base = labelPairs(names, s.labels);
          out.push(`${m.name}${base ? `{${base}}` : ""} ${formatNumber(s.value)}`);
        }
      }
    }
    return out.join("\n") + "\n";
  }
}

/** The media type of {@linkcode Registry.expose}'s text. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function labelPairs(names: readonly string[], values: readonly string[]): string {
  let s = "";
  for (let i = 0; i < names.length; i++) {
    if (i > 0) s += ",";
    s += `${names[i]}="${escapeLabel(values[i])}"`;
  }
  return s;
}

/** Label values escape backslash, double quote and line feed. */
export function escapeLabel(v: string): string {
  return v.replace(/[\\"\n]/g, (ch) => ch === "\n" ? "\\n" : `\\${ch}`);
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (ch) => ch === "\n" ? "\\n" : "\\\\");
}

/** A sample value as Prometheus reads it: `NaN`, `+Inf`, `-Inf` or a Go-parsable float. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
