import assert from "node:assert/strict";
import { openKv } from "./open.ts";

Deno.test("openKv: :memory: works without touching the file system", async () => {
  const kv = await openKv(":memory:");
  try {
    await kv.set(["k"], 1);
    assert.equal((await kv.get(["k"])).value, 1);
  } finally {
    kv.close();
  }
});

Deno.test("openKv: creates the folder of a file path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nested/deeper/realtime.kv`;
    const kv = await openKv(path);
    try {
      await kv.set(["k"], "v");
    } finally {
      kv.close();
    }
    assert.ok((await Deno.stat(path)).isFile);
    const again = await openKv(path);
    try {
      assert.equal((await again.get(["k"])).value, "v");
    } finally {
      again.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
