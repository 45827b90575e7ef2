import assert from "node:assert/strict";
import { FakeClock, systemClock } from "./clock.ts";

Deno.test("FakeClock: starts at 2026-01-01 (or the given time) and moves only when told", () => {
  const clock = new FakeClock();
  assert.equal(clock.now(), Date.UTC(2026, 0, 1));
  assert.equal(clock.now(), Date.UTC(2026, 0, 1));
  clock.advance(1500);
  assert.equal(clock.now(), Date.UTC(2026, 0, 1) + 1500);
  clock.advance(-500);
  assert.equal(clock.now(), Date.UTC(2026, 0, 1) + 1000);
  assert.equal(new FakeClock(42).now(), 42);
});

Deno.test("systemClock: reads the real time", () => {
  const before = Date.now();
  const now = systemClock.now();
  assert.ok(now >= before && now <= Date.now());
});
