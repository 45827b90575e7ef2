/**
 * @module
 * Demo accounts and a visit, created only when DEMO_DATA=true (`deno task dev`).
 * Idempotent: existing records are left as they are, so restarts keep history.
 */

import { AppError } from "../lib/errors.ts";
import { createUser, getUser, type Role } from "./users.ts";
import { createVisit, getVisit } from "./visits.ts";

export const DEMO_PASSWORD = "password123";

export const DEMO_USERS: { id: string; email: string; name: string; role: Role }[] = [
  { id: "patient-1", email: "patient@example.com", name: "Pat Patient", role: "patient" },
  { id: "patient-2", email: "patient2@example.com", name: "Sam Second", role: "patient" },
  { id: "doctor-1", email: "doctor@example.com", name: "Dr. Dana Doctor", role: "doctor" },
];

export const DEMO_VISIT_ID = "visit-123";

export async function seedDemoData(kv: Deno.Kv, now: Date): Promise<void> {
  for (const u of DEMO_USERS) {
    if (await getUser(kv, u.id)) continue;
    await createUser(kv, { ...u, password: DEMO_PASSWORD }, now).catch(ignoreConflict);
  }
  if (!await getVisit(kv, DEMO_VISIT_ID)) {
    await createVisit(kv, {
      id: DEMO_VISIT_ID,
      patientId: "patient-1",
      clinicianIds: ["doctor-1"],
      title: "Demo follow-up",
      createdBy: "doctor-1",
      createdAt: now.toISOString(),
    }).catch(ignoreConflict);
  }
}

// Isolates started together (`deno serve --parallel`) seed at once: the loser's CONFLICT is fine.
function ignoreConflict(err: unknown): void {
  if (!(err instanceof AppError && err.code === "CONFLICT")) throw err;
}
