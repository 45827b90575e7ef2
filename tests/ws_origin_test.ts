/**
 * Issue 7, finding 11: the /ws Origin check compares with configured origins
 * (CORS_ORIGINS, PUBLIC_URL), never with the Host header alone. The requests
 * go over raw TCP because fetch will not send a Host of our choosing.
 */

import assert from "node:assert/strict";
import { listAudit } from "../store/audit.ts";
import { ALLOWED_ORIGIN, startServer, within } from "./harness.ts";

/** Sends an upgrade request with exactly these Host and Origin headers; returns the status. */
async function upgradeStatus(port: number, host: string, origin: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const request = [
      "GET /ws HTTP/1.1",
      `Host: ${host}`,
      `Origin: ${origin}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      "",
      "",
    ].join("\r\n");
    await conn.write(new TextEncoder().encode(request));
    const reader = conn.readable.getReader();
    let head = "";
    while (!head.includes("\r\n")) {
      const { value, done } = await within(reader.read(), 5000, "upgrade answer");
      if (done) break;
      head += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    return Number(head.split(" ")[1]);
  } finally {
    conn.close();
  }
}

Deno.test("without PUBLIC_URL: an evil Origin with a matching Host is refused; loopback same-origin works", async () => {
  const srv = await startServer();
  const port = Number(new URL(srv.url).port);
  try {
    const cases: [string, string, number][] = [
      [`evil.test:${port}`, `http://evil.test:${port}`, 403], // DNS rebinding: Host matches Origin
      [`127.0.0.1:${port}`, `http://evil.test:${port}`, 403],
      [`localhost:${port}`, `http://localhost:${port + 1}`, 403], // another local app's page
      [`evil.test:${port}`, `http://127.0.0.1:${port}`, 403], // loopback Origin, foreign Host
      [`127.0.0.1:${port}`, `http://127.0.0.1:${port}`, 101], // deno task dev, the test page
      [`localhost:${port}`, `http://localhost:${port}`, 101],
      [`[::1]:${port}`, `http://[::1]:${port}`, 101],
      [`evil.test:${port}`, ALLOWED_ORIGIN, 101], // CORS_ORIGINS, whatever the Host
    ];
    for (const [host, origin, expected] of cases) {
      assert.equal(await upgradeStatus(port, host, origin), expected, `${host} / ${origin}`);
    }
    // The refusal is audited with the client's address.
    await srv.app.audit.flush();
    const { entries } = await listAudit(srv.kv, {}, { limit: 50 });
    const refused = entries.filter((e) => e.action === "ws.upgrade" && e.code === "FORBIDDEN")
      .map((e) => [e.outcome, e.ip]);
    assert.deepEqual(refused, Array(4).fill(["refused", "127.0.0.1"]));
  } finally {
    await srv.close();
  }
});

Deno.test("with PUBLIC_URL: only it and CORS_ORIGINS may open sockets; a loopback page is refused too", async () => {
  const srv = await startServer({ env: { PUBLIC_URL: "https://chat.clinic.example" } });
  const port = Number(new URL(srv.url).port);
  try {
    const cases: [string, string, number][] = [
      ["chat.clinic.example", "https://chat.clinic.example", 101],
      ["evil.test", "https://chat.clinic.example", 101], // the Origin decides, not the Host
      [`127.0.0.1:${port}`, ALLOWED_ORIGIN, 101],
      [`127.0.0.1:${port}`, `http://127.0.0.1:${port}`, 403],
      ["chat.clinic.example", "http://chat.clinic.example", 403], // wrong scheme
      [`evil.test:${port}`, `http://evil.test:${port}`, 403],
    ];
    for (const [host, origin, expected] of cases) {
      assert.equal(await upgradeStatus(port, host, origin), expected, `${host} / ${origin}`);
    }
  } finally {
    await srv.close();
  }
});
