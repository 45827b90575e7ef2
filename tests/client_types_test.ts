/**
 * static/client.js is typed by its client.d.ts (through @ts-self-types): this
 * file only compiles when the library's API has the types it documents
 * (`deno task check` checks it), and the test checks the served .d.ts.
 */

import assert from "node:assert/strict";
import {
  ClientError,
  connect,
  type RealtimeClient,
  type ServerEventName,
} from "../static/client.js";
import { SERVER_EVENTS } from "../static/protocol.js";
import { startServer } from "./harness.ts";

// Compile-time: the typed surface.
function typedUse(client: RealtimeClient): Promise<unknown> {
  const off: () => void = client.on("message:new", () => {});
  off();
  // @ts-expect-error: emit takes an event name first
  client.emit(42);
  const sent: boolean = client.emit("typing:start", { roomId: "visit:visit-123" });
  void sent;
  return client.emitWithAck("room:list").catch((e: ClientError) => e.code);
}
void typedUse;

Deno.test("client.d.ts lists every server event, and is served beside /client.js", async () => {
  const names: ServerEventName[] = [...SERVER_EVENTS];
  const dts = await Deno.readTextFile(new URL("../static/client.d.ts", import.meta.url));
  for (const name of names) assert.match(dts, new RegExp(`"${name}"`), name);
  const srv = await startServer();
  try {
    const res = await fetch(`${srv.url}/client.d.ts`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /export class RealtimeClient/);
    assert.equal(typeof connect, "function");
  } finally {
    await srv.close();
  }
});
