/**
 * @module
 * Periodic work spread over its interval. A heartbeat that rewrites every
 * connection at once makes one burst of KV writes per interval, and every
 * message committed during that burst waits behind it (a p99 spike). Instead,
 * each item belongs to one of `slices` buckets (by a hash of its id), and each
 * tick handles one bucket, so every item is handled once per interval and
 * each tick writes about 1/slices of them.
 */

/** The bucket of `id` among `slices` (FNV-1a, so it is stable across processes). */
export function sliceOf(id: string, slices: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % slices;
}

/** Which bucket a tick handles: the tick number, counted from start, modulo `count`. */
export interface Slice {
  index: number;
  count: number;
}

/** Whether `id` is due in `slice` (every id is due when there is no slice). */
export function inSlice(id: string, slice?: Slice): boolean {
  return !slice || slice.count <= 1 || sliceOf(id, slice.count) === slice.index;
}

/**
 * Calls `tick(slice)` every `intervalMs / count` ms, cycling through the
 * slices, and `wrap()` after the last slice of each round. Ticks never
 * overlap: a slow one delays the next rather than stacking up.
 */
export class SpreadTimer {
  #timer?: ReturnType<typeof setTimeout>;
  #stopped = false;
  readonly count: number;
  readonly tickMs: number;

  constructor(
    intervalMs: number,
    readonly run: (slice: Slice) => Promise<void>,
    readonly wrap: () => Promise<void>,
    opts: { tickMs?: number } = {},
  ) {
    this.count = Math.max(1, Math.round(intervalMs / (opts.tickMs ?? 1000)));
    this.tickMs = intervalMs / this.count;
  }

  start(): void {
    let index = 0;
    const next = () => {
      if (this.#stopped) return;
      this.#timer = setTimeout(async () => {
        const slice = { index, count: this.count };
        index = (index + 1) % this.count;
        try {
          await this.run(slice);
          if (index === 0) await this.wrap();
        } finally {
          next();
        }
      }, this.tickMs);
    };
    next();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
