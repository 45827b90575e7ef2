import assert from "node:assert/strict";
import { FakeClock } from "./clock.ts";
import { LOGIN_LIMITS, LoginThrottle, slowdownMs } from "./login_throttle.ts";

/** A throttle whose sleeps are recorded and return at once. */
function setup(limits: Partial<typeof LOGIN_LIMITS> = {}) {
  const clock = new FakeClock();
  const slept: number[] = [];
  const throttle = new LoginThrottle({
    clock,
    limits,
    sleep: (ms) => {
      slept.push(ms);
      return Promise.resolve();
    },
  });
  /** One failed attempt (admitted, then wrong password): returns the admission. */
  const fail = async (email: string, ip: string) => {
    const admission = await throttle.admit(email, ip);
    if (admission.ok) throttle.finished(ip);
    return admission;
  };
  return { clock, slept, throttle, fail };
}

const EMAIL = "doctor@example.com";

Deno.test("login throttle: slowdown grows from the 5th failure, doubling, capped at 3 s", () => {
  assert.deepEqual(
    [0, 4, 5, 6, 7, 8, 9, 10, 50, 5000].map((n) => slowdownMs(n)),
    [0, 0, 250, 500, 1000, 2000, 3000, 3000, 3000, 3000],
  );
});

Deno.test("login throttle: 10 failures from one IP refuse that (email, IP) with Retry-After", async () => {
  const { throttle, fail, clock } = setup();
  for (let i = 0; i < 10; i++) assert.equal((await fail(EMAIL, "203.0.113.5")).ok, true);
  const refused = await throttle.admit(EMAIL, "203.0.113.5");
  assert.deepEqual(refused, { ok: false, retryAfterS: 900, reason: "pair" });
  clock.advance(60_000);
  assert.deepEqual(await throttle.admit(EMAIL, "203.0.113.5"), {
    ok: false,
    retryAfterS: 840,
    reason: "pair",
  });
  // Refusals are not counted: the window still ends 15 min after it started.
  clock.advance(840_000);
  assert.equal((await throttle.admit(EMAIL, "203.0.113.5")).ok, true);
});

Deno.test("login throttle: another IP is slowed down, never locked out", async () => {
  const { throttle, fail, slept } = setup();
  for (let i = 0; i < 10; i++) await fail(EMAIL, "203.0.113.5");
  slept.length = 0;
  const owner = await throttle.admit(EMAIL, "198.51.100.7");
  // A clean address: slowed down, but it jumps the hashing queue.
  assert.deepEqual(owner, { ok: true, delayMs: 3000, priority: true });
  assert.deepEqual(slept, [3000]);
  throttle.succeeded(EMAIL, "198.51.100.7");
  // Other emails from the attacker's IP are untouched (only the pair is refused).
  assert.deepEqual(await throttle.admit("patient@example.com", "203.0.113.5"), {
    ok: true,
    delayMs: 0,
    priority: false,
  });
});

Deno.test("login throttle: the delays each attempt waits follow the email's failures", async () => {
  const { fail, slept } = setup();
  const ips = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];
  for (let i = 0; i < 9; i++) await fail(EMAIL, ips[i % 3]);
  assert.deepEqual(slept, [250, 500, 1000, 2000]);
});

Deno.test("login throttle: 100 failures from one IP over many emails refuse that IP", async () => {
  const { throttle, fail } = setup();
  for (let i = 0; i < 100; i++) {
    assert.equal((await fail(`u${i}@example.com`, "192.0.2.9")).ok, true);
  }
  const refused = await throttle.admit("new@example.com", "192.0.2.9");
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.reason, "ip");
  assert.equal((await throttle.admit("new@example.com", "192.0.2.10")).ok, true);
});

Deno.test("login throttle: a success clears its pair and takes back its attempt", async () => {
  const { throttle, fail } = setup();
  for (let i = 0; i < 9; i++) await fail(EMAIL, "192.0.2.1");
  assert.equal((await throttle.admit(EMAIL, "192.0.2.1")).ok, true);
  throttle.succeeded(EMAIL, "192.0.2.1");
  for (let i = 0; i < 10; i++) assert.equal((await fail(EMAIL, "192.0.2.1")).ok, true, `${i}`);
  assert.equal((await throttle.admit(EMAIL, "192.0.2.1")).ok, false);
});

Deno.test("login throttle: a cancelled attempt does not count", async () => {
  const { throttle } = setup();
  for (let i = 0; i < 50; i++) {
    assert.equal((await throttle.admit(EMAIL, "192.0.2.1")).ok, true);
    throttle.cancel(EMAIL, "192.0.2.1");
    throttle.finished("192.0.2.1");
  }
  assert.deepEqual(await throttle.admit(EMAIL, "192.0.2.1"), {
    ok: true,
    delayMs: 0,
    priority: true,
  });
});

Deno.test("login throttle: at most maxDelayed attempts wait at once; more are refused, unless clean", async () => {
  const clock = new FakeClock();
  const pending: (() => void)[] = [];
  const throttle = new LoginThrottle({
    clock,
    limits: { slowAfter: 0, maxDelayed: 2 },
    sleep: () => new Promise<void>((resolve) => pending.push(resolve)),
  });
  const a = throttle.admit(EMAIL, "192.0.2.1");
  const b = throttle.admit(EMAIL, "192.0.2.2");
  // An address with an attempt in flight is not clean: refused while two wait.
  const c = await throttle.admit(EMAIL, "192.0.2.2");
  assert.equal(c.ok, false);
  assert.equal(!c.ok && c.reason, "busy");
  // A clean address (the owner, elsewhere) is admitted all the same.
  const owner = throttle.admit(EMAIL, "198.51.100.7");
  assert.equal(pending.length, 3);
  for (const resolve of pending) resolve();
  assert.deepEqual(await a, { ok: true, delayMs: 250, priority: true });
  assert.equal((await b).ok, true);
  // Slowed down by the two attempts before it, like anyone.
  assert.deepEqual(await owner, { ok: true, delayMs: 1000, priority: true });
});

Deno.test("login throttle: key maps stay bounded; expired windows go first", async () => {
  const { throttle, fail, clock } = setup({ maxKeys: 50 });
  for (let i = 0; i < 40; i++) await fail(`old${i}@example.com`, `10.0.0.${i}`);
  clock.advance(LOGIN_LIMITS.windowMs);
  for (let i = 0; i < 200; i++) await fail(`new${i}@example.com`, `10.0.1.${i % 250}`);
  const sizes = throttle.sizes;
  assert.ok(sizes.pairs <= 50 && sizes.ips <= 50 && sizes.emails <= 50, JSON.stringify(sizes));
});

Deno.test("login throttle: windows end after 15 min", async () => {
  const { throttle, fail, clock, slept } = setup();
  for (let i = 0; i < 10; i++) await fail(EMAIL, "192.0.2.1");
  clock.advance(LOGIN_LIMITS.windowMs);
  slept.length = 0;
  assert.deepEqual(await throttle.admit(EMAIL, "192.0.2.1"), {
    ok: true,
    delayMs: 0,
    priority: true,
  });
  assert.deepEqual(slept, []);
});
