/**
 * RELIABILITY row 23: disabling an account closes all its sockets with 4403
 * within 2 s (every isolate polls the revocation log each second), and new
 * logins, connections and HTTP calls are refused. Also across processes: the
 * CLI disables a user of a server running as another process.
 */

import assert from "node:assert/strict";
import { setDisabled } from "../store/users.ts";
import { startServer, within, WsClient } from "./harness.ts";
import { baseEnv, ServerProcess } from "./process.ts";

Deno.test("a disabled account's sockets close 4403 within 2 s; it can no longer log in or connect", async () => {
  const srv = await startServer();
  try {
    const tab1 = await srv.connect("patient@example.com");
    const tab2 = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    const token = await srv.login("patient@example.com");

    await setDisabled(srv.kv, "patient-1", true, new Date());
    for (const tab of [tab1, tab2]) {
      const closed = await within(tab.closed, 2000, "4403 within 2 s");
      assert.equal(closed.code, 4403);
      assert.equal(closed.reason, "Account disabled");
    }
    await doctor.sync(); // others are untouched

    const me = await fetch(`${srv.url}/api/v1/auth/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(me.status, 401);
    await me.body?.cancel();
    await assert.rejects(() => srv.login("patient@example.com"), /401/);
    const again = await WsClient.open(srv.wsUrl);
    assert.equal((await again.auth(token)).event, "connect_error");
    await again.closed;

    await setDisabled(srv.kv, "patient-1", false, new Date());
    await srv.connect("patient@example.com");
  } finally {
    await srv.close();
  }
});

Deno.test("deno task users disable, run as another process, ends a running server's sessions", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/realtime.kv`;
  const server = await ServerProcess.start({ DEMO_DATA: "true", KV_PATH: kvPath });
  const client = await WsClient.open(server.wsUrl);
  try {
    assert.equal((await client.auth(await server.login("doctor@example.com"))).event, "connected");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-kv",
        new URL("../scripts/users.ts", import.meta.url).pathname,
        "disable",
        "doctor@example.com",
      ],
      env: { ...baseEnv(), NO_COLOR: "1", KV_PATH: kvPath },
      clearEnv: true,
      stdin: "null",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const closed = await within(client.closed, 3000, "close after the CLI disabled the user");
    assert.equal(closed.code, 4403);
  } finally {
    await client.close();
    server.kill("SIGKILL");
    await server.exited();
    await Deno.remove(dir, { recursive: true });
  }
});
