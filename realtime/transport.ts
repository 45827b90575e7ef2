/**
 * @module
 * What the connection core (./session.ts) and the hub need from a transport:
 * write a text frame, say how much is still unsent, close with a code. The
 * native endpoint's transport is a WebSocket ({@linkcode attachWebSocket});
 * the socket.io endpoint's is an Engine.IO session (./engine_io.ts), over
 * HTTP long-polling or a WebSocket. The core never sees which.
 */

/** One client's link, as the connection core writes to it. */
export interface Transport {
  /** Whether frames can still be written. */
  readonly open: boolean;
  /** Bytes written but not yet sent to the client (slow-consumer checks). */
  readonly bufferedAmount: number;
  /** Writes one encoded frame (the codec's output). */
  send(frame: string): void;
  /** Ends the connection with a close code from static/protocol.js. */
  close(code: number, reason: string): void;
}

/** What drives a connection core: the transport tells it about opening, frames and closing. */
export interface TransportSink {
  opened(): void;
  /** A text frame, or the size in bytes of a binary one (binary frames are refused). */
  received(frame: string | { binaryBytes: number }): void;
  closed(code: number): void;
}

/** A WebSocket as a {@linkcode Transport}. */
export function webSocketTransport(socket: WebSocket): Transport {
  return {
    get open() {
      return socket.readyState === WebSocket.OPEN;
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send(frame) {
      socket.send(frame);
    },
    close(code, reason) {
      const state = socket.readyState;
      if (state === WebSocket.OPEN || state === WebSocket.CONNECTING) socket.close(code, reason);
    },
  };
}

/** Wires a WebSocket's events to `sink`; `onError` is told of socket errors (logging only). */
export function attachWebSocket(socket: WebSocket, sink: TransportSink, onError?: () => void) {
  socket.onopen = () => sink.opened();
  socket.onmessage = (e) => {
    if (typeof e.data === "string") return sink.received(e.data);
    const size = e.data instanceof Blob ? e.data.size : (e.data as ArrayBuffer).byteLength;
    sink.received({ binaryBytes: size });
  };
  socket.onclose = (e) => sink.closed(e.code);
  socket.onerror = () => onError?.();
}
