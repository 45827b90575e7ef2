/**
 * @module
 * POST /api/v1/visits (staff only) and GET /api/v1/visits/:id (its
 * participants and admins). A refused read looks the same whether the visit
 * exists or not.
 */

import type { Audit } from "../realtime/audit.ts";
import { Hono } from "hono";
import { z } from "zod";
import { AppError, forbidden, invalid } from "../lib/errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { TokenService } from "../lib/tokens.ts";
import { idSchema } from "../store/ids.ts";
import { getUser, isStaff } from "../store/users.ts";
import { createVisit, getVisit, isVisitParticipant } from "../store/visits.ts";
import { type AppEnv, httpActor, jsonBody, requireUser } from "./context.ts";
import { zodIssues } from "../realtime/events.ts";
import { text } from "../realtime/payload.ts";

/** At most 21 ids and a 200-byte title: a stored visit stays under 3 KB, far inside KV's 64 KiB. */
const newVisitSchema = z.object({
  id: idSchema.optional(),
  patientId: idSchema,
  clinicianIds: z.array(idSchema).min(1).max(20),
  title: text(200).optional(),
  scheduledAt: z.iso.datetime({ offset: true }).optional(),
});

export function visitRoutes(deps: {
  kv: Deno.Kv;
  tokens: TokenService;
  clock: Clock;
  newId: () => string;
  audit: Audit;
}): Hono<AppEnv> {
  const { kv, tokens, clock, newId, audit } = deps;
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
    for (const [i, id] of clinicianIds.entries()) {
      const u = await getUser(kv, id);
      if (!u || !isStaff(u.role)) {
        throw invalid(`clinicianIds[${i}] "${id}" is not a clinician`, [
          { path: `clinicianIds.${i}`, message: "no clinician with this id" },
        ]);
      }
    }
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

  return app;
}
