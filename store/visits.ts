/**
 * @module
 * Visits: one patient and the clinicians caring for them. A visit is what
 * grants access to its `visit:` and `call:` rooms and lets a patient and a
 * clinician chat.
 *
 * Keys:
 * - `["visits", visitId]` -> {@linkcode Visit}
 * - `["visits_by_user", userId, visitId]` -> visitId (index: one entry per participant)
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
}

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
