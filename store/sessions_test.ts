import assert from "node:assert/strict";
import { auditEntry, listAudit } from "./audit.ts";
import { revokeToken, tokenCurrent } from "./sessions.ts";
import { getUser, revocationHead, revocationsSince, setDisabled, type User } from "./users.ts";
import { withKv } from "./testing.ts";

const NOW = new Date("2026-01-01T00:00:00.000Z");
const nowS = NOW.getTime() / 1000;

const user: User = {
  id: "patient-1",
  email: "patient@example.com",
  name: "P",
  role: "patient",
  passwordHash: "x",
  disabled: false,
  createdAt: NOW.toISOString(),
};

const token = (over: Partial<{ jti: string; epoch: number; userId: string }> = {}) => ({
  userId: "patient-1",
  jti: "jti-1",
  epoch: 0,
  exp: nowS + 3600,
  ...over,
});

Deno.test("tokenCurrent: an enabled account's token of its epoch is current", async () => {
  await withKv(async (kv) => {
    assert.equal(await tokenCurrent(kv, user, token()), true);
    assert.equal(await tokenCurrent(kv, null, token()), false, "no such account");
    assert.equal(await tokenCurrent(kv, { ...user, disabled: true }, token()), false);
    assert.equal(await tokenCurrent(kv, user, token({ userId: "doctor-1" })), false);
    assert.equal(await tokenCurrent(kv, { ...user, sessionEpoch: 2 }, token({ epoch: 1 })), false);
    assert.equal(await tokenCurrent(kv, { ...user, sessionEpoch: 2 }, token({ epoch: 2 })), true);
  });
});

Deno.test("setDisabled: disabling raises the epoch, so re-enabling refuses older tokens", async () => {
  await withKv(async (kv) => {
    await kv.set(["users", user.id], user);
    await setDisabled(kv, user.id, true, NOW);
    await setDisabled(kv, user.id, false, NOW);
    const stored = await getUser(kv, user.id);
    assert.equal(stored?.sessionEpoch, 1);
    assert.equal(await tokenCurrent(kv, stored, token({ epoch: 0 })), false);
    assert.equal(await tokenCurrent(kv, stored, token({ epoch: 1 })), true);
    await setDisabled(kv, user.id, false, NOW); // enabling again changes nothing
    assert.equal((await getUser(kv, user.id))?.sessionEpoch, 1);
  });
});

Deno.test("revokeToken: refuses that token only, logs it for the watchers, expires after exp", async () => {
  await withKv(async (kv) => {
    const audit = auditEntry(
      { actorId: user.id, actorRole: "patient", action: "auth.logout", outcome: "success" },
      "01JGZZZZZZZZZZZZZZZZZZZZZZ",
      NOW.getTime(),
    );
    await revokeToken(kv, token(), NOW, audit);
    assert.equal(await tokenCurrent(kv, user, token()), false);
    assert.equal(await tokenCurrent(kv, user, token({ jti: "jti-2" })), true);
    assert.equal(await revocationHead(kv), 1);
    const [entry] = await revocationsSince(kv, 0);
    assert.deepEqual(entry, { seq: 1, userId: user.id, tokenId: "jti-1", at: NOW.toISOString() });
    const page = await listAudit(kv, { userId: user.id }, { limit: 10 });
    assert.deepEqual(page.entries.map((e) => e.action), ["auth.logout"]);
  });
});
