/**
 * @module
 * POST /api/v1/visits (staff only), GET /api/v1/visits/:id (its
 * participants and admins) and PATCH /api/v1/visits/:id (its clinicians and
 * admins: care team, title, time). A refused read or change looks the same
 * whether the visit exists or not. A change reaches every process's visit
 * cache (realtime/visit_cache.ts) and takes removed clinicians out of the
 * visit's rooms.
 */

import type { Audit } from "../realtime/audit.ts";
import { Hono } from "hono";
import { z } from "zod";
import { AppError, forbidden, invalid } from "../lib/errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { TokenService } from "../lib/tokens.ts";
import { idSchema } from "../store/ids.ts";
import { getUser, isStaff } from "../store/users.ts";
import { createVisit, getVisit, isVisitParticipant, updateVisit } from "../store/visits.ts";
import type { VisitCache } from "../realtime/visit_cache.ts";
import { type AppEnv, httpActor, jsonBody, requireUser } from "./context.ts";
import { zodIssues } from "../realtime/events.ts";
import { text } from "../realtime/payload.ts";

/** At most 21 ids and a 200-byte title: a stored visit stays under 3 KB, far inside KV's 64 KiB. */
export const newVisitSchema = z.object({
  id: idSchema.optional(),
  patientId: idSchema,
  clinicianIds: z.array(idSchema).min(1).max(20),
  title: text(200).optional(),
  scheduledAt: z.iso.datetime({ offset: true }).optional(),
});

export const visitPatchSchema = z.object({
  clinicianIds: newVisitSchema.shape.clinicianIds.optional(),
  title: newVisitSchema.shape.title,
  scheduledAt: newVisitSchema.shape.scheduledAt,
}).strict().refine(
  (v) => Object.keys(v).length > 0,
  "one of clinicianIds, title and scheduledAt is required",
);

/** Every id must name a staff member; throws INVALID_PAYLOAD naming the first that does not. */
async function assertClinicians(kv: Deno.Kv, ids: string[]): Promise<void> {
  for (const [i, id] of ids.entries()) {
    const u = await getUser(kv, id);
    if (!u || !isStaff(u.role)) {
      throw invalid(`clinicianIds[${i}] "${id}" is not a clinician`, [
        { path: `clinicianIds.${i}`, message: "no clinician with this id" },
      ]);
    }
  }
}

export function visitRoutes(deps: {
  kv: Deno.Kv;
  tokens: TokenService;
  clock: Clock;
  newId: () => string;
  audit: Audit;
  visits: VisitCache;
}): Hono<AppEnv> {
  const { kv, tokens, clock, newId, audit, visits } = deps;
  const app = new Hono<AppEnv>();
  app.use("*", requireUser(tokens, kv));

  app.post("/", async (c) => {
    const actor = c.get("user");
    if (!isStaff(actor.role)) throw forbidden("Only staff may create visits");
    const parsed = newVisitSchema.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalid("Invalid visit", zodIssues(parsed.error, "body"));
    const input = parsed.data;
    const patient = await getUser(kv, input.patientId);
    if (!patient || patient.role !== "patient") {
      throw invalid(`patientId "${input.patientId}" is not a patient`, [
        { path: "patientId", message: "no patient with this id" },
      ]);
    }
    const clinicianIds = [...new Set(input.clinicianIds)];
    await assertClinicians(kv, clinicianIds);
    const visitId = input.id ?? `visit-${newId().toLowerCase()}`;
    const visit = await createVisit(
      kv,
      {
        id: visitId,
        patientId: input.patientId,
        clinicianIds,
        title: input.title,
        scheduledAt: input.scheduledAt,
        createdBy: actor.userId,
        createdAt: new Date(clock.now()).toISOString(),
      },
      audit.entry({
        ...httpActor(c),
        action: "visit.create",
        target: { visitId },
        outcome: "success",
      }),
    );
    return c.json({ visit }, 201);
  });

  app.get("/:id", async (c) => {
    const actor = c.get("user");
    const id = c.req.param("id");
    const visit = idSchema.safeParse(id).success ? await getVisit(kv, id) : null;
    const allowed = actor.role === "admin" || (visit && isVisitParticipant(visit, actor.userId));
    if (!allowed) throw forbidden("Visit access denied");
    if (!visit) throw new AppError("NOT_FOUND", `Visit "${id}" not found`);
    audit.record({
      ...httpActor(c),
      action: "visit.read",
      target: { visitId: id },
      outcome: "success",
    });
    return c.json({ visit });
  });

  app.patch("/:id", async (c) => {
    const actor = c.get("user");
    const id = c.req.param("id");
    const visit = idSchema.safeParse(id).success ? await getVisit(kv, id) : null;
    const allowed = actor.role === "admin" ||
      (visit && isStaff(actor.role) && visit.clinicianIds.includes(actor.userId));
    if (!allowed || !visit) throw forbidden("Visit access denied");
    const parsed = visitPatchSchema.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalid("Invalid visit change", zodIssues(parsed.error, "body"));
    const patch = parsed.data;
    if (patch.clinicianIds) await assertClinicians(kv, [...new Set(patch.clinicianIds)]);
    const changed = await updateVisit(kv, id, patch, {
      changeId: newId(),
      now: clock.now(),
      audit: audit.entry({
        ...httpActor(c),
        action: "visit.update",
        target: { visitId: id },
        outcome: "success",
      }),
    });
    if (!changed) throw forbidden("Visit access denied");
    // This process applies it before answering; the others follow within a second.
    await visits.catchUp();
    return c.json({ visit: changed.after });
  });

  return app;
}
