import assert from "node:assert/strict";
import { FakeClock } from "./clock.ts";
import { TokenBucket, WindowCounter } from "./rate_limit.ts";

function takeAll(bucket: TokenBucket, tries = 100): number {
  let taken = 0;
  for (let i = 0; i < tries; i++) if (bucket.take()) taken++;
  return taken;
}

Deno.test("TokenBucket: starts full with `burst` tokens", () => {
  const bucket = new TokenBucket(3, 1, new FakeClock());
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  assert.equal(bucket.take(), false);
});

Deno.test("TokenBucket: refills perSecond tokens a second, never above burst", () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(3, 1, clock);
  assert.equal(takeAll(bucket), 3);
  clock.advance(999);
  assert.equal(bucket.take(), false);
  clock.advance(1);
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  clock.advance(2500);
  assert.equal(takeAll(bucket), 2);
  clock.advance(60_000);
  assert.equal(takeAll(bucket), 3);
});

Deno.test("TokenBucket: fractional refill and refused takes cost nothing", () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(10, 4, clock);
  assert.equal(takeAll(bucket), 10);
  clock.advance(250);
  assert.equal(takeAll(bucket), 1);
  for (let i = 0; i < 4; i++) {
    clock.advance(125); // half a token each time; failed takes must not lose it
    assert.equal(bucket.take(), i % 2 === 1, `step ${i}`);
  }
});

Deno.test("WindowCounter: hit reports over-limit after `limit` hits in a window", () => {
  const clock = new FakeClock();
  const counter = new WindowCounter(3, 1000, clock);
  assert.deepEqual([1, 2, 3, 4, 5].map(() => counter.hit("a")), [false, false, false, true, true]);
  assert.equal(counter.hit("b"), false);
  clock.advance(999);
  assert.equal(counter.hit("a"), true);
  clock.advance(1);
  assert.equal(counter.hit("a"), false);
  assert.equal(counter.hit("a"), false);
  assert.equal(counter.hit("a"), false);
  assert.equal(counter.hit("a"), true);
});

Deno.test("WindowCounter: blocked is true once the key used its limit, without counting", () => {
  const clock = new FakeClock();
  const counter = new WindowCounter(2, 1000, clock);
  assert.equal(counter.blocked("a"), false);
  counter.hit("a");
  assert.equal(counter.blocked("a"), false);
  assert.equal(counter.blocked("a"), false); // asking does not count
  counter.hit("a");
  assert.equal(counter.blocked("a"), true);
  assert.equal(counter.blocked("b"), false);
  clock.advance(999);
  assert.equal(counter.blocked("a"), true);
  clock.advance(1);
  assert.equal(counter.blocked("a"), false);
});

Deno.test("WindowCounter: reset forgets a key", () => {
  const counter = new WindowCounter(1, 1000, new FakeClock());
  counter.hit("a");
  counter.hit("b");
  assert.equal(counter.blocked("a"), true);
  counter.reset("a");
  assert.equal(counter.blocked("a"), false);
  assert.equal(counter.hit("a"), false);
  assert.equal(counter.blocked("b"), true);
});

Deno.test("WindowCounter: at maxKeys, expired keys go first, then the oldest live key", () => {
  const clock = new FakeClock();
  const counter = new WindowCounter(1, 1000, clock, 2);
  counter.hit("a");
  counter.hit("b");
  counter.hit("c"); // full of live keys: "a" is dropped
  assert.equal(counter.blocked("a"), false);
  assert.equal(counter.blocked("b"), true);
  assert.equal(counter.blocked("c"), true);

  clock.advance(500);
  counter.hit("d"); // still full of live keys: "b" is dropped
  assert.equal(counter.blocked("b"), false);
  assert.equal(counter.blocked("c"), true);
  assert.equal(counter.blocked("d"), true);

  clock.advance(600); // "c" has expired, "d" has not
  counter.hit("e");
  assert.equal(counter.blocked("c"), false);
  assert.equal(counter.blocked("d"), true);
  assert.equal(counter.blocked("e"), true);
});

Deno.test("TokenBucket: a wall clock stepped back (NTP) does not drain the bucket", () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(3, 1, clock);
  assert.equal(bucket.take(), true);
  clock.advance(-60_000);
  // Two tokens were left; time going backwards must not take them away.
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  clock.advance(1000);
  assert.equal(bucket.take(), true);
});

Deno.test("WindowCounter: keys expire with their window instead of accumulating", () => {
  const clock = new FakeClock();
  const counter = new WindowCounter(5, 1000, clock);
  for (let i = 0; i < 100; i++) counter.hit(`ip-${i}`);
  assert.equal(counter.size, 100);
  clock.advance(1000);
  counter.hit("fresh");
  assert.equal(counter.size, 1);
});
