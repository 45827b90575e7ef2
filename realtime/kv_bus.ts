/**
 * @module
 * Delivery across processes and instances through Deno KV (store/bus_log.ts).
 *
 * Every delivery a process emits goes to its local hub at once and to its own
 * log in KV, in two streams numbered without gaps: `m`, a stored message's
 * `message:new`, written by the message batch in the very commit that stores
 * the message (so an acknowledged message is in the log even if the process
 * dies right after), and `o`, everything else, written here, one commit per
 * batch. Not logged: what only this process's own sockets can receive (a
 * `message:sent`), and ephemeral events while no other process is live. Each process follows the other processes'
 * logs: it watches their heads (kv.watch, 10 keys per call, re-armed when the
 * set of processes changes) and also polls them every `pollMs`, because a
 * watch does not see writes made by another process on a shared local SQLite
 * file. What it reads goes to its local hub. A BroadcastChannel to the other
 * isolates of this process is an optional fast path; nothing depends on it.
 *
 * Exactly once, in order: receivers drop delivery ids they have seen (a
 * `message:new` id is `m:<roomId>:<seq>`, the same on every path), and
 * `message:new` passes through a per-room sequencer: a message whose seq is
 * ahead of the last one delivered waits while the missing ones are read from
 * the message store and delivered first, so no socket sees a gap or a
 * repeat, whichever path brought a message first. Ephemeral events (typing)
 * are logged best effort (dropped when the writer is behind) and dropped by
 * readers when older than a second.
 *
 * `settled()` resolves once everything emitted so far is committed to the
 * log.
 */

import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/log.ts";
import { SeenIds } from "./bus.ts";
import type { Bus } from "./bus.ts";
import type { Delivery } from "./hub.ts";
import type { AppMetrics } from "./metrics.ts";
import { messageNewId } from "./emit.ts";
import {
  appendLog,
  listPeers,
  type LogEntry,
  type MessageRef,
  PEER_TTL_MS,
  putPeer,
  readHeads,
  readLog,
  removePeer,
  type Stream,
  streamIds,
  watchKeys,
} from "../store/bus_log.ts";
import { batcherFor } from "../store/message_batch.ts";
import { getMessage, listSince } from "../store/messages.ts";
import type { Message } from "../store/messages.ts";

type Sink = (d: Delivery) => void;

export interface KvBusOptions {
  kv: Deno.Kv;
  /** This process's id in the logs (unique per start). */
  pid: string;
  log: Logger;
  clock: Clock;
  /** How often the other processes' heads are polled besides the watch. */
  pollMs?: number;
  /** Also post to (and hear from) the other isolates of this process over a BroadcastChannel. */
  broadcastChannel?: boolean;
  channelName?: string;
  /** Whether all these sockets are this isolate's (a delivery only they can get is not logged). */
  localSockets?: (ids: string[]) => boolean;
  /** Log commits and the lag of what other processes emitted (entries carry their emit time). */
  metrics?: AppMetrics;
}

/** Entries per commit, and their approximate bytes (KV allows 1,000 mutations and 800 KiB). */
const BATCH_ENTRIES = 100;
const BATCH_BYTES = 400_000;
/** A delivery bigger than this is not logged (messages are always logged by reference). */
const INLINE_BYTES = 48_000;
/** Ephemeral deliveries are not logged while this many entries wait for the writer. */
const EPHEMERAL_BACKLOG = 200;
/** A reader drops ephemeral deliveries older than this. */
const EPHEMERAL_MAX_AGE_MS = 1000;
/** Rooms whose last delivered seq is remembered (least recently used forgotten first). */
const ROOMS_TRACKED = 10_000;
/** Missing messages read from the store at once to close a gap. */
const GAP_FILL_MAX = 100;
const REFRESH_MS = PEER_TTL_MS / 3;
/** Log entries read per request. */
const READ_PAGE = 500;
/** Entries a peer emitted up to this long before this process started are still delivered. */
const CLOCK_SKEW_MS = 5000;

interface Pending {
  entry: LogEntry;
  bytes: number;
}

interface RoomState {
  last: number;
  /** Set while a gap is being filled: deliveries of the room wait here, in arrival order. */
  waiting?: Delivery[];
}

/** Where the stored message a `message:new` or `message:updated` carries is, or null. */
function storedMessageOf(d: Delivery): { roomId: string; seq: number } | null {
  if (d.event !== "message:new" && d.event !== "message:updated") return null;
  const id = (d.data as { id?: unknown } | null)?.id;
  return typeof id === "string" && id.startsWith("msg_") ? seqOf(d.data) : null;
}

/** A stored message's room and seq, or null. */
function seqOf(data: unknown): { roomId: string; seq: number } | null {
  const m = data as { roomId?: unknown; seq?: unknown } | null;
  return m && typeof m.roomId === "string" && typeof m.seq === "number"
    ? { roomId: m.roomId, seq: m.seq }
    : null;
}

/** A stored message's `message:new`, for `announce`'s audience. */
function messageNew(message: Message, announce: Omit<Delivery, "id" | "event" | "data">): Delivery {
  return {
    ...announce,
    id: messageNewId(message.roomId, message.seq),
    event: "message:new",
    data: message,
  };
}

/** The seq of a `message:new` delivery and its room, or null for any other delivery. */
function messageOf(d: Delivery): { roomId: string; seq: number } | null {
  return d.event === "message:new" ? seqOf(d.data) : null;
}

export class KvBus implements Bus {
  readonly pid: string;
  #kv: Deno.Kv;
  #log: Logger;
  #clock: Clock;
  #sink: Sink;
  #pollMs: number;
  #seen = new SeenIds(50_000);
  #channel?: BroadcastChannel;
  #rooms = new Map<string, RoomState>();
  #localSockets: (ids: string[]) => boolean;
  #metrics?: AppMetrics;

  // Writer.
  #queue: Pending[] = [];
  #next = 1;
  #draining = false;
  #written: Promise<void> = Promise.resolve();

  // Reader: the followed processes, and a cursor per stream (`pid/stream`).
  #peers = new Set<string>();
  #cursors = new Map<string, number>();
  #version = -1n;
  #stopped = false;
  #pollTimer?: ReturnType<typeof setTimeout>;
  #refreshTimer?: ReturnType<typeof setInterval>;
  #reading?: Promise<void>;
  #again = false;
  #watches: ReadableStream<unknown>[] = [];
  #watchKey = "";
  #startedAt = 0;

  constructor(sink: Sink, opts: KvBusOptions) {
    this.#sink = sink;
    this.#kv = opts.kv;
    this.pid = opts.pid;
    this.#log = opts.log;
    this.#clock = opts.clock;
    this.#pollMs = opts.pollMs ?? 250;
    this.#localSockets = opts.localSockets ?? (() => false);
    this.#metrics = opts.metrics;
    if (opts.broadcastChannel) {
      this.#channel = new BroadcastChannel(opts.channelName ?? "telehealth-realtime");
      this.#channel.onmessage = (e: MessageEvent<Delivery>) => this.#receive(e.data);
    }
  }

  /** How many other processes this one follows. */
  get peerCount(): number {
    return this.#peers.size;
  }

  /** Registers this process and starts following the others. */
  async start(): Promise<void> {
    this.#startedAt = this.#clock.now();
    batcherFor(this.#kv).logTo(this.pid);
    await putPeer(this.#kv, { pid: this.pid, until: this.#clock.now() + PEER_TTL_MS }, true);
    await this.#readOnce();
    this.#refreshTimer = setInterval(() => {
      putPeer(this.#kv, { pid: this.pid, until: this.#clock.now() + PEER_TTL_MS }, false)
        .catch((err) => this.#log.warn("bus.refresh_failed", { error: String(err) }));
    }, REFRESH_MS);
    this.#schedulePoll();
  }

  publish(d: Delivery): void {
    this.#seen.add(d.id);
    this.#deliver(d);
    this.#channel?.postMessage(d);
    if (d.logged) return;
    const { to } = d;
    if (!to.all && !to.users?.length && !to.rooms?.length && this.#localSockets(to.sockets ?? [])) {
      return;
    }
    if (d.ephemeral && (this.#peers.size === 0 || this.#queue.length >= EPHEMERAL_BACKLOG)) return;
    const entry = this.#entryFor(d);
    if (!entry) return;
    this.#queue.push(entry);
    this.#written = this.#kick();
  }

  /** Resolves once every delivery published so far is committed to this process's log. */
  settled(): Promise<void> {
    return this.#written;
  }

  async close(): Promise<void> {
    this.#stopped = true;
    const batcher = batcherFor(this.#kv);
    if (batcher.loggingTo === this.pid) batcher.logTo(undefined);
    clearTimeout(this.#pollTimer);
    clearInterval(this.#refreshTimer);
    this.#cancelWatches();
    this.#channel?.close();
    await this.#written.catch(() => {});
    await this.#reading?.catch(() => {});
    await removePeer(this.#kv, this.pid).catch(() => {});
  }

  // ------------------------------------------------------------------ writing

  #entryFor(d: Delivery): Pending | null {
    const at = this.#clock.now();
    // A message's text stays in the message store only: a log entry refers to it, and readers
    // load the message as it is then (an edit they missed, or the tombstone of a redaction).
    const m = storedMessageOf(d);
    if (m) return { entry: { d: { ...d, data: null }, at, ref: m }, bytes: 300 };
    const bytes = JSON.stringify(d.data ?? null).length + 200;
    if (bytes <= INLINE_BYTES) return { entry: { d, at }, bytes };
    this.#log.warn("bus.too_large", { event: d.event, bytes });
    return null;
  }

  /** Starts the writer if idle; resolves when the queue as of now is committed. */
  #kick(): Promise<void> {
    if (!this.#draining) {
      this.#draining = true;
      this.#drain().catch((err) => this.#log.error("bus.writer_failed", { error: String(err) }));
    }
    const target = this.#next + this.#queue.length - 1;
    return this.#writtenUpTo(target);
  }

  #flushedTo = 0;
  #waiters: { n: number; resolve: () => void }[] = [];

  #writtenUpTo(n: number): Promise<void> {
    if (this.#flushedTo >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  /**
   * Commits the queue batch by batch. `#draining` is cleared before the last
   * batch's waiters resume, so a delivery they publish starts a new drain
   * instead of waiting for one that has ended.
   */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      let bytes = 0;
      let count = 0;
      while (
        count < this.#queue.length && count < BATCH_ENTRIES &&
        (count === 0 || bytes + this.#queue[count].bytes <= BATCH_BYTES)
      ) {
        bytes += this.#queue[count].bytes;
        count++;
      }
      const batch = this.#queue.slice(0, count);
      const first = this.#next;
      for (let attempt = 1;; attempt++) {
        try {
          const started = performance.now();
          await appendLog(this.#kv, this.pid, "o", first, batch.map((p) => p.entry));
          const seconds = (performance.now() - started) / 1000;
          this.#metrics?.committed("bus", { size: count, seconds });
          break;
        } catch (err) {
          if (attempt >= 5 || this.#stopped) {
            // The entries are lost for other processes (their clients resume by seq); the numbers
            // are still used, so readers see a gap they skip rather than waiting for it.
            this.#log.error("bus.append_failed", { entries: count, error: String(err) });
            break;
          }
          await new Promise((r) => setTimeout(r, 20 * attempt));
        }
      }
      this.#queue.splice(0, count);
      this.#next = first + count;
      this.#flushedTo = this.#next - 1;
      const done = this.#waiters.filter((w) => w.n <= this.#flushedTo);
      this.#waiters = this.#waiters.filter((w) => w.n > this.#flushedTo);
      // Cleared before the waiters resume: what they publish next starts a new drain.
      if (this.#queue.length === 0) this.#draining = false;
      for (const w of done) w.resolve();
    }
    this.#draining = false;
  }

  // ------------------------------------------------------------------ reading

  #schedulePoll(): void {
    if (this.#stopped) return;
    this.#pollTimer = setTimeout(() => {
      this.#read();
      this.#schedulePoll();
    }, this.#pollMs);
  }

  /** Reads now, or once more after the read in progress. */
  #read(): void {
    if (this.#stopped) return;
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        try {
          await this.#readOnce();
        } catch (err) {
          this.#log.warn("bus.read_failed", { error: String(err) });
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => this.#reading = undefined);
  }

  async #readOnce(): Promise<void> {
    let { version, heads } = await readHeads(this.#kv, [...this.#cursors.keys()]);
    if (version !== this.#version) {
      this.#version = version;
      if (await this.#refreshPeers()) {
        ({ heads } = await readHeads(this.#kv, [...this.#cursors.keys()]));
      }
    }
    for (const [id, head] of heads) {
      let cursor = this.#cursors.get(id);
      if (cursor === undefined) continue;
      const at = id.lastIndexOf("/");
      const pid = id.slice(0, at);
      const stream = id.slice(at + 1) as Stream;
      while (head > cursor) {
        const to = Math.min(head, cursor + READ_PAGE);
        const entries = await readLog(this.#kv, pid, stream, cursor + 1, to);
        for (const { entry } of entries) {
          if (entry.at >= this.#startedAt - CLOCK_SKEW_MS) await this.#receiveEntry(entry);
        }
        // Entries that expired before they were read are skipped: clients resume by seq.
        cursor = to;
        this.#cursors.set(id, cursor);
      }
    }
  }

  /**
   * Follows processes that joined and forgets those that left; true when one
   * joined. A process found now may already have written for us: its streams
   * are read from the start, and entries emitted before this process started
   * are skipped.
   */
  async #refreshPeers(): Promise<boolean> {
    const live = await listPeers(this.#kv, this.pid, this.#clock.now());
    const fresh = live.filter((p) => !this.#peers.has(p.pid)).map((p) => p.pid);
    for (const pid of fresh) this.#peers.add(pid);
    for (const id of streamIds(fresh)) this.#cursors.set(id, 0);
    const alive = new Set(live.map((p) => p.pid));
    for (const pid of [...this.#peers]) {
      if (alive.has(pid)) continue;
      this.#peers.delete(pid);
      for (const id of streamIds([pid])) this.#cursors.delete(id);
    }
    this.#rewatch();
    return fresh.length > 0;
  }

  /** Watches the version and every followed head, 10 keys per watch. */
  #rewatch(): void {
    const keys = watchKeys([...this.#cursors.keys()].sort());
    const signature = JSON.stringify(keys);
    if (signature === this.#watchKey || this.#stopped) return;
    this.#watchKey = signature;
    this.#cancelWatches();
    for (let i = 0; i < keys.length; i += 10) {
      const stream = this.#kv.watch(keys.slice(i, i + 10));
      this.#watches.push(stream);
      (async () => {
        try {
          for await (const _ of stream) this.#read();
        } catch (err) {
          if (!this.#stopped) this.#log.debug("bus.watch_ended", { error: String(err) });
        }
      })();
    }
  }

  #cancelWatches(): void {
    for (const w of this.#watches) w.cancel().catch(() => {});
    this.#watches = [];
  }

  async #receiveEntry(entry: LogEntry): Promise<void> {
    // `at` is the emit time in the other process (wall clocks: skew between hosts shows here).
    this.#metrics?.busLag((this.#clock.now() - entry.at) / 1000);
    if (entry.messages) return await this.#receiveMessages(entry.messages);
    const { d } = entry;
    if (d.ephemeral && this.#clock.now() - entry.at > EPHEMERAL_MAX_AGE_MS) return;
    if (entry.ref) {
      const message = await getMessage(this.#kv, entry.ref.roomId, entry.ref.seq);
      if (!message) return;
      return this.#receive({ ...d, data: message });
    }
    this.#receive(d);
  }

  /**
   * The messages one commit of another process stored: read from the store,
   * one range per room, and delivered as their `message:new`.
   */
  async #receiveMessages(refs: MessageRef[]): Promise<void> {
    const byRoom = new Map<string, MessageRef[]>();
    for (const r of refs) {
      let list = byRoom.get(r.roomId);
      if (!list) byRoom.set(r.roomId, list = []);
      list.push(r);
    }
    for (const [roomId, list] of byRoom) {
      // A batch's messages in one room are consecutive: one range read.
      const seqs = list.map((r) => r.seq);
      const from = Math.min(...seqs);
      const page = await listSince(this.#kv, roomId, {
        since: from - 1,
        limit: Math.max(...seqs) - from + 1,
      });
      const bySeq = new Map(page.messages.map((m) => [m.seq, m]));
      for (const r of list) {
        const message = bySeq.get(r.seq);
        if (!message) continue;
        this.#receive(messageNew(message, r.announce));
      }
    }
  }

  /** A delivery from another isolate or process: once per id. */
  #receive(d: Delivery): void {
    try {
      if (this.#seen.add(d.id)) this.#deliver(d);
    } catch (err) {
      this.#log.error("bus.deliver_failed", { error: String(err) });
    }
  }

  // ------------------------------------------------------------------ ordering

  /** To the local hub; `message:new` through the per-room sequencer. */
  #deliver(d: Delivery): void {
    const m = messageOf(d);
    if (!m) return this.#sink(d);
    const state = this.#rooms.get(m.roomId);
    if (state?.waiting) {
      state.waiting.push(d);
      return;
    }
    if (state && m.seq <= state.last) return;
    if (state && m.seq > state.last + 1) {
      this.#log.debug("bus.gap", { roomId: m.roomId, last: state.last, seq: m.seq });
      state.waiting = [d];
      this.#fillGap(m.roomId, state, d).catch((err) =>
        this.#log.error("bus.gap_fill_failed", { roomId: m.roomId, error: String(err) })
      );
      return;
    }
    this.#sink(d);
    this.#track(m.roomId, m.seq);
  }

  #track(roomId: string, seq: number): void {
    const state = this.#rooms.get(roomId);
    if (state) {
      this.#rooms.delete(roomId);
      state.last = Math.max(state.last, seq);
      this.#rooms.set(roomId, state);
      return;
    }
    this.#rooms.set(roomId, { last: seq });
    if (this.#rooms.size > ROOMS_TRACKED) {
      this.#rooms.delete(this.#rooms.keys().next().value!);
    }
  }

  /**
   * Reads the messages between the last delivered and `d`'s from the store,
   * delivers them (to `d`'s audience) and then what waited, in seq order.
   */
  async #fillGap(roomId: string, state: RoomState, d: Delivery): Promise<void> {
    const target = messageOf(d)!.seq;
    let missing: Message[] = [];
    try {
      const page = await listSince(this.#kv, roomId, {
        since: state.last,
        limit: Math.min(GAP_FILL_MAX, target - state.last - 1),
      });
      missing = page.messages.filter((m) => m.seq < target);
    } finally {
      const waiting = state.waiting ?? [];
      state.waiting = undefined;
      const fills = missing.map((message) =>
        messageNew(message, { to: d.to, patientsExcept: d.patientsExcept })
      );
      const all = [...fills.filter((f) => this.#seen.add(f.id)), ...waiting];
      all.sort((a, b) => messageOf(a)!.seq - messageOf(b)!.seq);
      for (const x of all) {
        const seq = messageOf(x)!.seq;
        if (seq <= state.last) continue;
        this.#sink(x);
        this.#track(roomId, seq);
      }
    }
  }
}
