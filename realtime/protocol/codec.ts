/**
 * @module
 * The seam between the connection core and a wire format. A codec turns one
 * client frame into {event, data, ack id} and writes the server's frames:
 * events, acks, the handshake replies and the error event. The session and the
 * hub know codecs only through this interface; the native JSON codec
 * (./native.ts) is the first implementation, and the hub encodes each
 * delivery once per codec in use, not once per socket.
 */

import type { Decoded } from "./native.ts";

export type { Decoded, InboundFrame } from "./native.ts";

export interface Codec {
  /** Names the wire format (logs, metrics). */
  readonly name: string;
  /** One client text frame; never throws (a bad frame is an error with the ack id if readable). */
  decode(text: string): Decoded;
  /** A server event. */
  event(event: string, data: unknown): string;
  /** The reply to the client frame with ack id `id`. */
  ack(id: number, data: Record<string, unknown>): string;
  /** Authentication succeeded. */
  connected(data: { socketId: string; userId: string; role: string }): string;
  /** Authentication failed; the seed's messages ("Authentication error: Invalid token", ...). */
  connectError(message: string): string;
  /** A failed frame that asked for no ack: `{...reply, event}`. */
  error(data: Record<string, unknown>): string;
}
