import assert from "node:assert/strict";
import { z } from "zod";
import { FakeClock } from "../lib/clock.ts";
import { AppError } from "../lib/errors.ts";
import { memoryLogger } from "../lib/log.ts";
import { noAudit } from "./audit.ts";
import { AppMetrics } from "./metrics.ts";
import {
  defineEvent,
  dispatch,
  errorReply,
  type EventTable,
  type HandlerContext,
  mergeTables,
  type Services,
} from "./events.ts";

/** A context for handlers that use none of its services (the tests below never reach KV). */
function context(): HandlerContext {
  const joined = new Set<string>();
  return {
    userId: "patient-1",
    role: "patient",
    socketId: "s1",
    services: {
      kv: undefined as unknown as Deno.Kv,
      clock: new FakeClock(),
      log: memoryLogger(),
      emitter: {
        emit() {},
        emitAny() {},
        emitToUser() {},
        emitToRoom() {},
        broadcast() {},
      },
      messageEditWindowMs: 900_000,
      unread: undefined as unknown as Services["unread"],
      newId: () => "id",
      presence: undefined as unknown as Services["presence"],
      notifyUser: () => Promise.reject(new Error("not used here")),
      calls: undefined as unknown as Services["calls"],
      audit: noAudit,
      topics: undefined as unknown as Services["topics"],
      visits: undefined as unknown as Services["visits"],
      metrics: new AppMetrics(),
    },
    rooms: {
      has: (r) => joined.has(r),
      joined: () => joined,
      canPublish: () => false,
      reserve: () => {},
      join: (r) => void joined.add(r),
      leave: (r) => void joined.delete(r),
    },
  };
}

function tables() {
  const calls: unknown[] = [];
  const echo = defineEvent({
    ack: true,
    schema: z.object({
      roomId: z.string(),
      items: z.array(z.object({ n: z.number() })).default([]),
    }),
    handler: (ctx, input) => {
      calls.push(input);
      return Promise.resolve({ roomId: input.roomId, count: input.items.length, who: ctx.userId });
    },
  });
  const quiet = defineEvent({
    ack: false,
    schema: z.object({}),
    handler: () => {
      calls.push("quiet");
      return Promise.resolve();
    },
  });
  const failing = defineEvent({
    ack: true,
    schema: z.object({}),
    handler: () => Promise.reject(new AppError("FORBIDDEN", "Room access denied")),
  });
  const a = { "test:echo": echo } satisfies EventTable;
  const b = { "test:quiet": quiet, "test:fail": failing } satisfies EventTable;
  return { calls, events: mergeTables(a, b) };
}

const hasCode = (code: string) => (err: unknown) => err instanceof AppError && err.code === code;

Deno.test("mergeTables: joins tables and refuses a name defined twice", () => {
  const { events } = tables();
  assert.deepEqual([...events.keys()], ["test:echo", "test:quiet", "test:fail"]);
  const def = events.get("test:quiet")!;
  assert.throws(
    () => mergeTables({ "x:one": def }, { "x:two": def, "x:one": def }),
    { message: 'Event "x:one" is defined twice' },
  );
  assert.equal(mergeTables().size, 0);
});

Deno.test("dispatch: runs the handler with parsed input and adds success", async () => {
  const { events, calls } = tables();
  const reply = await dispatch(events, context(), "test:echo", {
    roomId: "visit:v1",
    items: [{ n: 1 }, { n: 2 }],
    extra: "stripped",
  });
  assert.deepEqual(reply, { success: true, roomId: "visit:v1", count: 2, who: "patient-1" });
  assert.deepEqual(calls, [{ roomId: "visit:v1", items: [{ n: 1 }, { n: 2 }] }]);
  // A handler without a reply still acks success; missing data counts as {}.
  assert.deepEqual(await dispatch(events, context(), "test:quiet", undefined), { success: true });
  assert.deepEqual(await dispatch(events, context(), "test:quiet", null), { success: true });
  assert.deepEqual(calls.slice(1), ["quiet", "quiet"]);
});

Deno.test("dispatch: an unknown event is UNKNOWN_EVENT", async () => {
  const { events, calls } = tables();
  for (const name of ["nope", "constructor", "__proto__", "toString", "hasOwnProperty"]) {
    await assert.rejects(
      dispatch(events, context(), name, {}),
      (err) =>
        hasCode("UNKNOWN_EVENT")(err) && (err as Error).message === `Unknown event "${name}"`,
    );
  }
  assert.deepEqual(calls, []);
});

Deno.test("dispatch: bad data is INVALID_PAYLOAD with issue paths, and the handler never runs", async () => {
  const { events, calls } = tables();
  const err = await dispatch(events, context(), "test:echo", {
    roomId: 5,
    items: [{ n: 1 }, { n: "x" }],
  }).then(() => assert.fail("expected a rejection"), (e) => e);
  assert.ok(hasCode("INVALID_PAYLOAD")(err));
  assert.deepEqual(err.issues.map((i: { path: string }) => i.path), ["roomId", "items.1.n"]);
  assert.match(err.message, /^Invalid payload for "test:echo": roomId: /);

  const top = await dispatch(events, context(), "test:echo", "not an object").then(
    () => assert.fail("expected a rejection"),
    (e) => e,
  );
  assert.ok(hasCode("INVALID_PAYLOAD")(top));
  assert.deepEqual(top.issues.map((i: { path: string }) => i.path), ["data"]);
  assert.deepEqual(calls, []);
});

Deno.test("dispatch: at most 20 issues are reported", async () => {
  const shape = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, z.string()]));
  const events = mergeTables({
    "test:wide": defineEvent({
      ack: true,
      schema: z.object(shape),
      handler: () => Promise.resolve(),
    }),
  });
  await assert.rejects(
    dispatch(events, context(), "test:wide", {}),
    (err) => hasCode("INVALID_PAYLOAD")(err) && (err as AppError).issues?.length === 20,
  );
});

Deno.test("dispatch: a handler's AppError reaches the caller unchanged", async () => {
  const { events } = tables();
  await assert.rejects(
    dispatch(events, context(), "test:fail", {}),
    (err) => hasCode("FORBIDDEN")(err) && (err as Error).message === "Room access denied",
  );
});

Deno.test("errorReply: AppErrors keep their code, message, issues and retryable flag", () => {
  const log = memoryLogger();
  assert.deepEqual(errorReply(new AppError("FORBIDDEN", "Room access denied"), log, {}), {
    success: false,
    error: "Room access denied",
    code: "FORBIDDEN",
  });
  const issues = [{ path: "roomId", message: "unknown room id format" }];
  assert.deepEqual(
    errorReply(new AppError("INVALID_PAYLOAD", "Invalid roomId", { issues }), log, {}),
    { success: false, error: "Invalid roomId", code: "INVALID_PAYLOAD", issues },
  );
  assert.deepEqual(
    errorReply(new AppError("CONFLICT", "The room is busy", { retryable: true }), log, {}),
    { success: false, error: "The room is busy", code: "CONFLICT", retryable: true },
  );
  assert.deepEqual(log.lines, []);
});

Deno.test("errorReply: anything else is INTERNAL, logged, and never leaks its message", () => {
  const log = memoryLogger();
  const secret = "patient Jane Doe, DOB 1970-01-01, at /var/lib/kv";
  for (const err of [new Error(secret), new TypeError(secret), secret, { message: secret }]) {
    const reply = errorReply(err, log, { event: "message:send", socketId: "s1" });
    assert.deepEqual(reply, {
      success: false,
      error: "Internal error",
      code: "INTERNAL",
      retryable: true,
    });
    assert.equal(JSON.stringify(reply).includes("Jane"), false);
  }
  assert.equal(log.lines.length, 4);
  const entry = JSON.parse(log.lines[0]);
  assert.equal(entry.level, "error");
  assert.equal(entry.socketId, "s1");
  assert.equal(entry.error, `Error: ${secret}`);
  assert.equal(JSON.parse(log.lines[2]).error, secret);
  // session.ts passes the wire event name as `event`; it must not replace the log event.
  assert.equal(entry.event, "handler.failed");
});

Deno.test("errorReply: KV refusing a value as too large is INTERNAL without retryable", async () => {
  const log = memoryLogger();
  const kv = await Deno.openKv(":memory:");
  try {
    const refused = await kv.set(["v"], "a".repeat(70_000)).catch((err) => err);
    assert.deepEqual(errorReply(refused, log, {}), {
      success: false,
      error: "Internal error",
      code: "INTERNAL",
    });
  } finally {
    kv.close();
  }
  // A KV that cannot be reached or is locked may work on the next try.
  assert.equal(errorReply(new Error("database is locked"), log, {}).retryable, true);
  assert.equal(log.lines.length, 2, "both are logged");
});
