// deno-lint-ignore-file no-import-prefix -- test tools stay out of the import map: `deno task`
// installs every package there, and `deno task dev` must not download them (tests/dx_test.ts).
/**
 * @module
 * The real socket.io-client (pinned, test-only: deno.json's import map) as a
 * test client with the same surface as harness.ts's WsClient, so one scenario
 * runs over both codecs (tests/conformance_test.ts). Every event is recorded
 * through `onAny`; helpers await a specific one with a bounded timeout.
 */

import { io, type Socket } from "npm:socket.io-client@4.8.1";
import { within } from "./harness.ts";

export type Transports = ("websocket" | "polling")[] | undefined;

/** What a conformance scenario needs from a client, whatever its protocol. */
export interface RealtimeClient {
  readonly protocol: "native" | "socketio";
  event(name: string, ms?: number): Promise<Record<string, unknown>>;
  request(event: string, data?: unknown, ms?: number): Promise<Record<string, unknown>>;
  emit(event: string, data?: unknown): void;
  pending(name: string): { data: Record<string, unknown> }[];
  sync(): Promise<void>;
  close(): Promise<void>;
}

type Recorded = { event: string; data: Record<string, unknown> };
type Waiter = { match: (e: Recorded) => boolean; resolve: (e: Recorded) => void };

export class SioClient implements RealtimeClient {
  readonly protocol = "socketio" as const;
  readonly socket: Socket;
  readonly events: Recorded[] = [];
  #waiters: Waiter[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.onAny((event: string, data: Record<string, unknown>) => {
      const rec = { event, data };
      const w = this.#waiters.find((w) => w.match(rec));
      if (w) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(rec);
      } else this.events.push(rec);
    });
  }

  /** A socket.io-client socket that is not connected yet (the caller awaits what it expects). */
  static create(
    url: string,
    opts:
      & { token?: string; transports?: Transports; reconnection?: boolean }
      & Record<
        string,
        unknown
      > = {},
  ): SioClient {
    const { token, transports, reconnection, ...rest } = opts;
    const socket = io(url, {
      auth: token === undefined ? undefined : { token },
      ...(transports ? { transports } : {}),
      reconnection: reconnection ?? false,
      forceNew: true,
      // No pooled keep-alive connections (Node's agent) shared between tests' servers.
      agent: false,
      ...rest,
    });
    return new SioClient(socket);
  }

  /** Connects with `token` and resolves once `connected` arrived. */
  static async connect(url: string, token: string, transports?: Transports): Promise<SioClient> {
    const client = SioClient.create(url, { token, transports });
    const failed = new Promise<never>((_, reject) =>
      client.socket.once("connect_error", (e: Error) => reject(e))
    );
    try {
      await within(Promise.race([client.event("connected"), failed]), 5000, "connected");
    } catch (err) {
      client.socket.close();
      throw err;
    }
    return client;
  }

  /** The next `name` event (already received or future). */
  async event(name: string, ms = 3000): Promise<Record<string, unknown>> {
    return (await this.next((e) => e.event === name, name, ms)).data;
  }

  next(match: (e: Recorded) => boolean, what: string, ms = 3000): Promise<Recorded> {
    const i = this.events.findIndex(match);
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0]);
    let waiter: Waiter | undefined;
    const p = new Promise<Recorded>((resolve) => {
      waiter = { match, resolve };
      this.#waiters.push(waiter);
    });
    return within(p, ms, what).finally(() => {
      const at = this.#waiters.indexOf(waiter!);
      if (at >= 0) this.#waiters.splice(at, 1);
    });
  }

  /** Emits with an ack callback and resolves with the reply. */
  async request(event: string, data?: unknown, ms = 5000): Promise<Record<string, unknown>> {
    const reply = data === undefined
      ? this.socket.timeout(ms).emitWithAck(event)
      : this.socket.timeout(ms).emitWithAck(event, data);
    return await reply as Record<string, unknown>;
  }

  emit(event: string, data?: unknown): void {
    if (data === undefined) this.socket.emit(event);
    else this.socket.emit(event, data);
  }

  pending(name: string): Recorded[] {
    return this.events.filter((e) => e.event === name);
  }

  async sync(): Promise<void> {
    const r = await this.request("ping", {});
    if (r.success !== true) throw new Error(`ping failed: ${JSON.stringify(r)}`);
  }

  /** Closes and resolves once the client's transport is gone. */
  async close(): Promise<void> {
    const engine = this.socket.io.engine;
    const gone = engine && engine.readyState !== "closed"
      ? new Promise<void>((resolve) => engine.once("close", () => resolve()))
      : Promise.resolve();
    this.socket.close();
    this.socket.io.reconnection(false);
    await within(gone, 5000, "socket.io close");
  }
}
