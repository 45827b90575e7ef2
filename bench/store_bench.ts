/**
 * Micro-benchmarks of the store on an in-memory KV: group-committed appends
 * (one alone, and 200 concurrent across 20 rooms), a history page, and a
 * cached visit read. Run with `deno task bench:micro`.
 */
import { appendMessage, listHistory } from "../store/messages.ts";
import { createVisit } from "../store/visits.ts";
import { VisitCache } from "../realtime/visit_cache.ts";
import { createLogger } from "../lib/log.ts";

const kv = await Deno.openKv(":memory:");
const now = new Date("2026-12-01T00:00:00Z");
let n = 0;
const append = (roomId: string, clientMessageId?: string) =>
  appendMessage(kv, {
    roomId,
    senderId: "doctor-1",
    visitId: roomId.slice(6),
    message: "x".repeat(100),
    clientMessageId,
  }, { id: `msg_${++n}`, now });

for (let i = 0; i < 200; i++) await append("visit:history");
await createVisit(kv, {
  id: "visit-1",
  patientId: "patient-1",
  clinicianIds: ["doctor-1"],
  createdBy: "doctor-1",
  createdAt: now.toISOString(),
});
const visits = new VisitCache(kv, createLogger("error"));
await visits.get("visit-1");

Deno.bench("appendMessage: one send, alone in its commit", { group: "append" }, async () => {
  await append("visit:alone", `c${n}`);
});

Deno.bench("appendMessage: 200 concurrent sends, 20 rooms (per batch)", {
  group: "append",
  baseline: true,
}, async () => {
  const sends = [];
  for (let i = 0; i < 200; i++) sends.push(append(`visit:r${i % 20}`, `c${n}-${i}`));
  await Promise.all(sends);
});

Deno.bench("listHistory: a page of 50", { group: "read" }, async () => {
  await listHistory(kv, "visit:history", { limit: 50 });
});

Deno.bench("VisitCache.get: a known visit", { group: "read" }, async () => {
  await visits.get("visit-1");
});
