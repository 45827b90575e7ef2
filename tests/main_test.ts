/**
 * The real entry point as a subprocess: configuration errors stop it with a
 * message naming the variable, and a running server shuts down cleanly on
 * SIGTERM, closing sockets with 1001 so clients reconnect.
 */

import assert from "node:assert/strict";
import { startServer, within, WsClient } from "./harness.ts";
import { baseEnv, serverCommand, ServerProcess } from "./process.ts";

Deno.test("bad configuration exits 1 with a message naming each bad variable", async () => {
  const out = await serverCommand({ PORT: "99999", JWT_SECRET: "too-short" }).output();
  assert.equal(out.code, 1);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.match(stderr, /Invalid configuration/);
  assert.match(stderr, /PORT/);
  assert.match(stderr, /JWT_SECRET: must be at least 32 bytes/);
  assert.ok(!stderr.includes("too-short"), "the secret itself must not be printed");

  const missing = await serverCommand({}).output();
  assert.equal(missing.code, 1);
  assert.match(new TextDecoder().decode(missing.stderr), /JWT_SECRET: required/);
});

Deno.test("demo server starts on a local KV file, serves, and on SIGTERM closes sockets with 1001 and exits 0", async () => {
  const dir = await Deno.makeTempDir();
  const server = await ServerProcess.start({
    DEMO_DATA: "true",
    KV_PATH: `${dir}/data/realtime.kv`,
  });
  try {
    const token = await server.login("doctor@example.com");
    const client = await WsClient.open(server.wsUrl);
    assert.equal((await client.auth(token)).event, "connected");

    server.kill("SIGTERM");
    const closed = await within(client.closed, 5000, "close on shutdown");
    assert.equal(closed.code, 1001);
    assert.equal((await server.exited()).code, 0);
    await Deno.stat(`${dir}/data/realtime.kv`); // the KV file was created under KV_PATH's folder
  } finally {
    server.kill("SIGKILL");
    await server.exited();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGTERM under a flood of sends: sockets close with 1001, the process exits 0, and every acked message is stored", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/realtime.kv`;
  // High per-socket rates so the flood is not throttled before the signal lands.
  const server = await ServerProcess.start({
    DEMO_DATA: "true",
    KV_PATH: kvPath,
    MESSAGE_RATE_PER_S: "10000",
    MESSAGE_BURST: "10000",
  });
  try {
    const token = await server.login("doctor@example.com");
    const clients = await Promise.all(Array.from({ length: 8 }, async () => {
      const c = await WsClient.open(server.wsUrl);
      assert.equal((await c.auth(token)).event, "connected");
      return c;
    }));
    const acked = new Set<string>();
    const fiftyAcked = Promise.withResolvers<void>();
    let sent = 0;
    for (const [ci, c] of clients.entries()) {
      c.onEvent = (f) => {
        const data = f.data as { message?: { clientMessageId?: string } };
        if (f.ack !== undefined && f.data?.success === true && data.message?.clientMessageId) {
          acked.add(data.message.clientMessageId);
          if (acked.size === 50) fiftyAcked.resolve();
        }
        return false;
      };
      // 40 frames queued on each socket at once: the server is mid-flood when the signal lands.
      for (let i = 0; i < 40; i++) {
        c.sendRaw(JSON.stringify({
          event: "message:send",
          data: { visitId: "visit-123", message: "m", clientMessageId: `c${ci}-${i}` },
          id: ++sent,
        }));
      }
    }
    await within(fiftyAcked.promise, 10_000, "first acks");
    server.kill("SIGTERM");
    const codes = await Promise.all(clients.map((c) => within(c.closed, 5000, "close")));
    assert.deepEqual(new Set(codes.map((e) => e.code)), new Set([1001]));
    assert.equal((await within(server.exited(), 5000, "exit")).code, 0);
    // Durability: everything the server acknowledged is in the store.
    const kv = await Deno.openKv(kvPath);
    try {
      const stored = new Set<string>();
      for await (
        const e of kv.list<{ clientMessageId?: string }>({
          prefix: ["messages", "visit:visit-123"],
        })
      ) {
        if (e.value.clientMessageId) stored.add(e.value.clientMessageId);
      }
      for (const id of acked) assert.ok(stored.has(id), `acked ${id} is stored`);
      assert.ok(stored.size <= sent);
    } finally {
      kv.close();
    }
  } finally {
    server.kill("SIGKILL");
    await server.exited();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task users add creates an account the server accepts; the password never comes from argv", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/realtime.kv`;
  try {
    const script = new URL("../scripts/users.ts", import.meta.url).pathname;
    const add = (env: Record<string, string>) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--unstable-kv",
          script,
          "add",
          "--email",
          "Lee@Clinic.example",
          "--name",
          "Dr. Lee",
          "--role",
          "doctor",
          "--id",
          "doctor-lee",
        ],
        env: { ...baseEnv(), NO_COLOR: "1", KV_PATH: kvPath, ...env },
        clearEnv: true,
        stdin: "null",
      }).output();
    const short = await add({ USER_PASSWORD: "short" });
    assert.equal(short.code, 2);
    const ok = await add({ USER_PASSWORD: "a-long-enough-password" });
    assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
    const again = await add({ USER_PASSWORD: "a-long-enough-password" });
    assert.equal(again.code, 2);
    assert.match(new TextDecoder().decode(again.stderr), /already exists/);

    const srv = await startServer({ kvPath, seed: false });
    try {
      const token = await srv.login("lee@clinic.example", "a-long-enough-password");
      assert.equal(typeof token, "string");
    } finally {
      await srv.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
