/**
 * @module
 * Cross-isolate delivery. Every emit goes through the bus, also on a single
 * isolate, so the multi-isolate path is the only path: the bus hands the
 * delivery to the local hub (a BroadcastChannel never echoes to its sender)
 * and posts it to the other isolates of this process, which hand it to theirs.
 *
 * Receivers drop deliveries whose id they have seen, so a second transport
 * (the KV bus of realtime/kv_bus.ts, for other processes) can carry the same
 * events without duplicates.
 */

import type { Delivery } from "./hub.ts";

export interface Bus {
  publish(d: Delivery): void;
  /** Starts following other isolates or processes (the KV bus). */
  start?(): Promise<void>;
  /** Resolves once what was published so far is durable for other processes (the KV bus). */
  settled?(): Promise<void>;
  close(): void | Promise<void>;
}

type Sink = (d: Delivery) => void;

/** Remembers the last `capacity` ids. */
export class SeenIds {
  #set = new Set<string>();
  constructor(readonly capacity = 10_000) {}

  /** True the first time an id is offered. */
  add(id: string): boolean {
    if (this.#set.has(id)) return false;
    this.#set.add(id);
    if (this.#set.size > this.capacity) {
      this.#set.delete(this.#set.values().next().value!);
    }
    return true;
  }
}

/** One isolate, no peers. */
export class LocalBus implements Bus {
  constructor(readonly sink: Sink) {}
  publish(d: Delivery): void {
    this.sink(d);
  }
  close(): void {}
}

/** Local delivery plus a BroadcastChannel to the other isolates of this process. */
export class ChannelBus implements Bus {
  #channel: BroadcastChannel;
  #seen = new SeenIds();
  #sink: Sink;

  constructor(sink: Sink, name = "telehealth-realtime") {
    this.#sink = sink;
    this.#channel = new BroadcastChannel(name);
    this.#channel.onmessage = (e: MessageEvent<Delivery>) => {
      // An exception here would be uncaught and end the isolate: a bad delivery is dropped instead.
      try {
        if (this.#seen.add(e.data.id)) this.#sink(e.data);
      } catch (err) {
        console.error(
          JSON.stringify({ level: "error", event: "bus.deliver_failed", error: String(err) }),
        );
      }
    };
  }

  publish(d: Delivery): void {
    this.#seen.add(d.id);
    this.#sink(d);
    this.#channel.postMessage(d);
  }

  close(): void {
    this.#channel.close();
  }
}
