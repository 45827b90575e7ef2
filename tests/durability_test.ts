import assert from "node:assert/strict";
import { startServer } from "./harness.ts";

Deno.test("history survives closing and reopening the same KV file; seq continues", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/realtime.kv`;
  try {
    let srv = await startServer({ kvPath });
    const sent: unknown[] = [];
    try {
      const patient = await srv.connect("patient@example.com");
      for (const text of ["before restart 1", "before restart 2"]) {
        const ack = await patient.request("message:send", {
          visitId: "visit-123",
          message: text,
          clientMessageId: text,
        });
        sent.push(ack.message);
      }
    } finally {
      await srv.close();
    }

    srv = await startServer({ kvPath });
    try {
      const doctor = await srv.connect("doctor@example.com");
      const history = await doctor.request("message:history", { visitId: "visit-123" });
      assert.deepEqual(history.messages, sent);
      const next = await doctor.request("message:send", { visitId: "visit-123", message: "after" });
      assert.equal((next.message as { seq: number }).seq, 3);
      // The idempotency record survived too: a late retry does not store a duplicate.
      const patient = await srv.connect("patient@example.com");
      const retry = await patient.request("message:send", {
        visitId: "visit-123",
        message: "before restart 1",
        clientMessageId: "before restart 1",
      });
      assert.deepEqual(retry.message, sent[0]);
      const all = await doctor.request("message:history", { visitId: "visit-123" });
      assert.equal((all.messages as unknown[]).length, 3);
    } finally {
      await srv.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
