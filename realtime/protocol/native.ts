/**
 * @module
 * The native wire codec of GET /ws: JSON text frames.
 *
 * - client -> server: `{"event": "...", "data": {...}, "id": 7}` (`id` asks for an ack)
 * - server -> client ack: `{"ack": 7, "data": {"success": true, ...}}`
 * - server -> client event: `{"event": "...", "data": {...}}`
 *
 * Decoding never throws: a bad frame becomes an {@linkcode AppError} with the
 * ack id when one could be read, so the caller can answer it.
 */

import { AppError, invalid } from "../../lib/errors.ts";
import type { Codec, InboundFrame } from "./codec.ts";

export type { InboundFrame } from "./codec.ts";

/** What the native codec decodes a frame to (it has no control frames). */
export type Decoded =
  | { ok: true; frame: InboundFrame }
  | { ok: false; error: AppError; id?: number };

const EVENT_NAME = /^[a-z][a-zA-Z]*(:[a-z][a-zA-Z]*){0,2}$/;

/** Whether `name` is a well-formed event name ("message:send", "system:maintenance"). */
export function isEventName(name: string): boolean {
  return name.length <= 64 && EVENT_NAME.test(name);
}

function isAckId(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && !Object.is(v, -0);
}

export function decodeFrame(text: string): Decoded {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: invalid("Malformed JSON frame") };
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return { ok: false, error: invalid("A frame must be a JSON object: {event, data, id?}") };
  }
  const obj = raw as Record<string, unknown>;
  const id = isAckId(obj.id) ? obj.id : undefined;
  if (obj.id !== undefined && id === undefined) {
    return {
      ok: false,
      error: invalid("Invalid frame: id must be a non-negative safe integer", [
        { path: "id", message: "expected a non-negative safe integer" },
      ]),
    };
  }
  if (typeof obj.event !== "string" || !isEventName(obj.event)) {
    return {
      ok: false,
      id,
      error: invalid('Invalid frame: event must be an event name such as "message:send"', [
        { path: "event", message: "expected an event name" },
      ]),
    };
  }
  return { ok: true, frame: { event: obj.event, data: obj.data, id } };
}

export function encodeAck(id: number, data: Record<string, unknown>): string {
  return JSON.stringify({ ack: id, data });
}

export function encodeEvent(event: string, data: unknown): string {
  return JSON.stringify({ event, data });
}

/** The native JSON codec as a {@linkcode Codec}. */
export const nativeCodec: Codec = {
  name: "native",
  decode: decodeFrame,
  event: encodeEvent,
  ack: encodeAck,
  connected: (data) => [encodeEvent("connected", data)],
  connectError: (message) => encodeEvent("connect_error", { message }),
  error: (data) => encodeEvent("error", data),
};
