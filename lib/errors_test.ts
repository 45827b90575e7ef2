import assert from "node:assert/strict";
import { AppError, conflict, forbidden, invalid, notFound, ROOM_ACCESS_DENIED } from "./errors.ts";

Deno.test("AppError: carries code, message, retryable, issues and cause", () => {
  const cause = new Error("kv down");
  const err = new AppError("INTERNAL", "Try again", { retryable: true, cause });
  assert.ok(err instanceof Error);
  assert.equal(err.name, "AppError");
  assert.equal(err.code, "INTERNAL");
  assert.equal(err.message, "Try again");
  assert.equal(err.retryable, true);
  assert.equal(err.issues, undefined);
  assert.equal(err.cause, cause);
  assert.equal(new AppError("NOT_FOUND", "x").retryable, false);
});

Deno.test("error helpers set the right codes", () => {
  assert.equal(ROOM_ACCESS_DENIED, "Room access denied");
  const f = forbidden();
  assert.deepEqual([f.code, f.message], ["FORBIDDEN", "Room access denied"]);
  assert.equal(forbidden("Only staff").message, "Only staff");
  const n = notFound("No such visit");
  assert.deepEqual([n.code, n.message], ["NOT_FOUND", "No such visit"]);
  const c = conflict("Taken");
  assert.deepEqual([c.code, c.message, c.retryable], ["CONFLICT", "Taken", false]);
  assert.equal(conflict("Busy", true).retryable, true);
  const issues = [{ path: "roomId", message: "bad" }];
  const i = invalid("Invalid roomId", issues);
  assert.deepEqual([i.code, i.message, i.issues], ["INVALID_PAYLOAD", "Invalid roomId", issues]);
  assert.equal(invalid("x").issues, undefined);
});

Deno.test("AppError carries no stack frames (refusals are answers, built on the hot path)", () => {
  const err = new AppError("RATE_LIMITED", "slow down", { retryable: true });
  assert.equal(err.stack?.includes("\n    at "), false);
  assert.ok(new Error("x").stack?.includes("\n    at "), "other errors keep theirs");
});
