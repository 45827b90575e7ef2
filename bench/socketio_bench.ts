/**
 * What a socket.io socket costs against a native one, per frame in and per
 * delivery out (issue: at most 1.3x). Both codecs write through the same hub
 * to the same fake sockets, so the difference is the codec and the Engine.IO
 * transport. Run with `deno task bench:micro`.
 */
import { MESSAGE } from "./fixtures.ts";
import { Connection, Hub } from "../realtime/hub.ts";
import { EngineServer } from "../realtime/engine_io.ts";
import { decodeFrame, nativeCodec } from "../realtime/protocol/native.ts";
import { decodePacket, socketIoCodec } from "../realtime/protocol/socketio.ts";
import type { Codec } from "../realtime/protocol/codec.ts";
import { type Transport, webSocketTransport } from "../realtime/transport.ts";

const message = MESSAGE;
const data = { visitId: "visit-123", message: "x".repeat(100), clientMessageId: "c-1-1" };
const nativeSend = JSON.stringify({ event: "message:send", data, id: 42 });
const sioSend = `242${JSON.stringify(["message:send", data])}`;

/** Just what a transport touches on a WebSocket; counts what was written. */
class FakeSocket {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  bytes = 0;
  onopen: (() => void) | null = null;
  onmessage: unknown = null;
  onclose: unknown = null;
  send(frame: string): void {
    this.bytes += frame.length;
  }
  close(): void {
    this.readyState = WebSocket.CLOSED;
  }
}

const sink = { opened() {}, received() {}, closed() {} };
const engine = new EngineServer({
  pingIntervalMs: 60_000,
  pingTimeoutMs: 60_000,
  maxPayload: 65_600,
  upgradeTimeoutMs: 10_000,
});

/** A room of `size` sockets of one codec; socket.io ones behind a real Engine.IO session. */
function room(codec: Codec, size: number) {
  const hub = new Hub();
  const sessions: { terminate(): void }[] = [];
  for (let i = 0; i < size; i++) {
    const socket = new FakeSocket();
    let transport: Transport;
    if (codec === socketIoCodec) {
      const s = engine.create("bench");
      s.startWebSocket(socket as unknown as WebSocket, sink);
      socket.onopen!();
      sessions.push(s);
      transport = s;
    } else {
      transport = webSocketTransport(socket as unknown as WebSocket);
    }
    const conn = new Connection(`s${i}`, `u${i}`, "doctor", transport, codec);
    hub.add(conn);
    hub.join(conn, "visit:visit-123");
  }
  return { hub, end: () => sessions.forEach((s) => s.terminate()) };
}

let n = 0;
for (const [name, codec] of [["native", nativeCodec], ["socket.io", socketIoCodec]] as const) {
  Deno.bench(`deliver message:new to a room of 10: ${name}`, {
    group: "deliver",
    baseline: codec === nativeCodec,
  }, (b) => {
    const r = room(codec, 10);
    b.start();
    for (let i = 0; i < 100; i++) {
      r.hub.deliver({
        id: `d${++n}`,
        event: "message:new",
        data: message,
        to: { rooms: ["visit:visit-123"] },
      });
    }
    b.end();
    r.end();
  });
}

Deno.bench("decode a message:send: native", { group: "decode", baseline: true }, () => {
  decodeFrame(nativeSend);
});

Deno.bench("decode a message:send: socket.io", { group: "decode" }, () => {
  decodePacket(sioSend);
});

Deno.bench("encode a send's ack: native", { group: "ack", baseline: true }, () => {
  nativeCodec.ack(42, { success: true, message, duplicate: false });
});

Deno.bench("encode a send's ack: socket.io", { group: "ack" }, () => {
  socketIoCodec.ack(42, { success: true, message, duplicate: false });
});
