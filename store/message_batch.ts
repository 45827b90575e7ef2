/**
 * @module
 * Group commit for chat messages. Concurrent appends, across rooms and
 * sockets, are committed together: one KV atomic operation per batch, within
 * KV's limits, with each room's seqs assigned inside the batch. While one
 * batch commits the next one fills, so a lone message waits for nobody and a
 * busy server pays one fsync per batch instead of one per message.
 *
 * Guarantees are those of one-message commits: seqs are gapless per room (the
 * batch checks every room head it advances on its versionstamp), a retried
 * `clientMessageId` stores nothing new, and a caller's promise settles only
 * after its batch committed. Room heads are cached from this writer's own
 * commits; a head another isolate or process moved fails the check, and the
 * batch re-reads its heads and retries, keeping the seqs of the rooms nobody
 * else wrote.
 *
 * Keys are those of store/messages.ts.
 */

import {
  addToLog,
  type Announce,
  type LogEntry,
  type MessageRef,
  REFS_PER_ENTRY,
} from "./bus_log.ts";
import { AppError } from "../lib/errors.ts";
import { ownTotalKey, userRoomKey } from "./unread.ts";
import { backoff } from "./serial.ts";
import { assertStorable, KV_MAX_VALUE_BYTES, kvValueSize } from "./value_size.ts";
import type { Message, NewMessage, RoomHead } from "./messages.ts";
import type { CommitObserver } from "./group_commit.ts";

/** Messages per batch: 3 mutations each stays under KV's 1,000, and keys under its 80 KiB. */
export const BATCH_MESSAGES = 200;
/** Checks per batch (one per room head, one per guard key), under KV's 100. */
export const BATCH_CHECKS = 99;
/** Value bytes per batch, under KV's 800 KiB per commit. */
export const BATCH_BYTES = 700 * 1024;
/** Commit attempts of one batch before its callers get CONFLICT (retryable). */
const MAX_ATTEMPTS = 40;
/**
 * Bytes the stored message adds to its input at most (id, seq, status,
 * timestamp and their keys), so an input this far under the limit needs no
 * exact check once built.
 */
const MESSAGE_OVERHEAD = 256;
/** A batch smaller than this, started within BUSY_WINDOW_MS of the last commit, lingers. */
const LINGER_BELOW = 50;
const BUSY_WINDOW_MS = 5;
const LINGER_MS = 1;
/** Room heads remembered per writer. */
const MAX_CACHED_HEADS = 10_000;

/** How long a `clientMessageId` is remembered (see store/messages.ts). */
export const CLIENT_MESSAGE_ID_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * A key the send was authorized on (a cached visit): the batch commits only if
 * it still has this versionstamp, so a decision made on a record that changed
 * meanwhile, in any process, stores nothing.
 */
export interface Guard {
  key: Deno.KvKey;
  versionstamp: string;
}

/** The guard's key changed before the send committed: authorize again and resend. */
export class StaleGuardError extends Error {
  constructor(readonly key: Deno.KvKey) {
    super("The record this send was authorized on changed");
    this.name = "StaleGuardError";
  }
}

/** Overload shedding: see {@linkcode MessageBatcher}. */
export interface QueueLimits {
  /** Sends waiting for a batch, at most. */
  max: number;
  /** The longest the oldest waiting send may have waited when a new one arrives. */
  maxWaitMs: number;
}

export const DEFAULT_QUEUE_LIMITS: QueueLimits = { max: 4000, maxWaitMs: 2000 };

interface Pending {
  input: NewMessage;
  /** Who hears of it: its `message:new` goes into the bus log in the same commit. */
  announce?: Announce;
  /** When it was queued (performance.now()). */
  at: number;
  guard?: Guard;
  /** `guard.key` as a string, to count and compare guards. */
  guardId?: string;
  /** Stored size of the input plus {@linkcode MESSAGE_OVERHEAD}: an upper bound for the message. */
  size: number;
  id: string;
  now: Date;
  resolve(result: { message: Message; created: boolean }): void;
  reject(err: unknown): void;
}

interface Head {
  seq: number;
  versionstamp: string | null;
}

/** One shared refusal: it carries no stack and is immutable, so it costs nothing per send. */
const OVERLOADED = Object.freeze(
  new AppError("RATE_LIMITED", "The server is busy; retry the send shortly", { retryable: true }),
);

const headKey = (roomId: string) => ["room_heads", roomId];
const clientKey = (m: NewMessage) =>
  ["messages_by_client_id", m.roomId, m.senderId, m.clientMessageId!] as Deno.KvKey;

/** Reads `keys` in getMany calls of 10 (its limit), in parallel, in order. */
async function getAll<T>(kv: Deno.Kv, keys: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<T>[]> {
  const chunks = [];
  for (let i = 0; i < keys.length; i += 10) chunks.push(kv.getMany<T[]>(keys.slice(i, i + 10)));
  return (await Promise.all(chunks)).flat() as Deno.KvEntryMaybe<T>[];
}

/** Bytes a message's reference adds to the commit (its room, seq and audience). */
const LOG_REF_BYTES = 200;

/**
 * The log entries owed for the messages about to be committed (those with an
 * audience): references only, the messages themselves are in the same commit.
 * One entry per {@linkcode REFS_PER_ENTRY}, so the log costs the commit one
 * small value, not one per message.
 */
function logEntries(built: { p: Pending; message: Message }[]): LogEntry[] {
  const refs: MessageRef[] = [];
  let at = 0;
  for (const { p, message } of built) {
    if (!p.announce) continue;
    at = Math.max(at, p.now.getTime());
    refs.push({ roomId: message.roomId, seq: message.seq, announce: p.announce });
  }
  const out: LogEntry[] = [];
  for (let i = 0; i < refs.length; i += REFS_PER_ENTRY) {
    out.push({ messages: refs.slice(i, i + REFS_PER_ENTRY), at });
  }
  return out;
}

/**
 * Queues sends and commits them in batches. Offered more than KV can commit,
 * it sheds instead of queueing without end: a send that finds the queue full,
 * or its oldest entry waiting longer than `maxWaitMs`, is refused at once with
 * RATE_LIMITED (retryable), so the sends it takes keep a bounded wait and the
 * commits keep running full.
 */
export class MessageBatcher {
  #kv: Deno.Kv;
  #queue: Pending[] = [];
  #running = false;
  #heads = new Map<string, Head>();
  limits: QueueLimits;
  /** Sends refused by shedding since start. */
  shed = 0;
  /** Told of each commit: what it carried and how long KV took (the apps' metrics). */
  readonly #observers = new Set<CommitObserver>();

  /** Adds a commit observer; returns the function that removes it again. */
  observe(fn: CommitObserver): () => void {
    this.#observers.add(fn);
    return () => this.#observers.delete(fn);
  }

  #now: () => number;
  #lastCommit = -Infinity;
  #lastBatch = 0;

  /** `now` (ms, monotonic) times the queue's waits; tests pass a fake. */
  constructor(
    kv: Deno.Kv,
    limits: QueueLimits = DEFAULT_QUEUE_LIMITS,
    now: () => number = () => performance.now(),
  ) {
    this.#kv = kv;
    this.limits = limits;
    this.#now = now;
  }

  #log?: { pid: string; next: number };

  /**
   * Writes each stored message's `message:new` (for its `announce` audience)
   * to stream `m` of `pid`'s bus log, in the same commit as the message
   * (store/bus_log.ts). Undefined stops it.
   */
  logTo(pid: string | undefined): void {
    this.#log = pid === undefined ? undefined : { pid, next: 1 };
  }

  /** The process whose bus log the batch writes to, if any. */
  get loggingTo(): string | undefined {
    return this.#log?.pid;
  }

  /** Sends waiting for a batch. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queues a message for the next batch; settles once that batch is committed (or failed). */
  append(
    input: NewMessage,
    opts: { id: string; now: Date; guard?: Guard; announce?: Announce },
  ): Promise<{ message: Message; created: boolean }> {
    const at = this.#now();
    const q = this.#queue;
    if (q.length >= this.limits.max || (q.length > 0 && at - q[0].at > this.limits.maxWaitMs)) {
      this.shed++;
      return Promise.reject(OVERLOADED);
    }
    return new Promise((resolve, reject) => {
      const size = kvValueSize(input) + MESSAGE_OVERHEAD;
      const { guard } = opts;
      const guardId = guard && JSON.stringify(guard.key);
      this.#queue.push({
        input,
        at,
        guard,
        guardId,
        size,
        announce: opts.announce,
        id: opts.id,
        now: opts.now,
        resolve,
        reject,
      });
      if (!this.#running) this.#run();
    });
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        // Busy (the last commit, shared by several senders, ended a moment ago) but few sends
        // waiting: give the batch a millisecond to fill. A lone sequential sender never waits. Each commit costs the KV writer about as much as a hundred more
        // messages in it, so at moderate load this trades 1 ms of latency for several times
        // fewer commits. An idle server's first send goes at once.
        if (
          this.#queue.length < LINGER_BELOW && this.#lastBatch > 1 &&
          this.#now() - this.#lastCommit < BUSY_WINDOW_MS
        ) {
          await new Promise((resolve) => setTimeout(resolve, LINGER_MS));
        }
        const batch = this.#take();
        try {
          await this.#commit(batch);
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
        this.#lastCommit = this.#now();
        this.#lastBatch = batch.length;
      }
    } finally {
      this.#running = false;
    }
  }

  /** The next batch: queue order, within the message, check and byte limits. */
  #take(): Pending[] {
    const checks = new Set<string>();
    let bytes = 0;
    let n = 0;
    for (; n < this.#queue.length && n < BATCH_MESSAGES; n++) {
      const p = this.#queue[n];
      const fresh = (checks.has(p.input.roomId) ? 0 : 1) +
        (p.guardId === undefined || checks.has(p.guardId) ? 0 : 1);
      if (n > 0 && (checks.size + fresh > BATCH_CHECKS || bytes + p.size > BATCH_BYTES)) break;
      checks.add(p.input.roomId);
      if (p.guardId !== undefined) checks.add(p.guardId);
      bytes += p.size + (this.#log && p.announce ? LOG_REF_BYTES : 0);
    }
    return this.#queue.splice(0, n);
  }

  async #commit(batch: Pending[]): Promise<void> {
    // Few enough checks: the commit itself proves each clientMessageId is new (a check that its
    // index key is absent) instead of a read before it. A retry, or an index entry left stale,
    // fails that commit; then the ids are read as usual and the batch goes again.
    let optimistic = this.#idChecksFit(batch);
    let pending = await this.#dropDuplicates(batch, !optimistic);
    for (let attempt = 0; attempt < MAX_ATTEMPTS && pending.length > 0; attempt++) {
      const rooms = [...new Set(pending.map((p) => p.input.roomId))];
      await this.#loadHeads(rooms.filter((r) => !this.#heads.has(r)));
      const next = new Map(rooms.map((r) => [r, this.#heads.get(r)!.seq]));
      const built: { p: Pending; message: Message }[] = [];
      for (const p of pending) {
        const seq = next.get(p.input.roomId)! + 1;
        const message: Message = {
          id: p.id,
          seq,
          status: "sent",
          timestamp: p.now.toISOString(),
          ...p.input,
        };
        try {
          // Measured once at append; built messages near the limit are measured exactly.
          if (p.size > KV_MAX_VALUE_BYTES) assertStorable(message, "Message");
        } catch (err) {
          // Refused alone: it takes no seq, and the rest of the batch goes on.
          p.reject(err);
          continue;
        }
        next.set(p.input.roomId, seq);
        built.push({ p, message });
      }
      if (built.length === 0) return;
      const op = this.#kv.atomic();
      const last = new Map<string, Message>();
      // Unread counts (store/unread.ts): each sender's own total per room, one sum per pair.
      const own = new Map<string, { roomId: string; senderId: string; n: number }>();
      for (const { message } of built) {
        const k = `${message.roomId}\n${message.senderId}`;
        const o = own.get(k);
        if (o) o.n++;
        else own.set(k, { roomId: message.roomId, senderId: message.senderId, n: 1 });
      }
      for (const o of own.values()) {
        op.sum(ownTotalKey(o.roomId, o.senderId), BigInt(o.n));
      }
      for (const { message } of built) {
        op.set(["messages", message.roomId, message.seq], message);
        if (message.clientMessageId !== undefined) {
          if (optimistic) op.check({ key: clientKey(message), versionstamp: null });
          op.set(clientKey(message), message.seq, { expireIn: CLIENT_MESSAGE_ID_TTL_MS });
        }
        last.set(message.roomId, message);
      }
      for (const [roomId, m] of last) {
        op.check({ key: headKey(roomId), versionstamp: this.#heads.get(roomId)!.versionstamp })
          .set(headKey(roomId), { seq: m.seq, at: m.timestamp } satisfies RoomHead);
        // A direct chat is listed for both its users (visits have their own index).
        if (roomId.startsWith("chat:")) {
          for (const u of roomId.split(":").slice(1)) op.set(userRoomKey(u, roomId), true);
        }
      }
      const guards = new Map<string, Guard>();
      for (const { p } of built) if (p.guard) guards.set(p.guardId!, p.guard);
      for (const g of guards.values()) op.check(g);
      const log = this.#log;
      const entries = log ? logEntries(built) : [];
      if (log && entries.length > 0) addToLog(op, log.pid, "m", log.next, entries);
      const started = this.#now();
      const res = await op.commit();
      for (const see of this.#observers) {
        see({ size: built.length, seconds: (this.#now() - started) / 1000 });
      }
      if (res.ok) {
        if (log && entries.length > 0 && this.#log === log) log.next += entries.length;
        for (const [roomId, m] of last) this.#remember(roomId, m.seq, res.versionstamp);
        for (const { p, message } of built) p.resolve({ message, created: true });
        return;
      }
      // Another writer moved a head (or took a clientMessageId), or a guard changed: sends on a
      // changed guard go back to their callers; the rest re-read their heads and retry.
      for (const roomId of last.keys()) this.#heads.delete(roomId);
      pending = await this.#dropStale(built.map((b) => b.p), guards);
      pending = await this.#dropDuplicates(pending, true);
      // A failed optimistic commit is usually a retried id, settled just above: go again at once.
      if (pending.length > 0 && !optimistic) await backoff(attempt);
      optimistic = false;
    }
    const busy = new AppError("CONFLICT", "The room is busy; retry the send", { retryable: true });
    for (const p of pending) p.reject(busy);
  }

  /** Whether one check per clientMessageId fits beside the heads' and guards' checks. */
  #idChecksFit(batch: Pending[]): boolean {
    const keys = new Set<string>();
    let ids = 0;
    for (const p of batch) {
      keys.add(p.input.roomId);
      if (p.guardId !== undefined) keys.add(p.guardId);
      if (p.input.clientMessageId !== undefined) ids++;
    }
    return ids > 0 && keys.size + ids <= BATCH_CHECKS;
  }

  /** Rejects, with {@linkcode StaleGuardError}, the sends whose guard key changed. */
  async #dropStale(batch: Pending[], guards: Map<string, Guard>): Promise<Pending[]> {
    if (guards.size === 0) return batch;
    const ids = [...guards.keys()];
    const now = await getAll(this.#kv, ids.map((id) => guards.get(id)!.key));
    const stale = new Set(
      ids.filter((id, i) => now[i].versionstamp !== guards.get(id)!.versionstamp),
    );
    if (stale.size === 0) return batch;
    return batch.filter((p) => {
      if (p.guardId === undefined || !stale.has(p.guardId)) return true;
      p.reject(new StaleGuardError(p.guard!.key));
      return false;
    });
  }

  /**
   * Settles sends whose clientMessageId is already stored (a retry) with the
   * stored message, and folds repeats inside the batch into their first
   * occurrence. Returns the sends left to store. Without `read`, only repeats
   * are folded (the commit checks the ids instead).
   */
  async #dropDuplicates(batch: Pending[], read: boolean): Promise<Pending[]> {
    const withId = batch.filter((p) => p.input.clientMessageId !== undefined);
    if (withId.length === 0) return batch;
    const prior = read
      ? await getAll<number>(this.#kv, withId.map((p) => clientKey(p.input)))
      : withId.map(() => ({ value: null }));
    const seqOf = new Map(withId.map((p, i) => [p, prior[i].value]));
    const stored = await getAll<Message>(
      this.#kv,
      withId.filter((p) => seqOf.get(p) != null).map((p) => [
        "messages",
        p.input.roomId,
        seqOf.get(p)!,
      ]),
    );
    const existing = new Map<Pending, Message>();
    let i = 0;
    for (const p of withId) {
      if (seqOf.get(p) == null) continue;
      const m = stored[i++].value;
      // Only the very message this id named counts; a stale index entry is overwritten.
      if (m?.senderId === p.input.senderId && m.clientMessageId === p.input.clientMessageId) {
        existing.set(p, m);
      }
    }
    const first = new Map<string, Pending>();
    const repeats: [Pending, Pending][] = [];
    const left: Pending[] = [];
    for (const p of batch) {
      const found = existing.get(p);
      if (found) {
        p.resolve({ message: found, created: false });
        continue;
      }
      if (p.input.clientMessageId !== undefined) {
        const k = JSON.stringify(clientKey(p.input));
        const earlier = first.get(k);
        if (earlier) {
          repeats.push([p, earlier]);
          continue;
        }
        first.set(k, p);
      }
      left.push(p);
    }
    // A repeat settles as its first occurrence does: the stored message, not created again.
    for (const [p, earlier] of repeats) {
      const { resolve, reject } = earlier;
      earlier.resolve = (r) => {
        resolve(r);
        p.resolve({ message: r.message, created: false });
      };
      earlier.reject = (err) => {
        reject(err);
        p.reject(err);
      };
    }
    return left;
  }

  async #loadHeads(rooms: string[]): Promise<void> {
    if (rooms.length === 0) return;
    const entries = await getAll<RoomHead>(this.#kv, rooms.map(headKey));
    entries.forEach((e, i) => this.#remember(rooms[i], e.value?.seq ?? 0, e.versionstamp));
  }

  #remember(roomId: string, seq: number, versionstamp: string | null): void {
    this.#heads.delete(roomId);
    this.#heads.set(roomId, { seq, versionstamp });
    if (this.#heads.size > MAX_CACHED_HEADS) {
      this.#heads.delete(this.#heads.keys().next().value!);
    }
  }
}

const batchers = new WeakMap<Deno.Kv, MessageBatcher>();

/**
 * The batcher of one KV handle (one per isolate and handle, made on first
 * use); `limits`, when given, replace its queue limits.
 */
export function batcherFor(kv: Deno.Kv, limits?: QueueLimits): MessageBatcher {
  let b = batchers.get(kv);
  if (!b) batchers.set(kv, b = new MessageBatcher(kv));
  if (limits) b.limits = limits;
  return b;
}
