import assert from "node:assert/strict";
import { Background } from "./background.ts";
import { memoryLogger } from "./log.ts";

Deno.test("Background: failures are logged, not thrown; idle waits for work started while waiting", async () => {
  const log = memoryLogger();
  const work = new Background(log, "test.failed");
  const late = Promise.withResolvers<void>();
  let lateDone = false;
  await work.track(Promise.reject(new Error("boom")));
  work.track(
    Promise.resolve().then(() => {
      work.track(late.promise.then(() => void (lateDone = true)));
    }),
  );
  const idle = work.idle();
  late.resolve();
  await idle;
  assert.equal(lateDone, true);
  assert.equal(log.lines.filter((l) => l.includes("test.failed")).length, 1);
});
