/**
 * @module
 * Calls and their state machine.
 *
 * Keys:
 * - `["calls", callId]` -> {@linkcode Call}
 * - `["calls_active_by_user", userId]` -> callId: the user's one non-terminal call (ringing or
 *   live). Written with both users' checks when a call is created, so a user is never in two
 *   calls, and deleted in the commit that ends the call.
 * - `["presence_in_call", userId]` (store/presence.ts) while the call is accepted or in progress.
 *
 * Every transition is one atomic commit checked on the call's versionstamp:
 * of two racing transitions (double accept, accept vs timeout, end vs accept)
 * exactly one commits and the other learns it lost.
 */

import { type AuditEntry, auditMutations } from "./audit.ts";
import { addNotification, type Notification } from "./notifications.ts";
import { inCallKey } from "./presence.ts";

export type CallStatus =
  | "initiating"
  | "ringing"
  | "accepted"
  | "in_progress"
  | "ended"
  | "rejected"
  | "missed"
  | "failed";

export type CallType = "audio" | "video";

/** States in which a call still holds its users. */
export const LIVE_STATES: readonly CallStatus[] = [
  "initiating",
  "ringing",
  "accepted",
  "in_progress",
];
export const RINGING_STATES: readonly CallStatus[] = ["initiating", "ringing"];
export const CONNECTED_STATES: readonly CallStatus[] = ["accepted", "in_progress"];

/** Why a call ended, as `call:ended` reports it (docs/PROTOCOL.md §5.15.12). */
export type EndReason =
  | "answered_elsewhere"
  | "rejected"
  | "cancelled"
  | "declined"
  | "hangup"
  | "missed"
  | "connection_lost";

export interface Call {
  id: string;
  callerId: string;
  calleeId: string;
  callType: CallType;
  visitId?: string;
  status: CallStatus;
  createdAt: string;
  /** When ringing turns into missed (ms since the epoch). */
  ringDeadline: number;
  /** The sockets carrying the call; signals go only there. */
  callerSocketId: string;
  calleeSocketId?: string;
  acceptedAt?: string;
  connectedAt?: string;
  endedAt?: string;
  endedBy?: string;
  endReason?: EndReason;
  /** Seconds from accept to end; 0 if never accepted. */
  duration?: number;
}

export interface CallEntry {
  call: Call;
  versionstamp: string;
}

const activeKey = (userId: string) => ["calls_active_by_user", userId];

/**
 * Stores a new call if neither user has a live call. On refusal returns the
 * live call ids that stood in the way (read after the failed commit).
 */
export async function createCall(
  kv: Deno.Kv,
  call: Call,
  audit?: AuditEntry,
): Promise<{ ok: true } | { ok: false; callerCall: string | null; calleeCall: string | null }> {
  const op = kv.atomic();
  if (audit) auditMutations(op, audit);
  const res = await op
    .check({ key: ["calls", call.id], versionstamp: null })
    .check({ key: activeKey(call.callerId), versionstamp: null })
    .check({ key: activeKey(call.calleeId), versionstamp: null })
    .set(["calls", call.id], call)
    .set(activeKey(call.callerId), call.id)
    .set(activeKey(call.calleeId), call.id)
    .commit();
  if (res.ok) return { ok: true };
  const [a, b] = await kv.getMany<[string, string]>([
    activeKey(call.callerId),
    activeKey(call.calleeId),
  ]);
  return { ok: false, callerCall: a.value, calleeCall: b.value };
}

export async function getCall(kv: Deno.Kv, callId: string): Promise<CallEntry | null> {
  const e = await kv.get<Call>(["calls", callId]);
  return e.value === null ? null : { call: e.value, versionstamp: e.versionstamp! };
}

/** Ids of every live call (each appears under both of its users), for sweeps. */
export async function listLiveCallIds(kv: Deno.Kv, limit = 10_000): Promise<string[]> {
  const ids = new Set<string>();
  for await (const e of kv.list<string>({ prefix: ["calls_active_by_user"] }, { limit })) {
    ids.add(e.value);
  }
  return [...ids];
}

/** The id of the user's live call, if any. */
export async function activeCallId(kv: Deno.Kv, userId: string): Promise<string | null> {
  return (await kv.get<string>(activeKey(userId))).value;
}

/**
 * Commits `next` if the call is unchanged since `from` was read. Leaving the
 * live states frees both users; entering accepted marks both in_call for
 * presence; `notification` and the `audit` entry are stored in the same
 * commit (exactly once).
 */
export async function transition(
  kv: Deno.Kv,
  from: CallEntry,
  next: Call,
  extra: { notification?: Notification; audit?: AuditEntry | AuditEntry[] } = {},
): Promise<CallEntry | null> {
  const { notification, audit } = extra;
  const op = kv.atomic()
    .check({ key: ["calls", next.id], versionstamp: from.versionstamp })
    .set(["calls", next.id], next);
  const users = [next.callerId, next.calleeId];
  if (!LIVE_STATES.includes(next.status)) {
    for (const u of users) op.delete(activeKey(u)).delete(inCallKey(u));
  } else if (CONNECTED_STATES.includes(next.status)) {
    for (const u of users) op.set(inCallKey(u), next.id);
  }
  if (notification) addNotification(op, notification);
  for (const e of [audit ?? []].flat()) auditMutations(op, e);
  const res = await op.commit();
  return res.ok ? { call: next, versionstamp: res.versionstamp } : null;
}
