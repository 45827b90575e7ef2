/**
 * @module
 * Presence: per-connection liveness entries, a user's explicit status, and the
 * last published state that makes transitions exact.
 *
 * Keys:
 * - `["presence_conn", userId, socketId]` -> {@linkcode ConnEntry}, refreshed by heartbeats.
 *   Liveness is `expiresAt` in the value, checked on every read. Expired entries are deleted by
 *   the reconcile that takes the user offline (so their `seenAt` gives `lastSeen`); KV's own
 *   expiry is only a backstop a week later, because a restarted local KV may purge expired keys
 *   before anyone reads them.
 * - `["presence_status", userId]` -> {@linkcode ExplicitStatus} (set by the user; survives reconnects)
 * - `["presence_state", userId]` -> {@linkcode PresenceState}: what subscribers were last told
 * - `["presence_online", userId]` -> true while the published state is not offline (the sweep's list)
 * - `["presence_last_seen", userId]` -> ISO time the user's last connection ended
 * - `["presence_in_call", userId]` -> callId while the user is in an accepted call (written by
 *   store/calls.ts in the same commit as the call's transition; it overrides the chosen status)
 *
 * Whoever changes a user's inputs calls {@linkcode reconcile}: it derives the
 * effective state and commits it only if it differs from the published one,
 * checked on that key's versionstamp, so among racing isolates exactly one
 * announces each real transition and a second tab changes nothing.
 */

import { groupFor } from "./group_commit.ts";

export type Status = "online" | "offline" | "away" | "busy" | "in_call";
/** What a user may choose; offline is derived and in_call is set by calls. */
export type ChosenStatus = "online" | "away" | "busy";

export interface ConnEntry {
  socketId: string;
  expiresAt: number;
  /** When the connection was last known alive (connect or heartbeat). */
  seenAt: number;
}

export interface ExplicitStatus {
  status: ChosenStatus;
  customStatus?: string;
}

export interface PresenceState {
  status: Status;
  customStatus?: string;
}

export interface Presence extends PresenceState {
  userId: string;
  /** Now for users online; else when their last connection ended (null if never seen). */
  lastSeen: string | null;
}

const MAX_ATTEMPTS = 20;
const BACKSTOP_MS = 7 * 24 * 3600 * 1000;

/** The key store/calls.ts sets while a user is in an accepted call. */
export function inCallKey(userId: string): Deno.KvKey {
  return ["presence_in_call", userId];
}

/** Records a live connection until `expiresAt` (ms since the epoch). */
export async function putConnection(
  kv: Deno.Kv,
  userId: string,
  socketId: string,
  expiresAt: number,
  now: number,
): Promise<void> {
  // Grouped with other connects (store/group_commit.ts): a reconnect storm pays few commits.
  await groupFor(kv).commit({
    mutations: [{
      type: "set",
      key: ["presence_conn", userId, socketId],
      value: { socketId, expiresAt, seenAt: now } satisfies ConnEntry,
      expireIn: BACKSTOP_MS,
    }],
  });
}

/** Refreshes many connections at once (heartbeat), in commits of at most 500 writes. */
export async function refreshConnections(
  kv: Deno.Kv,
  conns: { userId: string; socketId: string }[],
  expiresAt: number,
  now: number,
): Promise<void> {
  for (let i = 0; i < conns.length; i += 500) {
    const op = kv.atomic();
    for (const { userId, socketId } of conns.slice(i, i + 500)) {
      op.set(
        ["presence_conn", userId, socketId],
        { socketId, expiresAt, seenAt: now } satisfies ConnEntry,
        {
          expireIn: BACKSTOP_MS,
        },
      );
    }
    await op.commit();
  }
}

/** Forgets a connection that closed, and notes when the user was last seen. */
export async function removeConnection(
  kv: Deno.Kv,
  userId: string,
  socketId: string,
  now: number,
): Promise<void> {
  await groupFor(kv).commit({
    mutations: [
      { type: "delete", key: ["presence_conn", userId, socketId] },
      { type: "set", key: ["presence_last_seen", userId], value: new Date(now).toISOString() },
    ],
  });
}

export async function setExplicitStatus(
  kv: Deno.Kv,
  userId: string,
  status: ExplicitStatus,
): Promise<void> {
  await kv.set(["presence_status", userId], status);
}

/**
 * The user's connections at `now`: how many are alive, and the last time one
 * of the expired ones (left by a process that died) was known alive.
 */
async function connections(
  kv: Deno.Kv,
  userId: string,
  now: number,
): Promise<{ live: number; expiredSeenAt: number | null; expired: Deno.AtomicCheck[] }> {
  let live = 0;
  let expiredSeenAt: number | null = null;
  const expired: Deno.AtomicCheck[] = [];
  for await (const e of kv.list<ConnEntry>({ prefix: ["presence_conn", userId] })) {
    if (e.value.expiresAt > now) live++;
    else {
      expiredSeenAt = Math.max(expiredSeenAt ?? 0, e.value.seenAt ?? 0);
      expired.push({ key: e.key, versionstamp: e.versionstamp });
    }
  }
  return { live, expiredSeenAt, expired };
}

/** Whether one connection is alive at `now`, in whatever isolate or process holds it. */
export async function isConnectionLive(
  kv: Deno.Kv,
  userId: string,
  socketId: string,
  now: number,
): Promise<boolean> {
  const e = await kv.get<ConnEntry>(["presence_conn", userId, socketId]);
  return e.value !== null && e.value.expiresAt > now;
}

/** How many of the user's connections are alive at `now` (any isolate, any process). */
export async function liveConnections(kv: Deno.Kv, userId: string, now: number): Promise<number> {
  return (await connections(kv, userId, now)).live;
}

function latest(stored: string | null, seenAt: number | null): string | null {
  if (seenAt === null) return stored;
  const iso = new Date(seenAt).toISOString();
  return stored === null || stored < iso ? iso : stored;
}

function derive(live: number, explicit: ExplicitStatus | null, inCall: boolean): PresenceState {
  if (live === 0) return { status: "offline" };
  if (inCall) return { status: "in_call" };
  const state: PresenceState = { status: explicit?.status ?? "online" };
  if (explicit?.customStatus) state.customStatus = explicit.customStatus;
  return state;
}

function same(a: PresenceState | null, b: PresenceState): boolean {
  // Never published counts as offline: a user who never connected has nothing to announce.
  const from = a ?? { status: "offline" };
  return from.status === b.status && from.customStatus === b.customStatus;
}

/**
 * Derives the user's state now and publishes it if it changed. Returns the new
 * state when this call made the transition (the caller announces it), else null.
 */
export async function reconcile(
  kv: Deno.Kv,
  userId: string,
  now: number,
): Promise<PresenceState | null> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const [conns, explicit, published, inCall, lastSeen] = await Promise.all([
      connections(kv, userId, now),
      kv.get<ExplicitStatus>(["presence_status", userId]),
      kv.get<PresenceState>(["presence_state", userId]),
      kv.get(inCallKey(userId)),
      kv.get<string>(["presence_last_seen", userId]),
    ]);
    const next = derive(conns.live, explicit.value, inCall.versionstamp !== null);
    if (same(published.value, next)) return null;
    const checks: Deno.AtomicCheck[] = [published];
    const mutations: Deno.KvMutation[] = [
      { type: "set", key: ["presence_state", userId], value: next },
    ];
    if (next.status === "offline") {
      // A closed socket recorded its own time; a dead process's sockets were last seen at their
      // last heartbeat, not when the sweep noticed.
      const seen = latest(lastSeen.value, conns.expiredSeenAt) ?? new Date(now).toISOString();
      mutations.push(
        { type: "delete", key: ["presence_online", userId] },
        { type: "set", key: ["presence_last_seen", userId], value: seen },
      );
      // Checked, so a late heartbeat that revived one makes this commit retry instead.
      for (const c of conns.expired.slice(0, 50)) {
        checks.push(c);
        mutations.push({ type: "delete", key: c.key });
      }
    } else {
      mutations.push({ type: "set", key: ["presence_online", userId], value: true });
    }
    // Grouped with other users' transitions; the check on the published state is kept.
    if ((await groupFor(kv).commit({ checks, mutations })).ok) return next;
  }
  return null;
}

/** Users whose published state is not offline: the ones a sweep must look at. */
export async function listOnline(kv: Deno.Kv): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of kv.list({ prefix: ["presence_online"] })) {
    ids.push(e.key[1] as string);
  }
  return ids;
}

/** The users' effective presence, derived from live entries (not from what was published). */
export async function getPresences(
  kv: Deno.Kv,
  userIds: string[],
  now: number,
): Promise<Presence[]> {
  return await Promise.all(userIds.map(async (userId) => {
    const [conns, explicit, lastSeen, inCall] = await Promise.all([
      connections(kv, userId, now),
      kv.get<ExplicitStatus>(["presence_status", userId]),
      kv.get<string>(["presence_last_seen", userId]),
      kv.get(inCallKey(userId)),
    ]);
    const state = derive(conns.live, explicit.value, inCall.versionstamp !== null);
    return {
      userId,
      ...state,
      lastSeen: state.status === "offline"
        ? latest(lastSeen.value, conns.expiredSeenAt)
        : new Date(now).toISOString(),
    };
  }));
}
