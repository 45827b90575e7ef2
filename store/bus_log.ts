/**
 * @module
 * The KV bus's storage: each server process (each isolate with its own bus)
 * appends the deliveries it emits to a log of its own, and the others read it.
 *
 * Keys:
 * - `["bus_peers", pid]` -> {@linkcode Peer}: a live process, refreshed while it runs (expiry
 *   30 s after its last refresh, and `until` says so without waiting for KV's lazy expiry).
 * - `["bus_version"]` -> u64, bumped when a process joins or leaves: readers poll it with the heads.
 * - `["bus_heads", pid, stream]` -> number: the last entry committed to one of `pid`'s two
 *   streams. Written once per commit.
 * - `["bus_log", pid, stream, n]` -> {@linkcode LogEntry}, n = 1, 2, 3, ... gapless per stream
 *   (each stream has one writer, which commits in order); each expires after
 *   {@linkcode LOG_TTL_MS}.
 *
 * Streams: `m`, the `message:new` of stored messages, written by the message batch in the same
 * commit as the messages (store/message_batch.ts); `o`, every other delivery, written by the
 * bus's own writer. No key is shared by two writers except `bus_version`, which only joins and
 * leaves touch.
 */

/**
 * A delivery as the log keeps it: the shape of realtime/hub.ts's `Delivery`
 * (kept here so the store does not depend on the realtime layer).
 */
export interface LoggedDelivery {
  id: string;
  event: string;
  data: unknown;
  to: { sockets?: string[]; users?: string[]; rooms?: string[]; all?: boolean };
  exceptSocket?: string;
  exceptUser?: string;
  patientsExcept?: string;
  ephemeral?: boolean;
}

/** Who a stored message's `message:new` is for: everything of a delivery but what the store knows. */
export type Announce = Omit<LoggedDelivery, "id" | "event" | "data">;

/** One stored message a `message:new` is owed for: where it is, and who hears of it. */
export interface MessageRef {
  roomId: string;
  seq: number;
  announce: Announce;
}

/**
 * A log entry: a delivery (stream `o`), or the messages one commit stored
 * (stream `m`: references only, the data is in the message store), and when
 * it was emitted (stale ephemeral events are dropped).
 */
export type LogEntry =
  | {
    d: LoggedDelivery;
    at: number; /** A message too large to copy into the log. */
    ref?: { roomId: string; seq: number };
    messages?: undefined;
  }
  | { messages: MessageRef[]; at: number; d?: undefined; ref?: undefined };

/** Messages referred to by one `m` entry: about 150 bytes each, well under a KV value's 64 KiB. */
export const REFS_PER_ENTRY = 200;

export interface Peer {
  pid: string;
  until: number;
}

/** How long an entry stays readable: a reader further behind skips to the head. */
export const LOG_TTL_MS = 120_000;
export const PEER_TTL_MS = 30_000;

const VERSION_KEY = ["bus_version"];

export type Stream = "m" | "o";
export const STREAMS: readonly Stream[] = ["m", "o"];

export const headKey = (pid: string, stream: Stream) => ["bus_heads", pid, stream];

/** Adds entries `first`, `first + 1`, ... of a stream, and its new head, to `op`. */
export function addToLog(
  op: Deno.AtomicOperation,
  pid: string,
  stream: Stream,
  first: number,
  entries: LogEntry[],
): void {
  entries.forEach((e, i) =>
    op.set(["bus_log", pid, stream, first + i], e, { expireIn: LOG_TTL_MS })
  );
  op.set(headKey(pid, stream), first + entries.length - 1, { expireIn: LOG_TTL_MS });
}

/** Commits entries `first`, `first + 1`, ... of a stream and moves its head to the last. */
export async function appendLog(
  kv: Deno.Kv,
  pid: string,
  stream: Stream,
  first: number,
  entries: LogEntry[],
): Promise<void> {
  const op = kv.atomic();
  addToLog(op, pid, stream, first, entries);
  await op.commit();
}

/** Entries `from`..`to` (inclusive) of a stream, in order; expired ones are missing. */
export async function readLog(
  kv: Deno.Kv,
  pid: string,
  stream: Stream,
  from: number,
  to: number,
): Promise<{ n: number; entry: LogEntry }[]> {
  const out: { n: number; entry: LogEntry }[] = [];
  const iter = kv.list<LogEntry>({
    start: ["bus_log", pid, stream, from],
    end: ["bus_log", pid, stream, to + 1],
  });
  for await (const e of iter) out.push({ n: e.key[3] as number, entry: e.value });
  return out;
}

/** Registers (or refreshes) a live process. `joined` also bumps the version others poll. */
export async function putPeer(kv: Deno.Kv, peer: Peer, joined: boolean): Promise<void> {
  const op = kv.atomic().set(["bus_peers", peer.pid], peer, { expireIn: PEER_TTL_MS });
  if (joined) op.sum(VERSION_KEY, 1n);
  await op.commit();
}

export async function removePeer(kv: Deno.Kv, pid: string): Promise<void> {
  await kv.atomic().delete(["bus_peers", pid]).sum(VERSION_KEY, 1n).commit();
}

/** The live processes other than `self`. */
export async function listPeers(kv: Deno.Kv, self: string, now: number): Promise<Peer[]> {
  const out: Peer[] = [];
  for await (const e of kv.list<Peer>({ prefix: ["bus_peers"] })) {
    if (e.value.pid !== self && e.value.until > now) out.push(e.value);
  }
  return out;
}

/** `pid/stream` for each of the processes' streams. */
export function streamIds(pids: string[]): string[] {
  return pids.flatMap((pid) => STREAMS.map((s) => `${pid}/${s}`));
}

const keyOf = (id: string) => {
  const at = id.lastIndexOf("/");
  return headKey(id.slice(0, at), id.slice(at + 1) as Stream);
};

/**
 * The version and the heads of streams (`pid/stream`), read in rounds of 10
 * keys (KV's getMany limit). A missing head is 0.
 */
export async function readHeads(
  kv: Deno.Kv,
  streams: string[],
): Promise<{ version: bigint; heads: Map<string, number> }> {
  const keys: Deno.KvKey[] = [VERSION_KEY, ...streams.map(keyOf)];
  const values: unknown[] = [];
  for (let i = 0; i < keys.length; i += 10) {
    const got = await kv.getMany(keys.slice(i, i + 10));
    for (const g of got) values.push(g.value);
  }
  const version = (values[0] as Deno.KvU64 | null)?.value ?? 0n;
  const heads = new Map<string, number>();
  streams.forEach((id, i) => heads.set(id, (values[i + 1] as number | null) ?? 0));
  return { version, heads };
}

/** The keys a watcher of these streams' heads (and of joins and leaves) watches. */
export function watchKeys(streams: string[]): Deno.KvKey[] {
  return [VERSION_KEY, ...streams.map(keyOf)];
}
