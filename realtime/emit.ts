/**
 * @module
 * The server-side emit API of the seed: `emitToUser`, `emitToRoom` and
 * `broadcast`, usable from handlers, routes and jobs in any isolate. Each call
 * becomes one {@linkcode Delivery} on the bus.
 */

import type { Bus } from "./bus.ts";
import type { Delivery, Target } from "./hub.ts";

export interface EmitOptions {
  /** Skip this socket (usually the sender, who gets an ack instead). */
  exceptSocket?: string;
  /** Skip every socket of this user (typing indicators are not echoed to the typist). */
  exceptUser?: string;
  /** Patients other than this user do not get it (see {@linkcode Delivery.patientsExcept}). */
  patientsExcept?: string;
  ephemeral?: boolean;
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
  emitToUser(userId: string, event: string, data: unknown, opts?: EmitOptions): void;
  emitToRoom(roomId: string, event: string, data: unknown, opts?: EmitOptions): void;
  broadcast(event: string, data: unknown): void;
  /** Several targets at once; a socket matching more than one gets the event once. */
  emit(to: Target, event: string, data: unknown, opts?: EmitOptions): void;
}

export function createEmitter(bus: Bus, newId: () => string): Emitter {
  const emit = (to: Target, event: string, data: unknown, opts: EmitOptions = {}) => {
    const d: Delivery = { id: newId(), event, data, to, ...opts };
    bus.publish(d);
  };
  return {
    emit,
    emitToUser: (userId, event, data, opts) => emit({ users: [userId] }, event, data, opts),
    emitToRoom: (roomId, event, data, opts) => emit({ rooms: [roomId] }, event, data, opts),
    broadcast: (event, data) => emit({ all: true }, event, data),
  };
}
