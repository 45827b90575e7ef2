/**
 * @module
 * Group commit for small independent writes: presence entries, room
 * memberships. Each caller hands over one atomic operation (checks and
 * mutations) and gets the result it would have had alone; concurrent ones are
 * committed together, so a burst of 5,000 connects pays a few hundred commits
 * (and fsyncs) instead of 15,000. While one group commits, the next fills.
 *
 * Semantics are kept exactly: a group commits only if every check of every
 * operation in it passes. When it fails, each of its operations is committed
 * again on its own, so each caller learns its own outcome. An operation that
 * touches a key already in the group waits for a later group (operations on
 * one key keep their order; the others go on), so no group writes a key twice
 * or checks a key it also writes for another caller.
 *
 * Only for small values: groups are capped by count (KV allows 100 checks and
 * 1,000 mutations per commit), not by bytes. Message bodies go through
 * store/message_batch.ts, which counts bytes.
 */

/** One caller's atomic operation. */
export interface KvOp {
  checks?: Deno.AtomicCheck[];
  mutations: Deno.KvMutation[];
}

export type KvOpResult = Deno.KvCommitResult | Deno.KvCommitError;

/**
 * Told of every commit a group writer makes: the operations it carried and
 * how long KV took (seconds). For metrics; it must not throw or block.
 */
export type CommitObserver = (commit: { size: number; seconds: number }) => void;

/** Checks per group, under KV's 100. */
const MAX_CHECKS = 100;
/** Mutations per group, under KV's 1,000. */
const MAX_MUTATIONS = 1000;
/** Operations per group: bounds the bytes of one commit (each value here is well under 1 KiB). */
const MAX_OPS = 200;

interface Queued {
  op: KvOp;
  keys: string[];
  resolve(r: KvOpResult): void;
  reject(err: unknown): void;
}

const keyId = (key: Deno.KvKey) =>
  JSON.stringify(key, (_, v) => typeof v === "bigint" ? `${v}n` : v);

export class GroupCommitter {
  #kv: Deno.Kv;
  #queue: Queued[] = [];
  #running = false;
  /** Commits made (tests count them). */
  commits = 0;
  /** Told of each commit: what it carried and how long KV took (the apps' metrics). */
  readonly #observers = new Set<CommitObserver>();

  /** Adds a commit observer; returns the function that removes it again. */
  observe(fn: CommitObserver): () => void {
    this.#observers.add(fn);
    return () => this.#observers.delete(fn);
  }

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Commits `op`, grouped with whatever else is waiting; resolves as a commit of `op` alone would. */
  commit(op: KvOp): Promise<KvOpResult> {
    const checks = op.checks ?? [];
    if (checks.length > MAX_CHECKS || op.mutations.length > MAX_MUTATIONS) {
      return commitAlone(this.#kv, op);
    }
    return new Promise((resolve, reject) => {
      const keys = [...checks.map((c) => keyId(c.key)), ...op.mutations.map((m) => keyId(m.key))];
      this.#queue.push({ op, keys, resolve, reject });
      if (!this.#running) this.#run();
    });
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const group = this.#take();
        try {
          await this.#commitGroup(group);
        } catch (err) {
          for (const q of group) q.reject(err);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /**
   * The next group: queue order, skipping (for a later group) any operation
   * that touches a key already in this group or in an operation skipped
   * before it, so unrelated work is never held behind a busy key and the
   * operations on one key keep their order.
   */
  #take(): Queued[] {
    const taken = new Set<string>();
    const skipped = new Set<string>();
    const group: Queued[] = [];
    const rest: Queued[] = [];
    let checks = 0;
    let mutations = 0;
    let i = 0;
    for (; i < this.#queue.length && group.length < MAX_OPS; i++) {
      const q = this.#queue[i];
      const c = q.op.checks?.length ?? 0;
      const m = q.op.mutations.length;
      if (checks + c > MAX_CHECKS || mutations + m > MAX_MUTATIONS) break;
      if (q.keys.some((k) => taken.has(k) || skipped.has(k))) {
        for (const k of q.keys) skipped.add(k);
        rest.push(q);
        continue;
      }
      for (const k of q.keys) taken.add(k);
      checks += c;
      mutations += m;
      group.push(q);
    }
    this.#queue = i < this.#queue.length ? rest.concat(this.#queue.slice(i)) : rest;
    return group;
  }

  async #commitGroup(group: Queued[]): Promise<void> {
    this.commits++;
    const started = performance.now();
    const observed = () => {
      const commit = { size: group.length, seconds: (performance.now() - started) / 1000 };
      for (const see of this.#observers) see(commit);
    };
    if (group.length === 1) {
      const alone = await commitAlone(this.#kv, group[0].op);
      observed();
      group[0].resolve(alone);
      return;
    }
    const atomic = this.#kv.atomic();
    for (const { op } of group) {
      if (op.checks?.length) atomic.check(...op.checks);
      atomic.mutate(...op.mutations);
    }
    const res = await atomic.commit();
    observed();
    if (res.ok) {
      for (const q of group) q.resolve(res);
      return;
    }
    // Some check failed: each operation learns its own outcome, alone.
    await Promise.all(group.map(async (q) => {
      try {
        q.resolve(await commitAlone(this.#kv, q.op));
      } catch (err) {
        q.reject(err);
      }
    }));
  }
}

function commitAlone(kv: Deno.Kv, op: KvOp): Promise<KvOpResult> {
  const atomic = kv.atomic();
  if (op.checks?.length) atomic.check(...op.checks);
  return atomic.mutate(...op.mutations).commit();
}

const committers = new WeakMap<Deno.Kv, GroupCommitter>();

/** The group committer of one KV handle (one per isolate and handle, made on first use). */
export function groupFor(kv: Deno.Kv): GroupCommitter {
  let g = committers.get(kv);
  if (!g) committers.set(kv, g = new GroupCommitter(kv));
  return g;
}
