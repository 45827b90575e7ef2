import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { FakeClock } from "./clock.ts";
import { createTokenService, MAX_TTL_SECONDS, type TokenService } from "./tokens.ts";

const SECRET = "test-secret-0123456789abcdef-0123456789";
const ISSUER = "telehealth-realtime";
const AUDIENCE = "telehealth-clients";
const TTL = 900;

function setup(): { clock: FakeClock; tokens: TokenService; nowS: () => number } {
  const clock = new FakeClock();
  const tokens = createTokenService({
    secret: SECRET,
    issuer: ISSUER,
    audience: AUDIENCE,
    ttlSeconds: TTL,
    clock,
  });
  return { clock, tokens, nowS: () => Math.floor(clock.now() / 1000) };
}

const b64url = (text: string) =>
  btoa(text).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");

/** The claims a valid token carries at `nowS`; variants override or drop some. */
function claims(nowS: number): Record<string, unknown> {
  return {
    sub: "patient-1",
    role: "patient",
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowS,
    exp: nowS + TTL,
    jti: "token-1",
  };
}

/** Signs arbitrary claims with jose, so each test changes exactly one thing. */
async function forge(
  payload: Record<string, unknown>,
  opts: { alg?: string; secret?: string } = {},
): Promise<string> {
  return await new SignJWT(payload)
    .setProtectedHeader({ alg: opts.alg ?? "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

const INVALID = { ok: false, reason: "invalid" } as const;

Deno.test("tokens: a signed token verifies to its user", async () => {
  const { tokens, nowS } = setup();
  const { token, expiresAt } = await tokens.sign({ id: "doctor-1", role: "doctor" });
  assert.equal(expiresAt.getTime(), (nowS() + TTL) * 1000);
  const verified = await tokens.verify(token);
  assert.ok(verified.ok);
  const { jti, ...rest } = verified.user;
  assert.deepEqual(rest, {
    userId: "doctor-1",
    role: "doctor",
    exp: nowS() + TTL,
    iat: nowS(),
    epoch: 0,
  });
  assert.match(jti, /^[0-9a-f-]{36}$/);
  // The same claims forged by hand with the right secret also verify: the check is the claims.
  assert.equal((await tokens.verify(await forge(claims(nowS())))).ok, true);
});

Deno.test("tokens: each signed token is unique (jti)", async () => {
  const { tokens } = setup();
  const a = await tokens.sign({ id: "patient-1", role: "patient" });
  const b = await tokens.sign({ id: "patient-1", role: "patient" });
  assert.notEqual(a.token, b.token);
});

Deno.test("tokens: an expired token says expired; 5 s of clock skew is tolerated", async () => {
  const { tokens, clock } = setup();
  const { token } = await tokens.sign({ id: "patient-1", role: "patient" });
  clock.advance((TTL + 4) * 1000);
  assert.equal((await tokens.verify(token)).ok, true);
  clock.advance(2000);
  assert.deepEqual(await tokens.verify(token), { ok: false, reason: "expired" });
  clock.advance(86_400_000);
  assert.deepEqual(await tokens.verify(token), { ok: false, reason: "expired" });
});

Deno.test("tokens: a tampered signature or payload is invalid", async () => {
  const { tokens } = setup();
  const { token } = await tokens.sign({ id: "patient-1", role: "patient" });
  const [h, p, s] = token.split(".");
  const flipped = (s[0] === "A" ? "B" : "A") + s.slice(1);
  assert.deepEqual(await tokens.verify(`${h}.${p}.${flipped}`), INVALID);
  const payload = JSON.parse(atob(p.replaceAll("-", "+").replaceAll("_", "/")));
  const promoted = b64url(JSON.stringify({ ...payload, role: "admin" }));
  assert.deepEqual(await tokens.verify(`${h}.${promoted}.${s}`), INVALID);
  assert.deepEqual(await tokens.verify(`${h}.${p}.`), INVALID);
});

Deno.test("tokens: alg none is invalid", async () => {
  const { tokens, nowS } = setup();
  const header = b64url(JSON.stringify({ alg: "none", typ: "JWT" }));
  const body = b64url(JSON.stringify(claims(nowS())));
  assert.deepEqual(await tokens.verify(`${header}.${body}.`), INVALID);
  assert.deepEqual(await tokens.verify(`${header}.${body}`), INVALID);
});

Deno.test("tokens: other algorithms and other secrets are invalid", async () => {
  const { tokens, nowS } = setup();
  for (const alg of ["HS384", "HS512"]) {
    assert.deepEqual(await tokens.verify(await forge(claims(nowS()), { alg })), INVALID, alg);
  }
  const otherSecret = await forge(claims(nowS()), {
    secret: "another-secret-0123456789abcdef-xyz",
  });
  assert.deepEqual(await tokens.verify(otherSecret), INVALID);
});

Deno.test("tokens: wrong issuer or audience is invalid", async () => {
  const { tokens, nowS } = setup();
  assert.deepEqual(
    await tokens.verify(await forge({ ...claims(nowS()), iss: "someone-else" })),
    INVALID,
  );
  assert.deepEqual(
    await tokens.verify(await forge({ ...claims(nowS()), aud: "another-service" })),
    INVALID,
  );
});

Deno.test("tokens: nbf in the future is invalid", async () => {
  const { tokens, nowS } = setup();
  assert.deepEqual(
    await tokens.verify(await forge({ ...claims(nowS()), nbf: nowS() + 60 })),
    INVALID,
  );
  assert.equal((await tokens.verify(await forge({ ...claims(nowS()), nbf: nowS() }))).ok, true);
});

Deno.test("tokens: missing or malformed required claims are invalid", async () => {
  const { tokens, nowS } = setup();
  const without = (name: string) => {
    const c = claims(nowS());
    delete c[name];
    return c;
  };
  for (const name of ["exp", "sub", "iat", "jti", "role", "iss", "aud"]) {
    assert.deepEqual(await tokens.verify(await forge(without(name))), INVALID, `without ${name}`);
  }
  const variants: Record<string, unknown>[] = [
    { role: "superuser" },
    { sub: "" },
    { sub: "x".repeat(65) },
    { sub: 42 },
    { exp: nowS() + 60.5 },
    { jti: "" },
    { jti: 7 },
    { epoch: -1 },
    { epoch: "1" },
  ];
  for (const v of variants) {
    const token = await forge({ ...claims(nowS()), ...v });
    assert.deepEqual(await tokens.verify(token), INVALID, JSON.stringify(v));
  }
});

Deno.test("tokens: garbage and oversized tokens are invalid", async () => {
  const { tokens, nowS } = setup();
  for (const junk of ["", "x", "a.b.c", "...", "Bearer abc", "é.é.é"]) {
    assert.deepEqual(await tokens.verify(junk), INVALID, junk);
  }
  // Correctly signed but longer than 4096 characters.
  const big = await forge({ ...claims(nowS()), pad: "x".repeat(4000) });
  assert.ok(big.length > 4096);
  assert.deepEqual(await tokens.verify(big), INVALID);
});

Deno.test("tokens: the session epoch is signed into the token; absent means 0", async () => {
  const { tokens, nowS } = setup();
  const { token } = await tokens.sign({ id: "patient-1", role: "patient", epoch: 3 });
  const verified = await tokens.verify(token);
  assert.equal(verified.ok && verified.user.epoch, 3);
  const legacy = await tokens.verify(await forge(claims(nowS())));
  assert.equal(legacy.ok && legacy.user.epoch, 0);
});

Deno.test("tokens: an exp beyond the longest allowed TTL (30 days) is invalid", async () => {
  const { tokens, nowS } = setup();
  const tenYears = 10 * 365 * 86400;
  const cases: Record<string, unknown>[] = [
    { exp: nowS() + tenYears },
    { exp: nowS() + MAX_TTL_SECONDS + 6 }, // past 30 days and the 5 s of slack
    { iat: nowS() - tenYears, exp: nowS() + tenYears }, // old iat does not excuse a far exp
    { iat: nowS() - MAX_TTL_SECONDS, exp: nowS() + 60 }, // claims 30 days and a minute of life
  ];
  for (const c of cases) {
    assert.deepEqual(
      await tokens.verify(await forge({ ...claims(nowS()), ...c })),
      INVALID,
      JSON.stringify(c),
    );
  }
  // Longer than this server's JWT_TTL but within 30 days (another issuer, a load tool): accepted.
  assert.equal(
    (await tokens.verify(await forge({ ...claims(nowS()), exp: nowS() + 7 * 86400 }))).ok,
    true,
  );
});

Deno.test("tokens: a longest-TTL service still refuses exp past now plus 30 days", async () => {
  const clock = new FakeClock();
  const tokens = createTokenService({
    secret: SECRET,
    issuer: ISSUER,
    audience: AUDIENCE,
    ttlSeconds: MAX_TTL_SECONDS,
    clock,
  });
  const nowS = Math.floor(clock.now() / 1000);
  // iat 50 s ahead (tolerated skew) with the full TTL on top passes exp - iat but not now + 30 d.
  const ahead = { ...claims(nowS), iat: nowS + 50, exp: nowS + 50 + MAX_TTL_SECONDS };
  assert.deepEqual(await tokens.verify(await forge(ahead)), INVALID);
  const signed = await tokens.sign({ id: "service-1", role: "service" });
  assert.equal((await tokens.verify(signed.token)).ok, true);
});

Deno.test("tokens: an iat more than 60 s in the future is invalid", async () => {
  const { tokens, nowS } = setup();
  const at = (skew: number) =>
    forge({ ...claims(nowS()), iat: nowS() + skew, exp: nowS() + skew + 60 });
  assert.equal((await tokens.verify(await at(60))).ok, true);
  assert.deepEqual(await tokens.verify(await at(61)), INVALID);
  assert.deepEqual(await tokens.verify(await at(86_400)), INVALID);
});
