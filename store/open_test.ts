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

const POSIX = Deno.build.os !== "windows";

async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "openKv: a new store is private: folders 0700, file, -wal and -shm 0600",
  ignore: !POSIX,
  async fn() {
    await withTempDir(async (dir) => {
      const path = `${dir}/data/inner/realtime.kv`;
      const kv = await openKv(path);
      try {
        assert.equal(await modeOf(`${dir}/data`), 0o700);
        assert.equal(await modeOf(`${dir}/data/inner`), 0o700);
        assert.equal(await modeOf(path), 0o600);
        await kv.set(["k"], "v");
        // The write goes to the write-ahead log: it and the shared-memory file exist now.
        for (const f of [path, `${path}-wal`, `${path}-shm`]) {
          assert.equal(await modeOf(f), 0o600, f);
        }
      } finally {
        kv.close();
      }
      assert.equal(await modeOf(path), 0o600);
    });
  },
});

Deno.test({
  name: "openKv: tightens a world-readable store left by an older version, and its own folder",
  ignore: !POSIX,
  async fn() {
    await withTempDir(async (dir) => {
      const folder = `${dir}/data`;
      const path = `${folder}/realtime.kv`;
      await Deno.mkdir(folder, { mode: 0o755 });
      await Deno.chmod(folder, 0o755);
      const old = await Deno.openKv(path); // Deno's own default: 0644 under umask 022
      await old.set(["k"], "kept");
      old.close();
      await Deno.chmod(path, 0o644);
      // Leftovers of a crash, as loose as the old main file (empty ones are valid to SQLite).
      for (const s of ["-wal", "-shm"]) {
        await Deno.writeFile(path + s, new Uint8Array());
        await Deno.chmod(path + s, 0o644);
      }
      const kv = await openKv(path);
      try {
        assert.equal((await kv.get(["k"])).value, "kept");
        await kv.set(["k2"], "v");
        assert.equal(await modeOf(folder), 0o700);
        for (const f of [path, `${path}-wal`, `${path}-shm`]) {
          assert.equal(await modeOf(f), 0o600, f);
        }
      } finally {
        kv.close();
      }
    });
  },
});

Deno.test({
  name: "openKv: leaves a shared folder alone (other files in it) but still makes the files 0600",
  ignore: !POSIX,
  async fn() {
    await withTempDir(async (dir) => {
      await Deno.chmod(dir, 0o755);
      await Deno.writeTextFile(`${dir}/notes.txt`, "not ours");
      const path = `${dir}/realtime.kv`;
      const kv = await openKv(path);
      try {
        await kv.set(["k"], "v");
        assert.equal(await modeOf(dir), 0o755);
        for (const f of [path, `${path}-wal`, `${path}-shm`]) {
          assert.equal(await modeOf(f), 0o600, f);
        }
      } finally {
        kv.close();
      }
    });
  },
});

Deno.test({
  name: "openKv: never chmods the working directory, even when it holds only the store",
  ignore: !POSIX,
  async fn() {
    await withTempDir(async (dir) => {
      await Deno.chmod(dir, 0o755);
      const cwd = Deno.cwd();
      Deno.chdir(dir);
      try {
        const kv = await openKv("realtime.kv");
        try {
          await kv.set(["k"], "v");
        } finally {
          kv.close();
        }
      } finally {
        Deno.chdir(cwd);
      }
      assert.equal(await modeOf(dir), 0o755);
      assert.equal(await modeOf(`${dir}/realtime.kv`), 0o600);
    });
  },
});
