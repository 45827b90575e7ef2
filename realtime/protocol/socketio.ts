/**
 * @module
 * The socket.io v5 codec of /socket.io/, written against the socket.io
 * protocol document (no socket.io package). Its frames are Engine.IO v4
 * message packets (type `4`) carrying one socket.io packet, so the Engine.IO
 * session (../engine_io.ts) writes them as they are and the hub encodes a
 * delivery once for every socket.io socket:
 *
 * - `40{"token":"..."}` CONNECT with the `auth` payload -> the core's `auth` event
 * - `40{"sid":"..."}` then `42["connected",{...}]` when authentication succeeds
 * - `44{"message":"Authentication error: Invalid token"}` CONNECT_ERROR
 * - `42["event",data]` EVENT, `4212["event",data]` EVENT asking for ack 12
 * - `4312[reply]` ACK, `41` DISCONNECT
 *
 * Only the default namespace exists: a CONNECT to another one gets a
 * CONNECT_ERROR for that namespace, and its other packets are ignored.
 * Binary attachments (BINARY_EVENT, BINARY_ACK) are refused with
 * INVALID_PAYLOAD: every payload of the protocol is JSON.
 */

import { invalid } from "../../lib/errors.ts";
import { CLOSE, shouldReconnect } from "../../static/protocol.js";
import type { Codec, Decoded } from "./codec.ts";
import { isEventName } from "./native.ts";

/** socket.io packet types. */
const CONNECT = 0;
const DISCONNECT = 1;
const EVENT = 2;
const ACK = 3;
const BINARY_EVENT = 5;
const BINARY_ACK = 6;

/** Ack ids socket.io-client sends are counters; beyond this they are not ours to answer. */
const MAX_ACK_DIGITS = 15;

const IGNORE: Decoded = { ok: true, control: "ignore" };

/** The error code a close notice names, for clients that cannot see the close code. */
function closeErrorCode(code: number, reason: string): string {
  switch (code) {
    case CLOSE.auth:
    case CLOSE.authTimeout:
      return reason.endsWith("Token expired") ? "TOKEN_EXPIRED" : "UNAUTHENTICATED";
    case CLOSE.revoked:
      return "FORBIDDEN";
    case CLOSE.rateLimited:
      return "RATE_LIMITED";
    default:
      return "INVALID_PAYLOAD";
  }
}

/**
 * Decodes one socket.io packet (the Engine.IO message payload, without its
 * leading `4`). Never throws.
 */
export function decodePacket(text: string): Decoded {
  const type = text.charCodeAt(0) - 48;
  if (!(type >= 0 && type <= 6)) {
    return { ok: false, error: invalid("Malformed socket.io packet: unknown packet type") };
  }
  let i = 1;
  if (type === BINARY_EVENT || type === BINARY_ACK) {
    // <attachments>-[/nsp,][id][data]
    while (i < text.length && text[i] >= "0" && text[i] <= "9") i++;
    if (text[i] === "-") i++;
  }
  let nsp = "/";
  if (text[i] === "/") {
    const comma = text.indexOf(",", i);
    const end = comma === -1 ? text.length : comma;
    nsp = text.slice(i, end);
    i = comma === -1 ? end : end + 1;
  }
  const idStart = i;
  while (i < text.length && text[i] >= "0" && text[i] <= "9") i++;
  let id: number | undefined;
  if (i > idStart) {
    if (i - idStart > MAX_ACK_DIGITS) {
      return { ok: false, error: invalid("Malformed socket.io packet: ack id too long") };
    }
    id = Number(text.slice(idStart, i));
  }
  if (nsp !== "/") {
    // Nothing lives there: say so to a CONNECT, drop the rest (the client was told).
    if (type !== CONNECT) return IGNORE;
    return {
      ok: false,
      error: invalid(`Invalid namespace ${JSON.stringify(nsp.slice(0, 64))}: only "/" exists`),
      reply: `44${nsp},${JSON.stringify({ message: "Invalid namespace" })}`,
    };
  }
  if (type === BINARY_EVENT || type === BINARY_ACK) {
    return {
      ok: false,
      id: type === BINARY_EVENT ? id : undefined,
      error: invalid("Binary attachments are not supported; send JSON data"),
    };
  }
  if (type === DISCONNECT) return { ok: true, control: "disconnect" };
  // A client acking a server event: the server never asks for one.
  if (type === ACK) return IGNORE;
  let payload: unknown;
  if (i < text.length) {
    try {
      payload = JSON.parse(text.slice(i));
    } catch {
      return { ok: false, id, error: invalid("Malformed JSON in socket.io packet") };
    }
  }
  if (type === CONNECT) {
    if (
      payload !== undefined &&
      (payload === null || typeof payload !== "object" || Array.isArray(payload))
    ) {
      return { ok: false, error: invalid("The CONNECT payload (auth) must be an object") };
    }
    return { ok: true, frame: { event: "auth", data: payload, id: undefined } };
  }
  if (type !== EVENT) {
    return { ok: false, error: invalid("Unexpected socket.io packet type from a client") };
  }
  if (!Array.isArray(payload) || typeof payload[0] !== "string") {
    return {
      ok: false,
      id,
      error: invalid('An EVENT must be ["event name", data]', [
        { path: "event", message: "expected an event name" },
      ]),
    };
  }
  if (!isEventName(payload[0])) {
    return {
      ok: false,
      id,
      error: invalid('Invalid event name: expected an event name such as "message:send"', [
        { path: "event", message: "expected an event name" },
      ]),
    };
  }
  if (payload.length > 2) {
    return {
      ok: false,
      id,
      error: invalid("An event takes one data argument (an object), besides the callback", [
        { path: "data", message: "expected one argument" },
      ]),
    };
  }
  return { ok: true, frame: { event: payload[0], data: payload[1], id } };
}

export function encodeSioEvent(event: string, data: unknown): string {
  return `42${JSON.stringify([event, data])}`;
}

/** The socket.io codec as a {@linkcode Codec}. */
export const socketIoCodec: Codec = {
  name: "socketio",
  clientSpeaksFirst: true,
  decode: decodePacket,
  event: encodeSioEvent,
  ack: (id, data) => `43${id}${JSON.stringify([data])}`,
  // The CONNECT reply's sid is the session's id, so socket.id equals `connected`'s socketId.
  connected: (
    data,
  ) => [`40${JSON.stringify({ sid: data.socketId })}`, encodeSioEvent("connected", data)],
  connectError: (message) => `44${JSON.stringify({ message })}`,
  error: (data) => encodeSioEvent("error", data),
  // An Engine.IO close carries no code: say why in an `error` event, and end with a DISCONNECT
  // when reconnecting cannot help (socket.io-client then stays disconnected: "io server
  // disconnect"). Otherwise the transport just closes and the client reconnects with its backoff.
  // Its closes for abuse (1008, 1009) name INVALID_PAYLOAD: the client sent what made them.
  closing(code, reason) {
    // A shutdown or a slow-consumer close is not the client's doing: it just reconnects.
    if (code === CLOSE.goingAway || code === CLOSE.slowConsumer) return [];
    const notice = encodeSioEvent("error", {
      success: false,
      code: closeErrorCode(code, reason),
      error: reason,
      closeCode: code,
    });
    return shouldReconnect(code) ? [notice] : [notice, "41"];
  },
};
