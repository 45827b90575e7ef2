/**
 * Issue 7, findings 4-6 over real sockets: login throttling per (email, IP)
 * with a slowdown instead of a lockout, the client IP taken from
 * X-Forwarded-For only behind a trusted proxy, equal work for unknown emails,
 * and a bound on concurrent password hashing (503 with Retry-After, bounded
 * RSS). The audit trail records logins, failures and refusals with ids only.
 */

import assert from "node:assert/strict";
import { listAudit } from "../store/audit.ts";
import { createUser } from "../store/users.ts";
import { startServer, type TestServer, within } from "./harness.ts";

/** The test server is the trusted proxy: X-Forwarded-For names the client. */
const BEHIND_PROXY = { TRUSTED_PROXIES: "127.0.0.1/32, ::1" };

async function login(
  srv: TestServer,
  email: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; retryAfter: string | null; body: Record<string, unknown> }> {
  const res = await fetch(`${srv.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ email, password }),
  });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() };
}

const from = (ip: string) => ({ "x-forwarded-for": `192.0.2.250, ${ip}` });

type Entries = Awaited<ReturnType<typeof listAudit>>["entries"];

/**
 * Audit entries (of one user, or all), asserting `done` holds for their
 * `action:outcome` list. Every entry is recorded before its response is sent,
 * so flushing the writer makes them all readable.
 */
async function auditWhen(
  srv: TestServer,
  userId: string | undefined,
  done: (actions: string[]) => boolean,
): Promise<Entries> {
  await srv.app.audit.flush();
  const { entries } = await listAudit(srv.kv, userId ? { userId } : {}, { limit: 100 });
  assert.ok(done(entries.map((e) => `${e.action}:${e.outcome}`)), JSON.stringify(entries));
  return entries;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2;
};

Deno.test("10 wrong passwords from one IP do not lock the owner out from another IP", async () => {
  const srv = await startServer({ env: BEHIND_PROXY });
  try {
    const attacker = from("203.0.113.66");
    // Two waves: the first five are not slowed, the second five wait 250 ms .. 3 s each.
    for (const wave of [0, 5]) {
      const results = await Promise.all(
        Array.from(
          { length: 5 },
          (_, i) => login(srv, "doctor@example.com", `guess-${wave + i}`, attacker),
        ),
      );
      assert.deepEqual(results.map((r) => r.status), [401, 401, 401, 401, 401]);
    }
    const locked = await login(srv, "doctor@example.com", "password123", attacker);
    assert.equal(locked.status, 429, "the attacker's address is throttled even with the password");
    assert.equal(locked.body.code, "RATE_LIMITED");
    assert.ok(
      Number(locked.retryAfter) > 800 && Number(locked.retryAfter) <= 900,
      locked.retryAfter!,
    );

    const started = performance.now();
    const owner = await login(srv, "doctor@example.com", "password123", from("198.51.100.7"));
    const waited = performance.now() - started;
    assert.equal(owner.status, 200, JSON.stringify(owner.body));
    assert.ok(waited >= 2900, `the owner is slowed down (waited ${Math.round(waited)} ms)`);
    // The attacker's address may still log in to other accounts.
    assert.equal((await login(srv, "patient@example.com", "password123", attacker)).status, 200);

    const entries = await auditWhen(
      srv,
      "doctor-1",
      (a) =>
        a.filter((x) => x === "auth.login:failure").length === 10 &&
        a.includes("auth.login:refused") && a.includes("auth.login:success"),
    );
    const refused = entries.find((e) => e.outcome === "refused")!;
    assert.equal(refused.code, "RATE_LIMITED");
    assert.equal(refused.ip, "203.0.113.66");
    const ok = entries.find((e) => e.outcome === "success")!;
    assert.equal(ok.ip, "198.51.100.7");
    assert.equal(ok.actorRole, "doctor");
    assert.equal(typeof ok.requestId, "string");
    const failure = entries.find((e) => e.outcome === "failure")!;
    assert.equal(failure.code, "UNAUTHENTICATED");
    const text = JSON.stringify(entries);
    assert.ok(
      !text.includes("doctor@example.com") && !text.includes("guess-"),
      "no email or password",
    );
  } finally {
    await srv.close();
  }
});

Deno.test("X-Forwarded-For from an untrusted peer is ignored: forged addresses share one bucket", async () => {
  const srv = await startServer(); // no TRUSTED_PROXIES
  try {
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await login(srv, "nurse-ghost@example.com", "x", from(`203.0.113.${i}`))).status,
        401,
      );
    }
    // The audit shows the real peer, not the forged hops; an unknown email has no actor.
    const entries = await auditWhen(
      srv,
      undefined,
      (a) => a.filter((x) => x === "auth.login:failure").length === 5,
    );
    const logins = entries.filter((e) => e.action === "auth.login");
    assert.deepEqual(logins.map((e) => [e.ip, e.actorId]), Array(5).fill(["127.0.0.1", null]));
  } finally {
    await srv.close();
  }
});

Deno.test("an unknown email and a wrong password take the same time (equal work)", async () => {
  const srv = await startServer();
  try {
    const N = 10;
    for (let i = 0; i < N; i++) {
      await createUser(srv.kv, {
        id: `timing-${i}`,
        email: `timing-${i}@example.com`,
        name: "T",
        role: "patient",
        password: "right-password",
      }, new Date());
    }
    // Warm-up: the dummy hash is made on first use.
    await login(srv, "warmup-unknown@example.com", "x");
    await login(srv, "timing-0@example.com", "warm-up-wrong");
    const unknown: number[] = [];
    const wrong: number[] = [];
    const timed = async (email: string, into: number[]) => {
      const t = performance.now();
      assert.equal((await login(srv, email, "guess")).status, 401);
      into.push(performance.now() - t);
    };
    // Interleaved in alternating order, one attempt per email: no slowdown applies, and
    // load from other processes hits both kinds alike.
    for (let i = 0; i < N; i++) {
      const pair: [string, number[]][] = [
        [`nobody-${i}@example.com`, unknown],
        [`timing-${i}@example.com`, wrong],
      ];
      if (i % 2) pair.reverse();
      for (const [email, into] of pair) await timed(email, into);
    }
    const [mu, mw] = [median(unknown), median(wrong)];
    console.log(
      `median login: unknown email ${mu.toFixed(1)} ms, wrong password ${mw.toFixed(1)} ms`,
    );
    // Both do a full password hash (an unknown email skipping it would answer in ~1 ms).
    assert.ok(Math.min(mu, mw) > 5, `both hash: ${mu} / ${mw}`);
    const tolerance = Math.max(0.3 * Math.max(mu, mw), 15);
    assert.ok(
      Math.abs(mu - mw) <= tolerance,
      `medians ${mu} vs ${mw} differ by more than ${tolerance}`,
    );
  } finally {
    await srv.close();
  }
});

Deno.test("30 concurrent logins: hashing is bounded, the rest get 503 with Retry-After, RSS stays bounded", async () => {
  const srv = await startServer();
  try {
    await login(srv, "warmup@example.com", "x"); // the dummy hash and one Argon2 allocation
    const before = Deno.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 5);
    let results;
    try {
      results = await within(
        Promise.all(
          Array.from({ length: 30 }, (_, i) => login(srv, `burst-${i}@example.com`, "wrong")),
        ),
        30_000,
        "30 concurrent logins",
      );
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, Deno.memoryUsage().rss);
    const statuses = results.map((r) => r.status);
    const busy = results.filter((r) => r.status === 503);
    assert.ok(busy.length > 0, `expected some 503s: ${statuses}`);
    assert.ok(statuses.every((s) => s === 401 || s === 503), `${statuses}`);
    assert.ok(statuses.filter((s) => s === 401).length >= 2, `some were checked: ${statuses}`);
    for (const r of busy) {
      assert.equal(r.retryAfter, "1");
      assert.equal(r.body.code, "RATE_LIMITED");
    }
    const growthMiB = (peak - before) / 2 ** 20;
    console.log(
      `30 concurrent logins: ${busy.length} answered 503; RSS grew ${growthMiB.toFixed(1)} MiB`,
    );
    // Unbounded, 30 Argon2id hashes hold 30 x 19 MiB = 570 MiB; two at a time hold 38 MiB.
    assert.ok(growthMiB < 150, `RSS grew ${growthMiB} MiB`);
    // Refused attempts did not count: the server still checks passwords afterwards.
    assert.equal((await login(srv, "patient@example.com", "password123")).status, 200);
  } finally {
    await srv.close();
  }
});

Deno.test("a flood of guesses from 30 addresses cannot keep the owner out (no 429, no 503)", async () => {
  const srv = await startServer({ env: BEHIND_PROXY });
  try {
    // 30 addresses, 5 concurrent wrong passwords each, still running when the owner logs in.
    const flood = Array.from(
      { length: 30 },
      (_, i) =>
        Array.from(
          { length: 5 },
          () => login(srv, "doctor@example.com", "wrong", from(`198.18.0.${i}`)),
        ),
    )
      .flat();
    const owner = await login(srv, "doctor@example.com", "password123", from("203.0.113.201"));
    const answers = await Promise.all(flood);
    assert.equal(owner.status, 200, JSON.stringify(owner.body));
    const codes = new Map<number, number>();
    for (const a of answers) codes.set(a.status, (codes.get(a.status) ?? 0) + 1);
    // The guesses were refused or failed, never let in.
    assert.deepEqual([...codes.keys()].filter((s) => ![401, 429, 503].includes(s)), []);
  } finally {
    await srv.close();
  }
});
