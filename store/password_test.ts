import assert from "node:assert/strict";
import { dummyHash, hasArgon2id, hashPassword, verifyPassword } from "./password.ts";

const enc = new TextEncoder();
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** A PBKDF2-SHA256 hash in the stored format, built independently of password.ts. */
async function pbkdf2Hash(password: string, iterations = 600_000): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    256,
  );
  return `pbkdf2-sha256$${iterations}$${b64(salt)}$${b64(new Uint8Array(bits))}`;
}

/** An Argon2id hash with cheap parameters, built by hand: old hashes keep verifying. */
async function cheapArgon2Hash(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(password),
    "Argon2id" as unknown as AlgorithmIdentifier,
    false,
    ["deriveBits"],
  );
  const params = { name: "Argon2id", nonce: salt, memory: 64, passes: 1, parallelism: 1 };
  const bits = await crypto.subtle.deriveBits(params as unknown as AlgorithmIdentifier, key, 256);
  return `argon2id$m=64,t=1,p=1$${b64(salt)}$${b64(new Uint8Array(bits))}`;
}

Deno.test("hashPassword: Argon2id with OWASP parameters on Deno 2.9, round trips", async () => {
  assert.equal(await hasArgon2id(), true);
  const hash = await hashPassword("s3cret pässword");
  assert.match(hash, /^argon2id\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
  assert.equal(await verifyPassword("s3cret pässword", hash), true);
  assert.equal(await verifyPassword("s3cret password", hash), false);
  assert.equal(await verifyPassword("", hash), false);
});

Deno.test("hashPassword: the same password gets a different salt and hash each time", async () => {
  const [a, b] = await Promise.all([hashPassword("same"), hashPassword("same")]);
  assert.notEqual(a, b);
  assert.notEqual(a.split("$")[2], b.split("$")[2]);
  assert.equal(await verifyPassword("same", a), true);
  assert.equal(await verifyPassword("same", b), true);
});

Deno.test("verifyPassword: a PBKDF2-SHA256 hash made elsewhere verifies", async () => {
  const hash = await pbkdf2Hash("legacy password");
  assert.equal(await verifyPassword("legacy password", hash), true);
  assert.equal(await verifyPassword("legacy passwore", hash), false);
});

Deno.test("verifyPassword: the parameters come from the hash (cheap Argon2id verifies)", async () => {
  const hash = await cheapArgon2Hash("old password");
  assert.equal(await verifyPassword("old password", hash), true);
  assert.equal(await verifyPassword("new password", hash), false);
});

Deno.test("verifyPassword: malformed hashes are false, never a throw", async () => {
  const good = await cheapArgon2Hash("pw");
  const [, params, salt, digest] = good.split("$");
  const malformed = [
    "",
    "pw",
    "$",
    "$$$",
    `argon2id$${params}$${salt}`,
    `argon2id$${params}$${salt}$${digest}$extra`,
    `argon2id$m=x,t=1,p=1$${salt}$${digest}`,
    `argon2id$m=64,t=1$${salt}$${digest}`,
    `argon2id$m=0,t=0,p=0$${salt}$${digest}`,
    `argon2id$${params}$!!not base64!!$${digest}`,
    `argon2id$${params}$${salt}$!!not base64!!`,
    `argon2id$${params}$${salt}$`,
    `argon2id$${params}$${salt}$${digest.slice(0, 20)}`,
    `argon2i$${params}$${salt}$${digest}`,
    `ARGON2ID$${params}$${salt}$${digest}`,
    `pbkdf2-sha256$abc$${salt}$${digest}`,
    `pbkdf2-sha256$0$${salt}$${digest}`,
    `pbkdf2-sha256$-1$${salt}$${digest}`,
    `pbkdf2-sha256$1000$${salt}`,
    `pbkdf2-sha512$1000$${salt}$${digest}`,
    "$2b$10$abcdefghijklmnopqrstuuCDEFGHIJKLMNOPQRSTUVWXYZ01234",
  ];
  for (const hash of malformed) {
    assert.equal(await verifyPassword("pw", hash), false, `hash ${JSON.stringify(hash)}`);
  }
  assert.equal(await verifyPassword("pw", good), true);
});

Deno.test("dummyHash: one real hash, made once, that matches no likely password", async () => {
  const a = await dummyHash();
  const b = await dummyHash();
  assert.equal(a, b);
  assert.match(a, /^(argon2id|pbkdf2-sha256)\$/);
  assert.equal(await verifyPassword("", a), false);
  assert.equal(await verifyPassword("password123", a), false);
});
