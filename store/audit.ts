/**
 * @module
 * The access audit trail (HIPAA 164.312(b)): an append-only record of who did
 * what to which room, visit, call or account, when, from where and with what
 * outcome. Entries carry ids only: never message text, tokens or passwords.
 *
 * Keys (ids are ULIDs, so every listing is in time order):
 * - `["audit", id]` -> {@linkcode AuditEntry}
 * - `["audit_by_user", userId, id]` -> id: the actor and the target user
 * - `["audit_by_room", roomId, id]` -> id
 * - `["audit_by_visit", visitId, id]` -> id
 *
 * Writes that accompany a commit (a call transition, an account change, a
 * visit, a notification) add {@linkcode auditMutations} to that same atomic
 * operation; reads and refusals go through the batching writer in
 * realtime/audit.ts. Nothing here updates or deletes an entry except the
 * retention purge.
 */

import type { Role } from "./users.ts";

export type AuditOutcome = "success" | "failure" | "refused";

/** What an entry is about; every field is an id, a name or a number. */
export interface AuditTarget {
  userId?: string;
  roomId?: string;
  visitId?: string;
  callId?: string;
  notificationId?: string;
  /** The wire event a refusal or a service emit concerned. */
  event?: string;
  /** A history or resume read: the seqs returned. */
  seqFrom?: number;
  seqTo?: number;
  /** An email is never stored: a failed login for an unknown email has no target user. */
  status?: string;
}

/** What a caller records; the writer adds `id` and `at`. */
export interface AuditInput {
  actorId: string | null;
  actorRole: Role | null;
  /** Dotted action name, e.g. `auth.login`, `room.join`, `message.history`, `call.accepted`. */
  action: string;
  target?: AuditTarget;
  outcome: AuditOutcome;
  /** The wire error code of a failure or refusal. */
  code?: string;
  ip?: string;
  socketId?: string;
  requestId?: string;
}

export interface AuditEntry extends AuditInput {
  id: string;
  at: string;
}

/** Builds a stored entry from an input, with a time-ordered id. */
export function auditEntry(input: AuditInput, id: string, now: number): AuditEntry {
  return { id, at: new Date(now).toISOString(), ...input };
}

function indexKeys(e: AuditEntry): Deno.KvKey[] {
  const keys: Deno.KvKey[] = [];
  const users = new Set([e.actorId, e.target?.userId].filter((u): u is string => !!u));
  for (const u of users) keys.push(["audit_by_user", u, e.id]);
  if (e.target?.roomId) keys.push(["audit_by_room", e.target.roomId, e.id]);
  if (e.target?.visitId) keys.push(["audit_by_visit", e.target.visitId, e.id]);
  return keys;
}

/** Mutations one entry needs (at most 5), for callers adding it to their own commit. */
export function auditMutations(op: Deno.AtomicOperation, e: AuditEntry): Deno.AtomicOperation {
  op.set(["audit", e.id], e);
  for (const k of indexKeys(e)) op.set(k, e.id);
  return op;
}

/** Entries per commit: 5 mutations each stays far below KV's 1,000-mutation and 800 KiB limits. */
export const AUDIT_BATCH = 150;

/** Appends entries, one atomic commit per {@linkcode AUDIT_BATCH}. */
export async function appendAudit(kv: Deno.Kv, entries: AuditEntry[]): Promise<void> {
  for (let i = 0; i < entries.length; i += AUDIT_BATCH) {
    const op = kv.atomic();
    for (const e of entries.slice(i, i + AUDIT_BATCH)) auditMutations(op, e);
    const res = await op.commit();
    if (!res.ok) throw new Error("audit commit refused");
  }
}

export interface AuditFilter {
  userId?: string;
  roomId?: string;
  visitId?: string;
  /** Inclusive bounds, ms since the epoch. */
  from?: number;
  to?: number;
}

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The 10-character ULID time prefix of `ms`; ids of that millisecond start with it. */
export function ulidTime(ms: number): string {
  let out = "";
  let t = Math.max(0, Math.min(Math.floor(ms), 2 ** 48 - 1));
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** The time a ULID was made, in ms since the epoch. */
export function ulidMs(id: string): number {
  let t = 0;
  for (const ch of id.slice(0, 10)) t = t * 32 + ALPHABET.indexOf(ch);
  return t;
}

/** The most specific index for the filter, and the conditions left to check per entry. */
function plan(f: AuditFilter): { prefix: Deno.KvKey; viaIndex: boolean } {
  if (f.roomId) return { prefix: ["audit_by_room", f.roomId], viaIndex: true };
  if (f.visitId) return { prefix: ["audit_by_visit", f.visitId], viaIndex: true };
  if (f.userId) return { prefix: ["audit_by_user", f.userId], viaIndex: true };
  return { prefix: ["audit"], viaIndex: false };
}

function matches(e: AuditEntry, f: AuditFilter): boolean {
  if (f.userId && e.actorId !== f.userId && e.target?.userId !== f.userId) return false;
  if (f.roomId && e.target?.roomId !== f.roomId) return false;
  if (f.visitId && e.target?.visitId !== f.visitId) return false;
  return true;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass back as `cursor` for the next (older) page; null at the end. */
  cursor: string | null;
}

/**
 * Entries matching the filter, newest first, `limit` at a time. `cursor` is
 * the id of the last entry of the previous page.
 */
export async function listAudit(
  kv: Deno.Kv,
  filter: AuditFilter,
  opts: { cursor?: string; limit: number },
): Promise<AuditPage> {
  const { prefix, viaIndex } = plan(filter);
  const start = [...prefix, ulidTime(filter.from ?? 0)];
  let endId = filter.to === undefined ? "\uffff" : ulidTime(filter.to + 1);
  if (opts.cursor !== undefined && opts.cursor < endId) endId = opts.cursor;
  const end = [...prefix, endId];
  const out: AuditEntry[] = [];
  // Reads index keys in pages and resolves them in batches of 10 (getMany's limit).
  const iter = kv.list<string>({ start, end }, { reverse: true, batchSize: 100 });
  let pending: string[] = [];
  let scanned = 0;
  const resolveBatch = async () => {
    const entries = await kv.getMany<AuditEntry[]>(pending.map((id) => ["audit", id]));
    for (const e of entries) if (e.value && matches(e.value, filter)) out.push(e.value);
    pending = [];
  };
  for await (const e of iter) {
    scanned++;
    if (viaIndex) {
      pending.push(e.value);
      if (pending.length === 10) await resolveBatch();
    } else {
      const entry = e.value as unknown as AuditEntry;
      if (matches(entry, filter)) out.push(entry);
    }
    if (out.length > opts.limit) break;
    // A filter combining two ids scans one index; bound the scan so one request stays cheap.
    if (scanned >= 20_000) break;
  }
  if (pending.length > 0 && out.length <= opts.limit) await resolveBatch();
  const page = out.slice(0, opts.limit);
  const more = out.length > opts.limit || scanned >= 20_000;
  return { entries: page, cursor: more && page.length > 0 ? page[page.length - 1].id : null };
}

/** Every entry from `from` to `to` (inclusive, ms), oldest first: the export. */
export async function* exportAudit(
  kv: Deno.Kv,
  range: { from?: number; to?: number },
): AsyncGenerator<AuditEntry> {
  const start = ["audit", ulidTime(range.from ?? 0)];
  const end = ["audit", range.to === undefined ? "\uffff" : ulidTime(range.to + 1)];
  for await (const e of kv.list<AuditEntry>({ start, end }, { batchSize: 500 })) yield e.value;
}

/**
 * Deletes entries (and their index keys) made before `before` (ms): the
 * retention rule. Returns how many were deleted.
 */
export async function purgeAudit(kv: Deno.Kv, before: number): Promise<number> {
  const end = ["audit", ulidTime(before)];
  let deleted = 0;
  for (;;) {
    const batch: AuditEntry[] = [];
    for await (const e of kv.list<AuditEntry>({ start: ["audit", ""], end }, { limit: 150 })) {
      batch.push(e.value);
    }
    if (batch.length === 0) return deleted;
    const op = kv.atomic();
    for (const e of batch) {
      op.delete(["audit", e.id]);
      for (const k of indexKeys(e)) op.delete(k);
    }
    await op.commit();
    deleted += batch.length;
  }
}
