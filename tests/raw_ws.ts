/**
 * @module
 * A WebSocket client at the frame level, over a raw TCP connection, for the
 * inputs a real client library refuses to send: invalid UTF-8, fragmented
 * messages, protocol violations.
 */

import { within } from "./harness.ts";

export class RawWs {
  #conn: Deno.TcpConn;
  #reader: ReadableStreamDefaultReader<Uint8Array>;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#reader = conn.readable.getReader();
  }

  /** Connects and completes the HTTP upgrade with an Authorization header. */
  static async open(port: number, token: string): Promise<RawWs> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const raw = new RawWs(conn);
    const request = [
      "GET /ws HTTP/1.1",
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      `Authorization: Bearer ${token}`,
      "",
      "",
    ].join("\r\n");
    await raw.#writeAll(new TextEncoder().encode(request));
    const head = new TextDecoder().decode(await raw.read());
    if (!head.startsWith("HTTP/1.1 101")) {
      throw new Error(`upgrade refused: ${head.split("\r\n")[0]}`);
    }
    return raw;
  }

  /** Reads whatever arrives next (empty when the server closed the connection). */
  async read(): Promise<Uint8Array> {
    const { value, done } = await within(this.#reader.read(), 5000, "raw socket data");
    return done ? new Uint8Array() : value;
  }

  /** Sends one masked frame. `fin` false starts or continues a fragmented message. */
  async frame(opcode: number, payload: Uint8Array, fin = true): Promise<void> {
    const len = payload.length;
    const header = len < 126 ? [len | 0x80] : len < 65536 ? [126 | 0x80, len >> 8, len & 255] : [
      127 | 0x80,
      0,
      0,
      0,
      0,
      (len >>> 24) & 255,
      (len >> 16) & 255,
      (len >> 8) & 255,
      len & 255,
    ];
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const masked = payload.map((b, i) => b ^ mask[i & 3]);
    const bytes = new Uint8Array([(fin ? 0x80 : 0) | opcode, ...header, ...mask]);
    await this.#writeAll(bytes);
    await this.#writeAll(masked);
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
  }

  /**
   * Reads server frames (unmasked) until a close frame (returns its code) or
   * the end of the TCP connection (returns undefined).
   */
  async untilClosed(): Promise<number | undefined> {
    let buf = new Uint8Array();
    while (true) {
      let chunk: Uint8Array;
      try {
        chunk = await this.read();
      } catch (err) {
        if (err instanceof Error && err.message.startsWith("timed out")) throw err;
        return undefined; // reset by peer
      }
      if (chunk.length === 0) return undefined;
      buf = new Uint8Array([...buf, ...chunk]);
      while (buf.length >= 2) {
        let len = buf[1] & 127;
        let offset = 2;
        if (len === 126) [len, offset] = [(buf[2] << 8) | buf[3], 4];
        else if (len === 127) [len, offset] = [new DataView(buf.buffer).getUint32(6), 10];
        if (buf.length < offset + len) break;
        if ((buf[0] & 15) === 8) return len >= 2 ? (buf[offset] << 8) | buf[offset + 1] : 1005;
        buf = buf.slice(offset + len);
      }
    }
  }

  close(): void {
    try {
      this.#reader.releaseLock();
      this.#conn.close();
    } catch {
      // Already closed by the server.
    }
  }
}
