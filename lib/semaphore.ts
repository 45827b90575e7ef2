/**
 * @module
 * A counting semaphore with a bounded wait queue, for work whose cost must not
 * grow with the number of callers (an Argon2id hash holds 19 MiB while it
 * runs). When every permit is taken and the queue is full, `acquire` answers
 * at once with null instead of queueing: the caller refuses the request
 * (503 with Retry-After), so load turns into refusals, never into memory.
 *
 * A `priority` caller (a login from an address with no sign of guessing)
 * waits in a lane of its own, served first and bounded separately
 * (`maxPriorityWaiting`), so a flood of ordinary callers cannot keep it out.
 * Waiting costs no memory to speak of; the permits bound the real work.
 */

/** Gives a permit back; calling it again does nothing. */
export type Release = () => void;

export class Semaphore {
  #active = 0;
  #ordinary: ((release: Release) => void)[] = [];
  #priority: ((release: Release) => void)[] = [];

  /**
   * @param permits how many holders may run at once
   * @param maxWaiting how many callers may wait for a permit; beyond that `acquire` returns null
   * @param maxPriorityWaiting how many priority callers may wait, besides those
   */
  constructor(
    readonly permits: number,
    readonly maxWaiting: number,
    readonly maxPriorityWaiting = maxWaiting,
  ) {
    if (!(permits >= 1)) throw new RangeError(`Cannot create a semaphore with ${permits} permits`);
  }

  /** Holders running now. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.#ordinary.length + this.#priority.length;
  }

  /**
   * A promise of a permit, or null when the semaphore is saturated (all
   * permits taken and the caller's lane full).
   *
   * @example
   * ```ts
   * const permit = hashes.acquire();
   * if (!permit) return busy();
   * const release = await permit;
   * try { await work(); } finally { release(); }
   * ```
   */
  acquire(priority = false): Promise<Release> | null {
    if (this.#active < this.permits) {
      this.#active++;
      return Promise.resolve(this.#release());
    }
    const lane = priority ? this.#priority : this.#ordinary;
    if (lane.length >= (priority ? this.maxPriorityWaiting : this.maxWaiting)) return null;
    return new Promise((resolve) => lane.push(resolve));
  }

  #release(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#priority.shift() ?? this.#ordinary.shift();
      // The permit passes straight to the next waiter, so a newcomer cannot jump the queue.
      if (next) next(this.#release());
      else this.#active--;
    };
  }
}
