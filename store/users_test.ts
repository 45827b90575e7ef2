import assert from "node:assert/strict";
import { AppError } from "../lib/errors.ts";
import {
  authenticate,
  createUser,
  getUser,
  getUserByEmail,
  isStaff,
  type NewUser,
  normalizeEmail,
  toPublic,
  type User,
} from "./users.ts";
import { withKv } from "./testing.ts";

const NOW = new Date("2026-01-01T00:00:00.000Z");

const alice: NewUser = {
  id: "alice",
  email: "  Alice@Example.COM ",
  name: "Alice A",
  role: "patient",
  password: "correct horse",
};

const isConflict = (err: unknown) => err instanceof AppError && err.code === "CONFLICT";

Deno.test("createUser: stores a normalized user and returns it without the hash", async () => {
  await withKv(async (kv) => {
    const user = await createUser(kv, alice, NOW);
    assert.deepEqual(user, {
      id: "alice",
      email: "alice@example.com",
      name: "Alice A",
      role: "patient",
      disabled: false,
      createdAt: "2026-01-01T00:00:00.000Z",
    });
    assert.equal("passwordHash" in user, false);

    const stored = await getUser(kv, "alice");
    assert.ok(stored);
    assert.match(stored.passwordHash, /^(argon2id|pbkdf2-sha256)\$/);
    assert.equal(stored.passwordHash.includes("correct horse"), false);
    assert.equal((await getUserByEmail(kv, "ALICE@example.com"))?.id, "alice");
    assert.equal(await getUserByEmail(kv, "bob@example.com"), null);
    assert.equal(await getUser(kv, "bob"), null);
  });
});

Deno.test("createUser: a taken email is CONFLICT, whatever its case", async () => {
  await withKv(async (kv) => {
    await createUser(kv, alice, NOW);
    await assert.rejects(
      createUser(kv, { ...alice, id: "alice-2", email: "ALICE@example.com" }, NOW),
      isConflict,
    );
    // Atomic: the loser left nothing behind.
    assert.equal(await getUser(kv, "alice-2"), null);
    assert.equal((await getUserByEmail(kv, "alice@example.com"))?.id, "alice");
  });
});

Deno.test("createUser: a taken id is CONFLICT and the first user is unchanged", async () => {
  await withKv(async (kv) => {
    await createUser(kv, alice, NOW);
    await assert.rejects(
      createUser(kv, { ...alice, email: "other@example.com", name: "Impostor" }, NOW),
      isConflict,
    );
    assert.equal((await getUser(kv, "alice"))?.name, "Alice A");
    assert.equal(await getUserByEmail(kv, "other@example.com"), null);
  });
});

Deno.test("createUser: refuses ids that could break room ids or keys", async () => {
  await withKv(async (kv) => {
    for (const id of ["", "a:b", "../x", "-lead", "a".repeat(65), "a\0b"]) {
      await assert.rejects(
        createUser(kv, { ...alice, id }, NOW),
        TypeError,
        `id ${JSON.stringify(id)}`,
      );
    }
    assert.equal(await getUserByEmail(kv, alice.email), null);
  });
});

Deno.test("authenticate: right password, wrong password, unknown email", async () => {
  await withKv(async (kv) => {
    await createUser(kv, alice, NOW);
    const ok = await authenticate(kv, "ALICE@example.com ", "correct horse");
    assert.equal(ok?.id, "alice");
    assert.equal(ok && "passwordHash" in ok, false);
    assert.equal(await authenticate(kv, "alice@example.com", "wrong horse"), null);
    assert.equal(await authenticate(kv, "alice@example.com", ""), null);
    assert.equal(await authenticate(kv, "nobody@example.com", "correct horse"), null);
  });
});

Deno.test("authenticate: a disabled user is refused even with the right password", async () => {
  await withKv(async (kv) => {
    await createUser(kv, alice, NOW);
    const stored = (await getUser(kv, "alice"))!;
    await kv.set(["users", "alice"], { ...stored, disabled: true } satisfies User);
    assert.equal(await authenticate(kv, "alice@example.com", "correct horse"), null);
  });
});

Deno.test("isStaff, toPublic and normalizeEmail", () => {
  assert.equal(isStaff("doctor"), true);
  assert.equal(isStaff("nurse"), true);
  assert.equal(isStaff("admin"), true);
  assert.equal(isStaff("patient"), false);
  assert.equal(isStaff("service"), false);
  assert.equal(normalizeEmail("  MiXeD@Example.Org\t"), "mixed@example.org");
  const user: User = {
    id: "u",
    email: "u@example.com",
    name: "U",
    role: "nurse",
    passwordHash: "secret-hash",
    disabled: false,
    createdAt: NOW.toISOString(),
  };
  assert.deepEqual(toPublic(user), {
    id: "u",
    email: "u@example.com",
    name: "U",
    role: "nurse",
    disabled: false,
    createdAt: NOW.toISOString(),
  });
});
