/**
 * Micro-benchmarks of the wire codec (realtime/protocol/native.ts): what every
 * frame in and out costs. Run with `deno task bench:micro`.
 */
import { MESSAGE } from "./fixtures.ts";
import { decodeFrame, encodeAck, encodeEvent } from "../realtime/protocol/native.ts";

const send = JSON.stringify({
  event: "message:send",
  data: { visitId: "visit-123", message: "x".repeat(100), clientMessageId: "c-1-1" },
  id: 42,
});
const message = MESSAGE;

Deno.bench("decodeFrame: a 100-byte message:send", { group: "codec", baseline: true }, () => {
  decodeFrame(send);
});

Deno.bench("decodeFrame: malformed JSON", { group: "codec" }, () => {
  decodeFrame('{"event":"message:send","data":');
});

Deno.bench("encodeEvent: message:new", { group: "codec" }, () => {
  encodeEvent("message:new", message);
});

Deno.bench("encodeAck: a send's ack", { group: "codec" }, () => {
  encodeAck(42, { success: true, message, duplicate: false });
});
