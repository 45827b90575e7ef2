/**
 * @module
 * Support for the tests/reliability_*_test.ts rows that need more than
 * tests/process.ts and tests/raw_ws.ts give: a server process whose pid is
 * known (for its RSS in /proc), a reader of server frames over a raw socket that stays linear on
 * many MiB (RawWs.untilClosed copies its whole buffer per chunk), and a
 * bounded poll for state another process writes.
 */

import { loginAt, within } from "./harness.ts";
import { serverCommand } from "./process.ts";
import type { RawWs } from "./raw_ws.ts";

/** `deno run main.ts` (tests/process.ts's command) on 127.0.0.1:0, with its pid. */
export class LiveServer {
  #child: Deno.ChildProcess;
  #pumped: Promise<void>;

  private constructor(
    child: Deno.ChildProcess,
    readonly url: string,
    /** The log so far, line by line, as it is written (for diagnostics). */
    readonly lines: string[],
    pumped: Promise<void>,
  ) {
    this.#child = child;
    this.#pumped = pumped;
  }

  static async start(env: Record<string, string>): Promise<LiveServer> {
    const child = serverCommand({ PORT: "0", HOST: "127.0.0.1", ...env }).spawn();
    let resolveUrl!: (url: string) => void;
    const listening = new Promise<string>((resolve) => resolveUrl = resolve);
    const lines: string[] = [];
    // One pump for the whole life of the process, so a full pipe can never block it.
    const pumped = (async () => {
      let partial = "";
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
        const parts = (partial + text).split("\n");
        partial = parts.pop()!;
        for (const line of parts) {
          const url = /"url":"(http:\/\/[^"]+)"/.exec(line)?.[1];
          if (url) resolveUrl(url);
          lines.push(line);
        }
      }
    })();
    let url: string;
    try {
      url = await within(
        Promise.race([
          listening,
          pumped.then(() => Promise.reject(new Error(`server exited early: ${lines.join("\n")}`))),
        ]),
        15_000,
        "server.listening",
      );
    } catch (err) {
      try {
        child.kill("SIGKILL");
      } catch {
        // It exited by itself: the error says why.
      }
      await child.status;
      await pumped.catch(() => {});
      throw err;
    }
    return new LiveServer(child, url, lines, pumped);
  }

  get pid(): number {
    return this.#child.pid;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  get wsUrl(): string {
    return `${this.url.replace("http", "ws")}/ws`;
  }

  login(email: string, password?: string): Promise<string> {
    return loginAt(this.url, email, password);
  }

  /** SIGKILLs the process (if still running) and waits for it and its log. */
  async kill(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await within(this.#child.status, 10_000, "server exit");
    await this.#pumped;
  }
}

/** Current and peak resident memory of a process, in MiB, from /proc (Linux only). */
export function processMemory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)![1]);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

export interface ServerFrame {
  opcode: number;
  payload: Uint8Array;
}

export const OP_TEXT = 1;
export const OP_CLOSE = 8;
export const OP_PING = 9;

/**
 * Yields the server's frames (unmasked, never fragmented by Deno) until the
 * TCP connection ends or is reset. Each read is bounded by RawWs.read's timeout.
 */
export async function* serverFrames(raw: RawWs): AsyncGenerator<ServerFrame> {
  let buf = new Uint8Array(0);
  let off = 0;
  while (true) {
    let chunk: Uint8Array;
    try {
      chunk = await raw.read();
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("timed out")) throw err;
      return; // reset by peer
    }
    if (chunk.length === 0) return;
    // Only the unparsed tail (less than one frame) is copied: linear in the bytes received.
    const next = new Uint8Array(buf.length - off + chunk.length);
    next.set(buf.subarray(off));
    next.set(chunk, buf.length - off);
    buf = next;
    off = 0;
    while (buf.length - off >= 2) {
      let len = buf[off + 1] & 127;
      let head = 2;
      const view = new DataView(buf.buffer, buf.byteOffset + off);
      if (len === 126) [len, head] = [buf.length - off >= 4 ? view.getUint16(2) : -1, 4];
      else if (len === 127) [len, head] = [buf.length - off >= 10 ? view.getUint32(6) : -1, 10];
      if (len < 0 || buf.length - off < head + len) break;
      yield { opcode: buf[off] & 15, payload: buf.slice(off + head, off + head + len) };
      off += head + len;
    }
  }
}

/** A close frame's status code (1005 when it has none). */
export function closeCode(frame: ServerFrame): number {
  return frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : 1005;
}

/**
 * Resolves once the async `condition()` holds, checking every `everyMs`, for
 * state another process writes (a KV file) that sends no event here. Rejects after `ms`.
 */
export async function pollUntil(
  condition: () => Promise<boolean>,
  what: string,
  opts: { ms?: number; everyMs?: number } = {},
): Promise<void> {
  const deadline = performance.now() + (opts.ms ?? 10_000);
  while (!await condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, opts.everyMs ?? 50));
  }
}
