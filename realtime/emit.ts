/**
 * @module
 * The server-side emit API of the seed: `emitToUser`, `emitToRoom` and
 * `broadcast`, usable from handlers, routes and jobs in any isolate. Each call
 * becomes one {@linkcode Delivery} on the bus.
 *
 * The protocol's own events are typed by the vocabulary: `emit("call:ended",
 * data)` only compiles when `data` has the payload the protocol documents
 * (realtime/protocol/server_events.ts). Events outside it (a service's
 * `appointment:reminder`, the seed's module functions) go through `emitAny`.
 */

import type { Bus } from "./bus.ts";
import type { Delivery, Target } from "./hub.ts";
import type { ServerEventData, ServerEventName } from "./protocol/server_events.ts";

/** The id of a stored message's `message:new`: the same on every path, so receivers deduplicate. */
export function messageNewId(roomId: string, seq: number): string {
  return `m:${roomId}:${seq}`;
}

export interface EmitOptions {
  /**
   * The delivery's id, when the event has a natural one that every path gives
   * it alike (`m:<roomId>:<seq>` for `message:new`); a fresh one otherwise.
   */
  id?: string;
  /** Skip this socket (usually the sender, who gets an ack instead). */
  exceptSocket?: string;
  /** Skip every socket of this user (typing indicators are not echoed to the typist). */
  exceptUser?: string;
  /** Patients other than this user do not get it (see {@linkcode Delivery.patientsExcept}). */
  patientsExcept?: string;
  ephemeral?: boolean;
  /** See {@linkcode Delivery.logged}. */
  logged?: boolean;
}

/**
 * Options for an event that names `user` (their join, typing, read receipt):
 * when the user is a patient, other patients must not get it, so a patient
 * never learns that another patient exists.
 */
export function naming(user: { userId: string; role: string }): EmitOptions {
  return user.role === "patient" ? { patientsExcept: user.userId } : {};
}

export interface Emitter {
  emitToUser<E extends ServerEventName>(
    userId: string,
    event: E,
    data: ServerEventData<E>,
    opts?: EmitOptions,
  ): void;
  emitToRoom<E extends ServerEventName>(
    roomId: string,
    event: E,
    data: ServerEventData<E>,
    opts?: EmitOptions,
  ): void;
  /** Several targets at once; a socket matching more than one gets the event once. */
  emit<E extends ServerEventName>(
    to: Target,
    event: E,
    data: ServerEventData<E>,
    opts?: EmitOptions,
  ): void;
  /**
   * An event outside the protocol's vocabulary, or one whose payload the
   * caller vouches for (the seed's module functions in api.ts, the HTTP emit
   * API, which refuses the protocol's names).
   */
  emitAny(to: Target, event: string, data: unknown, opts?: EmitOptions): void;
  /** To every socket: `system:*` broadcasts. */
  broadcast(event: string, data: unknown): void;
}

export function createEmitter(bus: Bus, newId: () => string): Emitter {
  const emitAny = (to: Target, event: string, data: unknown, opts: EmitOptions = {}) => {
    const { id, ...rest } = opts;
    const d: Delivery = { id: id ?? newId(), event, data, to, ...rest };
    bus.publish(d);
  };
  return {
    emit: emitAny,
    emitAny,
    emitToUser: (userId, event, data, opts) => emitAny({ users: [userId] }, event, data, opts),
    emitToRoom: (roomId, event, data, opts) => emitAny({ rooms: [roomId] }, event, data, opts),
    broadcast: (event, data) => emitAny({ all: true }, event, data),
  };
}
