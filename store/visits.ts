/**
 * @module
 * Visits: one patient and the clinicians caring for them. A visit is what
 * grants access to its `visit:` and `call:` rooms and lets a patient and a
 * clinician chat.
 *
 * Keys:
 * - `["visits", visitId]` -> {@linkcode Visit}
 * - `["visits_by_user", userId, visitId]` -> visitId (index: one entry per participant)
 * - `["visit_changes", changeId]` -> visitId, one per update, expiring after a day, and
 *   `["visits_changed"]` -> the last changeId: the one key every process watches to drop
 *   what it cached about a changed visit (realtime/visit_cache.ts)
 */

import { type AuditEntry, auditMutations } from "./audit.ts";
import { conflict } from "../lib/errors.ts";

export interface Visit {
  id: string;
  patientId: string;
  clinicianIds: string[];
  title?: string;
  scheduledAt?: string;
  createdBy: string;
  createdAt: string;
  updatedAt?: string;
}

/** How long a change record is kept for watchers that were briefly behind. */
export const VISIT_CHANGE_TTL_MS = 24 * 60 * 60 * 1000;
export const VISITS_CHANGED_KEY: Deno.KvKey = ["visits_changed"];

export function visitParticipants(visit: Visit): string[] {
  return [visit.patientId, ...visit.clinicianIds];
}

export function isVisitParticipant(visit: Visit, userId: string): boolean {
  return visit.patientId === userId || visit.clinicianIds.includes(userId);
}

/** Stores a new visit and its per-user index entries; CONFLICT if the id exists. */
export async function createVisit(
  kv: Deno.Kv,
  visit: Visit,
  audit?: AuditEntry,
): Promise<Visit> {
  const op = kv.atomic()
    .check({ key: ["visits", visit.id], versionstamp: null })
    .set(["visits", visit.id], visit);
  if (audit) auditMutations(op, audit);
  for (const userId of new Set(visitParticipants(visit))) {
    op.set(["visits_by_user", userId, visit.id], visit.id);
  }
  const res = await op.commit();
  if (!res.ok) throw conflict(`Cannot create visit "${visit.id}": it already exists`);
  return visit;
}

export async function getVisit(kv: Deno.Kv, id: string): Promise<Visit | null> {
  return (await kv.get<Visit>(["visits", id])).value;
}

export type VisitPatch = Partial<Pick<Visit, "clinicianIds" | "title" | "scheduledAt">>;

/**
 * Changes a visit's care team, title or time (the patient never changes),
 * moving the per-user index entries, recording the change for every
 * process's cache, all in one commit checked against the visit read first.
 * Returns the visit before and after; null if there is no such visit.
 */
export async function updateVisit(
  kv: Deno.Kv,
  id: string,
  patch: VisitPatch,
  opts: { changeId: string; now: number; audit?: AuditEntry },
): Promise<{ before: Visit; after: Visit } | null> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await kv.get<Visit>(["visits", id]);
    const before = entry.value;
    if (!before) return null;
    const after: Visit = { ...before, updatedAt: new Date(opts.now).toISOString() };
    if (patch.clinicianIds) after.clinicianIds = [...new Set(patch.clinicianIds)];
    if (patch.title !== undefined) after.title = patch.title;
    if (patch.scheduledAt !== undefined) after.scheduledAt = patch.scheduledAt;
    const op = kv.atomic().check(entry).set(["visits", id], after)
      .set(["visit_changes", opts.changeId], id, { expireIn: VISIT_CHANGE_TTL_MS })
      .set(VISITS_CHANGED_KEY, opts.changeId);
    const kept = new Set(visitParticipants(after));
    for (const userId of new Set(visitParticipants(before))) {
      if (!kept.has(userId)) op.delete(["visits_by_user", userId, id]);
    }
    for (const userId of kept) op.set(["visits_by_user", userId, id], id);
    if (opts.audit) auditMutations(op, opts.audit);
    if ((await op.commit()).ok) return { before, after };
  }
  throw conflict(`Visit "${id}" is changing; retry`);
}

/** Ids of the visits changed after change `after` (exclusive), oldest first. */
export async function listVisitChanges(
  kv: Deno.Kv,
  after: string,
): Promise<{ changeId: string; visitId: string }[]> {
  const out = [];
  const selector = { prefix: ["visit_changes"], start: ["visit_changes", after + "\u0000"] };
  for await (const e of kv.list<string>(selector)) {
    out.push({ changeId: e.key[1] as string, visitId: e.value });
  }
  return out;
}

/** Ids of the visits a user takes part in, up to `limit`. */
export async function listVisitIds(kv: Deno.Kv, userId: string, limit = 1000): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of kv.list<string>({ prefix: ["visits_by_user", userId] }, { limit })) {
    ids.push(e.value);
  }
  return ids;
}

/**
 * Whether two users take part in at least one common visit. Walks all of
 * `a`'s visits (no cap) and looks up `b`'s index entry for each, ten keys per
 * read, stopping at the first match.
 */
export async function shareVisit(kv: Deno.Kv, a: string, b: string): Promise<boolean> {
  let batch: string[] = [];
  const anyShared = async () => {
    const entries = await kv.getMany(batch.map((id) => ["visits_by_user", b, id]));
    batch = [];
    return entries.some((e) => e.versionstamp !== null);
  };
  for await (const e of kv.list<string>({ prefix: ["visits_by_user", a] })) {
    batch.push(e.value);
    if (batch.length === 10 && await anyShared()) return true;
  }
  return batch.length > 0 && await anyShared();
}

/** Every clinician on any of the patient's visits (ten visits per read). */
export async function careTeam(kv: Deno.Kv, patientId: string): Promise<Set<string>> {
  const team = new Set<string>();
  const ids = await listVisitIds(kv, patientId);
  for (let i = 0; i < ids.length; i += 10) {
    const visits = await kv.getMany<Visit[]>(ids.slice(i, i + 10).map((id) => ["visits", id]));
    for (const v of visits) for (const c of v.value?.clinicianIds ?? []) team.add(c);
  }
  return team;
}
