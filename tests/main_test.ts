/**
 * The real entry point as a subprocess: configuration errors stop it with a
 * message naming the variable, and a running server shuts down cleanly on
 * SIGTERM, closing sockets with 1001 so clients reconnect.
 */

import assert from "node:assert/strict";
import { startServer, within, WsClient } from "./harness.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Only what Deno needs to find its cache and the npm registry; no ambient app config. */
function baseEnv(): Record<string, string> {
  const keep = [
    "HOME",
    "PATH",
    "DENO_DIR",
    "XDG_CACHE_HOME",
    "NPM_CONFIG_REGISTRY",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
  ];
  return Object.fromEntries(keep.flatMap((k) => {
    const v = Deno.env.get(k);
    return v === undefined ? [] : [[k, v]];
  }));
}

function server(env: Record<string, string>) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--unstable-kv",
      MAIN,
    ],
    env: { ...baseEnv(), NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("bad configuration exits 1 with a message naming each bad variable", async () => {
  const out = await server({ PORT: "99999", JWT_SECRET: "too-short" }).output();
  assert.equal(out.code, 1);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.match(stderr, /Invalid configuration/);
  assert.match(stderr, /PORT/);
  assert.match(stderr, /JWT_SECRET: must be at least 32 bytes/);
  assert.ok(!stderr.includes("too-short"), "the secret itself must not be printed");

  const missing = await server({}).output();
  assert.equal(missing.code, 1);
  assert.match(new TextDecoder().decode(missing.stderr), /JWT_SECRET: required/);
});

Deno.test("demo server starts on a local KV file, serves, and on SIGTERM closes sockets with 1001 and exits 0", async () => {
  const dir = await Deno.makeTempDir();
  const child = server({
    DEMO_DATA: "true",
    PORT: "0",
    HOST: "127.0.0.1",
    KV_PATH: `${dir}/data/realtime.kv`,
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let url = "";
    let buffered = "";
    await within(
      (async () => {
        while (!url) {
          const { value, done } = await lines.read();
          if (done) throw new Error(`server exited early: ${buffered}`);
          buffered += value;
          url = /"url":"(http:\/\/[^"]+)"/.exec(buffered)?.[1] ?? "";
        }
      })(),
      15_000,
      "server.listening",
    );
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "doctor@example.com", password: "password123" }),
    });
    const { token } = await login.json();
    const client = await WsClient.open(`${url.replace("http", "ws")}/ws`);
    assert.equal((await client.auth(token)).event, "connected");

    child.kill("SIGTERM");
    const closed = await within(client.closed, 5000, "close on shutdown");
    assert.equal(closed.code, 1001);
    const status = await within(child.status, 10_000, "exit");
    assert.equal(status.code, 0);
    await child.stdout.cancel();
    await lines.cancel();
    await Deno.stat(`${dir}/data/realtime.kv`); // the KV file was created under KV_PATH's folder
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
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
