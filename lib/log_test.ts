import assert from "node:assert/strict";
import { createLogger, memoryLogger } from "./log.ts";

Deno.test("createLogger: one JSON line per entry at or above the level", () => {
  const lines: string[] = [];
  const log = createLogger("warn", (l) => lines.push(l));
  log.debug("a");
  log.info("b");
  log.warn("c", { count: 2 });
  log.error("d");
  assert.equal(lines.length, 2);
  const first = JSON.parse(lines[0]);
  assert.equal(first.level, "warn");
  assert.equal(first.event, "c");
  assert.equal(first.count, 2);
  assert.ok(!Number.isNaN(Date.parse(first.t)));
  assert.equal(JSON.parse(lines[1]).level, "error");
});

Deno.test("createLogger: redacts fields that could carry secrets or message text", () => {
  const log = memoryLogger();
  log.info("x", {
    password: "hunter2",
    Token: "eyJ...",
    authorization: "Bearer abc",
    message: "patient text",
    text: "t",
    body: "b",
    secret: "s",
    userId: "patient-1",
    error: new TypeError("bad input"),
  });
  const entry = JSON.parse(log.lines[0]);
  for (const k of ["password", "Token", "authorization", "message", "text", "body", "secret"]) {
    assert.equal(entry[k], "[redacted]", k);
  }
  assert.equal(entry.userId, "patient-1");
  assert.equal(entry.error, "TypeError: bad input");
  for (const leaked of ["hunter2", "eyJ", "Bearer", "patient text"]) {
    assert.equal(log.lines[0].includes(leaked), false, leaked);
  }
});

Deno.test("createLogger: fields cannot replace the entry's event, level or time", () => {
  const log = memoryLogger();
  log.error("handler.failed", { event: "message:send", level: "debug", t: "yesterday" });
  const entry = JSON.parse(log.lines[0]);
  assert.equal(entry.event, "handler.failed");
  assert.equal(entry.level, "error");
  assert.notEqual(entry.t, "yesterday");
});
