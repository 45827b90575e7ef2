/**
 * @module
 * The seam between the connection core and a wire format. A codec turns one
 * client frame into {event, data, ack id} and writes the server's frames:
 * events, acks, the handshake replies and the error event. The session and the
 * hub know codecs only through this interface; the native JSON codec
 * (./native.ts) and the socket.io codec (./socketio.ts) implement it, and the
 * hub encodes each delivery once per codec in use, not once per socket.
 */

import type { AppError } from "../../lib/errors.ts";

export interface InboundFrame {
  event: string;
  data: unknown;
  id?: number;
}

/**
 * A decoded client frame: an event to dispatch, a bad frame (answered with
 * `error`, on the ack id when one could be read, or with the codec's own
 * `reply`), or a control frame of the wire format: the client ends the
 * connection (`disconnect`) or sent something that needs no answer (`ignore`).
 */
export type Decoded =
  | { ok: true; frame: InboundFrame; control?: undefined }
  | { ok: true; control: "disconnect" | "ignore"; frame?: undefined }
  | { ok: false; error: AppError; id?: number; reply?: string };

export interface Codec {
  /** Names the wire format (logs, metrics). */
  readonly name: string;
  /**
   * The wire format has a connect handshake the client starts (socket.io's
   * CONNECT, decoded as `auth`): a token already verified from the upgrade's
   * Authorization header waits for it instead of connecting at once.
   */
  readonly clientSpeaksFirst?: boolean;
  /** One client text frame; never throws (a bad frame is an error with the ack id if readable). */
  decode(text: string): Decoded;
  /** A server event. */
  event(event: string, data: unknown): string;
  /** The reply to the client frame with ack id `id`. */
  ack(id: number, data: Record<string, unknown>): string;
  /** Authentication succeeded: the frames that say so, in order. */
  connected(data: { socketId: string; userId: string; role: string }): string[];
  /** Authentication failed; the seed's messages ("Authentication error: Invalid token", ...). */
  connectError(message: string): string;
  /** A failed frame that asked for no ack: `{...reply, event}`. */
  error(data: Record<string, unknown>): string;
  /**
   * Frames written before the server closes an authenticated connection with
   * `code`, for wire formats whose transport cannot carry a close code.
   */
  closing?(code: number, reason: string): string[];
}
