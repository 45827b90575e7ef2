import assert from "node:assert/strict";
import { demoJwtSecret } from "./settings.ts";

Deno.test("demoJwtSecret: made once, at least 32 bytes, the same for every caller", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const [a, b, c] = await Promise.all([demoJwtSecret(kv), demoJwtSecret(kv), demoJwtSecret(kv)]);
    assert.equal(a, b);
    assert.equal(b, c);
    assert.ok(new TextEncoder().encode(a).length >= 32);
    assert.equal(await demoJwtSecret(kv), a);
    assert.equal((await kv.get(["settings", "demo_jwt_secret"])).value, a);
  } finally {
    kv.close();
  }
});

Deno.test("demoJwtSecret: each store gets its own random secret", async () => {
  const kv1 = await Deno.openKv(":memory:");
  const kv2 = await Deno.openKv(":memory:");
  try {
    assert.notEqual(await demoJwtSecret(kv1), await demoJwtSecret(kv2));
  } finally {
    kv1.close();
    kv2.close();
  }
});
