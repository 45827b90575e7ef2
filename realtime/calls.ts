/**
 * @module
 * The call service: the seed's call state machine (initiating -> ringing ->
 * accepted -> in_progress -> ended, or rejected / missed / failed), with every
 * transition checked on the call's versionstamp (store/calls.ts), ring
 * timeouts and grace periods through the Scheduler, and lazy enforcement of
 * the ring deadline on every read, so a call never rings past its deadline
 * whatever happened to the isolate that started it.
 *
 * Deliveries: call:incoming to every connection of the callee; call:accepted
 * to the caller and the answering socket (the callee's other devices get
 * call:ended "answered_elsewhere"); call:signal only to the other party's
 * call socket; call:ended to every connection of both users.
 *
 * Every committed transition is logged (`call.<status>`: ids, the reason and
 * duration of an end; never signalling payloads) and counted in the metrics.
 */

import { AppError, conflict, forbidden, invalid, notFound } from "../lib/errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/log.ts";
import {
  activeCallId,
  type Call,
  type CallEntry,
  type CallType,
  CONNECTED_STATES,
  createCall,
  type EndReason,
  getCall,
  listLiveCallIds,
  LIVE_STATES,
  RINGING_STATES,
  transition,
} from "../store/calls.ts";
import { buildNotification, type Notification } from "../store/notifications.ts";
import { isConnectionLive } from "../store/presence.ts";
import { type Actor, assertMayCall, CALL_ACCESS_DENIED } from "./access.ts";
import type { Emitter } from "./emit.ts";
import type { ServerEventData } from "./protocol/server_events.ts";
import type { ConnectionInfo } from "./hub.ts";
import { notificationView } from "./notify.ts";
import type { Job, Scheduler } from "./scheduler.ts";
import type { Audit } from "./audit.ts";
import type { AppMetrics } from "./metrics.ts";
import type { AuditEntry } from "../store/audit.ts";
import { WindowCounter } from "../lib/rate_limit.ts";

/** The caller: who and on which socket. */
export interface CallActor extends Actor {
  socketId: string;
  /** The client's address, for the audit trail. */
  ip?: string;
}

export interface CallDeps {
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  emitter: Emitter;
  scheduler: Scheduler;
  newId: () => string;
  /** Re-derives a user's presence (in_call starts and ends with calls). */
  refreshPresence: (userId: string) => Promise<void>;
  ringTimeoutMs: number;
  graceMs: number;
  audit: Audit;
  /** call:initiate per caller, and per (caller, callee), per minute. */
  rates: { perCaller: number; perPair: number };
  /** Calls started and ended, and call:initiate refused by the rates above. */
  metrics?: AppMetrics;
}

/** How often every isolate checks live calls for a ring deadline that passed unnoticed. */
export const SWEEP_MS = 5000;

export class CallService {
  #d: CallDeps;
  #perCaller: WindowCounter;
  #perPair: WindowCounter;
  #sweeper?: ReturnType<typeof setInterval>;
  #sweeping: Promise<void> = Promise.resolve();

  constructor(deps: CallDeps) {
    this.#d = deps;
    this.#perCaller = new WindowCounter(deps.rates.perCaller, 60_000, deps.clock);
    this.#perPair = new WindowCounter(deps.rates.perPair, 60_000, deps.clock);
  }

  async initiate(
    actor: CallActor,
    input: { recipientId: string; callType: CallType; visitId?: string },
  ): Promise<{ callId: string; status: string }> {
    const { kv, clock } = this.#d;
    if (input.recipientId === actor.userId) {
      throw invalid("You cannot call yourself", [{
        path: "recipientId",
        message: "is your own id",
      }]);
    }
    await assertMayCall(kv, actor, input.recipientId, input.visitId);
    // Ring flooding: a caller may ring anyone, and one person, only so often.
    const overCaller = this.#perCaller.hit(actor.userId);
    const overPair = this.#perPair.hit(`${actor.userId}\u0000${input.recipientId}`);
    if (overCaller || overPair) {
      this.#d.metrics?.rateLimited("call");
      throw new AppError("RATE_LIMITED", "Too many calls; wait a minute before calling again", {
        retryable: true,
      });
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = clock.now();
      const call: Call = {
        id: `call_${this.#d.newId()}`,
        callerId: actor.userId,
        calleeId: input.recipientId,
        callType: input.callType,
        ...(input.visitId ? { visitId: input.visitId } : {}),
        status: "initiating",
        createdAt: new Date(now).toISOString(),
        ringDeadline: now + this.#d.ringTimeoutMs,
        callerSocketId: actor.socketId,
      };
      const created = await createCall(kv, call, this.#audit(call, actor));
      if (created.ok) {
        this.#moved(call, actor);
        return await this.#ring(call, actor);
      }

      const blocking = created.callerCall ?? created.calleeCall;
      const entry = blocking ? await this.load(blocking) : null;
      if (entry && !LIVE_STATES.includes(entry.call.status)) continue; // just expired: retry
      const other = entry?.call;
      if (
        other && RINGING_STATES.includes(other.status) &&
        other.callerId === input.recipientId && other.calleeId === actor.userId
      ) {
        // Glare: they are already calling us. Answer their call instead of ringing back.
        const accepted = await this.accept(actor, other.id);
        return { ...accepted, callId: other.id };
      }
      if (created.callerCall) throw conflict("You are already in a call");
      if (created.calleeCall) throw new AppError("BUSY", "User is busy");
    }
    throw conflict("Could not start the call; retry", true);
  }

  async accept(actor: CallActor, callId: string): Promise<{ callId: string; status: string }> {
    const next = await this.#apply(actor, callId, "callee", RINGING_STATES, (call) => ({
      ...call,
      status: "accepted",
      acceptedAt: this.#nowIso(),
      calleeSocketId: actor.socketId,
    }));
    const { emitter } = this.#d;
    await this.#watch(next);
    emitter.emit({ users: [next.callerId], sockets: [actor.socketId] }, "call:accepted", {
      callId,
    });
    emitter.emitToUser(next.calleeId, "call:ended", {
      callId,
      duration: 0,
      reason: "answered_elsewhere",
    }, { exceptSocket: actor.socketId });
    await this.#refresh(next);
    return { callId, status: next.status };
  }

  async reject(actor: CallActor, callId: string): Promise<{ callId: string; status: string }> {
    const next = await this.#apply(
      actor,
      callId,
      "callee",
      RINGING_STATES,
      (call) => this.#ended(call, "rejected", actor.userId, "rejected"),
    );
    this.#d.emitter.emitToUser(next.callerId, "call:rejected", { callId });
    this.#d.emitter.emitToUser(next.calleeId, "call:ended", {
      callId,
      duration: 0,
      reason: "rejected",
    }, { exceptSocket: actor.socketId });
    return { callId, status: next.status };
  }

  async end(
    actor: CallActor,
    callId: string,
  ): Promise<{ callId: string; status: string; duration: number }> {
    const next = await this.#apply(actor, callId, "either", LIVE_STATES, (call) => {
      const ringing = RINGING_STATES.includes(call.status);
      const reason = !ringing
        ? "hangup"
        : actor.userId === call.callerId
        ? "cancelled"
        : "declined";
      return this.#ended(call, "ended", actor.userId, reason);
    });
    this.#announceEnd(next);
    await this.#refresh(next);
    return { callId, status: next.status, duration: next.duration ?? 0 };
  }

  /** An explicit "media connected" (or a reconnected device taking the call over). */
  async connected(actor: CallActor, callId: string): Promise<{ callId: string; status: string }> {
    const next = await this.#apply(actor, callId, "either", CONNECTED_STATES, (call) => ({
      ...call,
      status: "in_progress",
      connectedAt: call.connectedAt ?? this.#nowIso(),
      [actor.userId === call.callerId ? "callerSocketId" : "calleeSocketId"]: actor.socketId,
    }));
    return { callId, status: next.status };
  }

  /** Relays WebRTC signalling to the other party's call socket; the first one marks in_progress. */
  async signal(
    actor: CallActor,
    input: Pick<ServerEventData<"call:signal">, "callId" | "type" | "payload">,
  ): Promise<void> {
    let entry = await this.#party(actor, input.callId, "either");
    this.#expect(entry.call, CONNECTED_STATES);
    const isCaller = actor.userId === entry.call.callerId;
    const mySocket = isCaller ? entry.call.callerSocketId : entry.call.calleeSocketId;
    if (mySocket !== actor.socketId) {
      throw forbidden(
        "This call is on another of your devices; send call:connected to take it over",
      );
    }
    if (entry.call.status === "accepted") {
      const next: Call = { ...entry.call, status: "in_progress", connectedAt: this.#nowIso() };
      const moved = await transition(this.#d.kv, entry, next, { audit: this.#audit(next, actor) });
      if (moved) this.#moved(next, actor);
      // Losing this race is fine when the winner also moved it on (the other party's signal).
      entry = moved ?? await this.#mustLoad(input.callId);
      this.#expect(entry.call, CONNECTED_STATES);
    }
    const target = isCaller ? entry.call.calleeSocketId : entry.call.callerSocketId;
    if (!target) return;
    this.#d.emitter.emit({ sockets: [target] }, "call:signal", {
      callId: input.callId,
      type: input.type,
      payload: input.payload,
      from: actor.userId,
    });
  }

  /**
   * Ends every ringing call whose deadline passed, in whatever isolate or
   * process it started. The scheduler's job normally does this; the sweep
   * covers a job lost in flight (a process killed while running it: KV
   * redelivers it only after its own timeout, up to a minute after a restart).
   */
  async sweep(): Promise<void> {
    for (const callId of await listLiveCallIds(this.#d.kv)) await this.load(callId);
  }

  /** Sweeps at once and then every {@linkcode SWEEP_MS} until {@linkcode stopSweeps}. */
  startSweeps(): void {
    this.#sweeping = this.sweep().catch((err) => this.#sweepFailed(err));
    this.#sweeper = setInterval(() => {
      this.#sweeping = this.#sweeping.then(() => this.sweep()).catch((err) =>
        this.#sweepFailed(err)
      );
    }, SWEEP_MS);
  }

  async stopSweeps(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#sweeping;
  }

  #sweepFailed(err: unknown): void {
    this.#d.log.error("calls.sweep_failed", { error: err instanceof Error ? err : String(err) });
  }

  /** Scheduler entry point: ring timeouts and grace periods. Idempotent. */
  async onJob(job: Job): Promise<void> {
    const entry = await getCall(this.#d.kv, job.callId);
    if (!entry) return;
    if (job.kind === "call:ring_timeout") {
      if (!RINGING_STATES.includes(entry.call.status)) return;
      if (this.#d.clock.now() < entry.call.ringDeadline) {
        await this.#d.scheduler.schedule({ ...job, dueAt: entry.call.ringDeadline });
        return;
      }
      await this.#miss(entry);
      return;
    }
    if (job.kind === "call:watch") return await this.#checkSockets(entry);
    await this.#graceOver(entry, job.socketId);
  }

  /**
   * The watchdog of a live call, every CALL_GRACE_MS until it ends: a call
   * socket that is not alive (closed, its process killed or restarted, a tab
   * gone while another stays open) gets a grace period, then the call fails.
   * It covers what a close event cannot: nobody closes the sockets of a killed process.
   */
  async #checkSockets(entry: CallEntry): Promise<void> {
    const { call } = entry;
    if (!CONNECTED_STATES.includes(call.status)) return;
    const now = this.#d.clock.now();
    const parties: [string, string | undefined][] = [
      [call.callerId, call.callerSocketId],
      [call.calleeId, call.calleeSocketId],
    ];
    for (const [userId, socketId] of parties) {
      if (socketId && !await isConnectionLive(this.#d.kv, userId, socketId, now)) {
        await this.#d.scheduler.schedule({
          kind: "call:grace",
          callId: call.id,
          socketId,
          dueAt: now + this.#d.graceMs,
        });
      }
    }
    await this.#watch(call);
  }

  /** Schedules the next watchdog run of a live call. */
  async #watch(call: Call): Promise<void> {
    await this.#d.scheduler.schedule({
      kind: "call:watch",
      callId: call.id,
      dueAt: this.#d.clock.now() + this.#d.graceMs,
    });
  }

  /**
   * Session lifecycle: a new socket of a user with a live call hears about it
   * at once: `call:incoming` while it rings (a device that connects late still
   * rings), `call:active` once answered (send `call:connected` to take it over).
   */
  async socketOpened(conn: ConnectionInfo): Promise<void> {
    const callId = await activeCallId(this.#d.kv, conn.userId);
    const entry = callId ? await this.load(callId) : null;
    if (!entry) return;
    const { call } = entry;
    const to = { sockets: [conn.id] };
    if (RINGING_STATES.includes(call.status) && call.calleeId === conn.userId) {
      this.#d.emitter.emit(to, "call:incoming", incomingView(call));
    } else if (CONNECTED_STATES.includes(call.status)) {
      this.#d.emitter.emit(to, "call:active", {
        ...incomingView(call),
        calleeId: call.calleeId,
        // CONNECTED_STATES holds exactly these two.
        status: call.status as "accepted" | "in_progress",
      });
    }
  }

  /** Session lifecycle: a call socket closed; the call survives a grace period. */
  async socketClosed(conn: ConnectionInfo): Promise<void> {
    const callId = await activeCallId(this.#d.kv, conn.userId);
    const entry = callId ? await getCall(this.#d.kv, callId) : null;
    if (!entry || !CONNECTED_STATES.includes(entry.call.status)) return;
    const { call } = entry;
    if (call.callerSocketId !== conn.id && call.calleeSocketId !== conn.id) return;
    await this.#d.scheduler.schedule({
      kind: "call:grace",
      callId: call.id,
      socketId: conn.id,
      dueAt: this.#d.clock.now() + this.#d.graceMs,
    });
  }

  /** Reads a call, first enforcing a ring deadline that passed (lazy enforcement). */
  async load(callId: string): Promise<CallEntry | null> {
    const entry = await getCall(this.#d.kv, callId);
    if (
      entry && RINGING_STATES.includes(entry.call.status) &&
      this.#d.clock.now() >= entry.call.ringDeadline
    ) {
      await this.#miss(entry);
      return await getCall(this.#d.kv, callId);
    }
    return entry;
  }

  async #ring(call: Call, caller: CallActor): Promise<{ callId: string; status: string }> {
    const { kv, scheduler, emitter } = this.#d;
    // Durable first: once the timeout is scheduled, the call cannot ring forever.
    await scheduler.schedule({
      kind: "call:ring_timeout",
      callId: call.id,
      dueAt: call.ringDeadline,
    });
    emitter.emitToUser(call.calleeId, "call:incoming", incomingView(call));
    const entry = await getCall(kv, call.id);
    if (entry?.call.status === "initiating") {
      const next: Call = { ...entry.call, status: "ringing" };
      const ringing = await transition(kv, entry, next, { audit: this.#audit(next, caller) });
      if (ringing) {
        this.#moved(next, caller);
        return { callId: call.id, status: "ringing" };
      }
    }
    // Answered, refused or hung up in the meantime: report what it is now.
    return { callId: call.id, status: (await getCall(kv, call.id))?.call.status ?? "failed" };
  }

  async #miss(entry: CallEntry): Promise<void> {
    const next = this.#ended(entry.call, "missed", undefined, "missed");
    const note = buildNotification({
      userId: next.calleeId,
      title: "Missed call",
      message: next.callType === "audio" ? "You missed an audio call" : "You missed a video call",
      type: "call:missed",
      data: { callId: next.id, callerId: next.callerId, callType: next.callType },
    }, { id: `ntf_${this.#d.newId()}`, now: new Date(this.#d.clock.now()) });
    // The notification is in the same commit: however often this runs, it is stored once.
    if (
      !await transition(this.#d.kv, entry, next, {
        notification: note,
        audit: [
          this.#audit(next),
          this.#d.audit.entry({
            actorId: null,
            actorRole: null,
            action: "notification.create",
            target: { userId: note.userId, notificationId: note.id, callId: next.id },
            outcome: "success",
          }),
        ],
      })
    ) {
      return;
    }
    this.#moved(next);
    const { emitter } = this.#d;
    const users = [next.callerId, next.calleeId];
    emitter.emit({ users }, "call:missed", {
      callId: next.id,
      callerId: next.callerId,
      calleeId: next.calleeId,
      callType: next.callType,
    });
    this.#announceEnd(next);
    this.#notify(note);
  }

  async #graceOver(entry: CallEntry, socketId?: string): Promise<void> {
    const { call } = entry;
    if (!CONNECTED_STATES.includes(call.status)) return;
    const party = call.callerSocketId === socketId
      ? call.callerId
      : call.calleeSocketId === socketId
      ? call.calleeId
      : null;
    // Taken over by another socket, or the socket came back: the call goes on.
    if (!party || !socketId) return;
    if (await isConnectionLive(this.#d.kv, party, socketId, this.#d.clock.now())) return;
    const next = this.#ended(call, "failed", undefined, "connection_lost");
    if (!await transition(this.#d.kv, entry, next, { audit: this.#audit(next) })) return;
    this.#moved(next);
    this.#announceEnd(next);
    await this.#refresh(next);
  }

  #announceEnd(call: Call): void {
    this.#d.emitter.emit({ users: [call.callerId, call.calleeId] }, "call:ended", {
      callId: call.id,
      duration: call.duration ?? 0,
      // Every ended call has one (#ended sets it); an older record without: a plain hang-up.
      reason: call.endReason ?? "hangup",
    });
  }

  #notify(n: Notification): void {
    this.#d.emitter.emit(
      { users: [n.userId], rooms: [`notifications:${n.userId}`] },
      "notification:new",
      notificationView(n),
    );
  }

  #ended(call: Call, status: Call["status"], by: string | undefined, reason: EndReason): Call {
    const now = this.#d.clock.now();
    const duration = call.acceptedAt
      ? Math.max(0, Math.round((now - Date.parse(call.acceptedAt)) / 1000))
      : 0;
    return {
      ...call,
      status,
      endedAt: new Date(now).toISOString(),
      ...(by ? { endedBy: by } : {}),
      endReason: reason,
      duration,
    };
  }

  /** Loads the call for one of its parties; third parties get FORBIDDEN, unknown ids NOT_FOUND. */
  async #party(actor: CallActor, callId: string, role: "callee" | "either"): Promise<CallEntry> {
    const entry = await this.#mustLoad(callId);
    const { callerId, calleeId } = entry.call;
    const isParty = actor.userId === calleeId || (role === "either" && actor.userId === callerId);
    if (!isParty) {
      throw forbidden(
        actor.userId === callerId
          ? "Only the person called can answer or refuse"
          : CALL_ACCESS_DENIED,
      );
    }
    return entry;
  }

  async #mustLoad(callId: string): Promise<CallEntry> {
    const entry = await this.load(callId);
    if (!entry) throw notFound(`Call "${callId}" not found`);
    return entry;
  }

  #expect(call: Call, states: readonly string[]): void {
    if (!states.includes(call.status)) throw conflict(`Call is ${call.status}`);
  }

  /**
   * Reads the call, checks the actor and that the call is in one of `states`,
   * and commits `build(call)` on its versionstamp. A lost race is retried only
   * while the action still makes sense (initiating -> ringing does not stop an
   * accept); once another action has moved the call on, the loser gets CONFLICT.
   */
  async #apply(
    actor: CallActor,
    callId: string,
    role: "callee" | "either",
    states: readonly Call["status"][],
    build: (call: Call) => Call,
  ): Promise<Call> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const entry = await this.#party(actor, callId, role);
      this.#expect(entry.call, states);
      const next = build(entry.call);
      if (await transition(this.#d.kv, entry, next, { audit: this.#audit(next, actor) })) {
        this.#moved(next, actor);
        return next;
      }
    }
    throw conflict("Call is changing too fast; retry", true);
  }

  /**
   * A transition committed: logged with ids only (`call.initiated`, `call.ringing`, ...,
   * `call.ended` with its reason and duration) and counted.
   */
  #moved(call: Call, actor?: CallActor): void {
    const { log, metrics } = this.#d;
    const live = LIVE_STATES.includes(call.status);
    const fields: Record<string, unknown> = {
      callId: call.id,
      callerId: call.callerId,
      calleeId: call.calleeId,
      callType: call.callType,
    };
    if (call.visitId) fields.visitId = call.visitId;
    if (actor) {
      fields.by = actor.userId;
      fields.socketId = actor.socketId;
    }
    if (!live) {
      fields.reason = call.endReason ?? "hangup";
      fields.duration = call.duration ?? 0;
    }
    log.info(`call.${call.status === "initiating" ? "initiated" : call.status}`, fields);
    if (call.status === "initiating") metrics?.callStarted();
    else if (!live) metrics?.callEnded(call.status, call.endReason ?? "hangup");
  }

  /** The audit entry of a transition to `call.status`, by a party or (no actor) by the server. */
  #audit(call: Call, actor?: CallActor): AuditEntry {
    const other = actor?.userId === call.calleeId ? call.callerId : call.calleeId;
    return this.#d.audit.entry({
      actorId: actor?.userId ?? null,
      actorRole: actor?.role ?? null,
      socketId: actor?.socketId,
      ip: actor?.ip,
      action: `call.${call.status}`,
      target: {
        callId: call.id,
        userId: actor ? other : call.calleeId,
        ...(call.visitId ? { visitId: call.visitId } : {}),
        ...(call.endReason ? { status: call.endReason } : {}),
      },
      outcome: "success",
    });
  }

  async #refresh(call: Call): Promise<void> {
    await Promise.all([call.callerId, call.calleeId].map((u) => this.#d.refreshPresence(u)));
  }

  #nowIso(): string {
    return new Date(this.#d.clock.now()).toISOString();
  }
}

/** `{callId, callerId, callType, visitId?}`: what a ringing device shows. */
function incomingView(call: Call): ServerEventData<"call:incoming"> {
  const view: ServerEventData<"call:incoming"> = {
    callId: call.id,
    callerId: call.callerId,
    callType: call.callType,
  };
  if (call.visitId) view.visitId = call.visitId;
  return view;
}
