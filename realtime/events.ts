/**
 * @module
 * The event table and its dispatcher. Each domain exports a table of
 * `event name -> { schema, handler, ack }`; {@linkcode mergeTables} joins them
 * (refusing duplicates at start-up) and {@linkcode dispatch} validates a
 * frame's data with zod and runs the handler. Errors become wire replies in
 * one place, {@linkcode errorReply}: AppErrors keep their code and message,
 * anything else is INTERNAL with a generic message and a logged cause,
 * flagged retryable unless it is KV refusing the request as over a limit.
 */

import { z } from "zod";
import { AppError, type Issue } from "../lib/errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/log.ts";
import type { Role } from "../store/users.ts";
import { isKvLimitError } from "../store/value_size.ts";
import type { Emitter } from "./emit.ts";
import type { NotifyUser } from "./notify.ts";
import type { PresenceService } from "./presence.ts";
import type { CallService } from "./calls.ts";
import type { Audit } from "./audit.ts";
import type { TopicService } from "./topics.ts";
import type { VisitCache } from "./visit_cache.ts";
import type { UnreadNotifier } from "./unread.ts";
import type { AppMetrics } from "./metrics.ts";

/** What every handler may use: storage, time, ids, logging, the emit API and presence. */
export interface Services {
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  emitter: Emitter;
  newId: () => string;
  presence: PresenceService;
  notifyUser: NotifyUser;
  calls: CallService;
  audit: Audit;
  topics: TopicService;
  visits: VisitCache;
  /** How long after sending its sender may edit or delete a message (MESSAGE_EDIT_WINDOW_S). */
  messageEditWindowMs: number;
  /** Pushes `room:unread` when counts change. */
  unread: UnreadNotifier;
  /** This app's metrics (realtime/metrics.ts). */
  metrics: AppMetrics;
}

/** The calling socket's room subscriptions; handlers change them only through this. */
export interface SocketRooms {
  has(roomId: string): boolean;
  /** The rooms this socket has joined. */
  joined(): Iterable<string>;
  /** Whether this socket's join also granted publishing (saves re-checking access per send). */
  canPublish(roomId: string): boolean;
  /**
   * Throws LIMIT_EXCEEDED if joining these rooms (all `presence:` rooms, or
   * none) would pass the socket's cap; rooms already joined do not count again.
   */
  reserve(roomIds: string[]): void;
  join(roomId: string, grant: { publish: boolean }): void;
  leave(roomId: string): void;
}

export interface HandlerContext {
  userId: string;
  role: Role;
  socketId: string;
  /** The client's address, for the audit trail. */
  ip?: string;
  services: Services;
  rooms: SocketRooms;
}

export type Reply = Record<string, unknown>;

/** Who is acting, as an audit entry names them. */
export function auditActor(ctx: HandlerContext) {
  return { actorId: ctx.userId, actorRole: ctx.role, socketId: ctx.socketId, ip: ctx.ip };
}

export interface EventDef<S extends z.ZodType = z.ZodType> {
  schema: S;
  /** Whether the seed's client passes a callback; an ack is sent anyway when the frame has an id. */
  ack: boolean;
  /** Rate-limit class: "message" sends share a tighter bucket than everything else. */
  limit?: "message" | "default";
  handler(ctx: HandlerContext, input: z.output<S>): Promise<Reply | void> | Reply | void;
}

export type EventTable = Record<string, EventDef>;
export type EventMap = ReadonlyMap<string, EventDef>;

/** Typed helper: infers the handler's input from the schema. */
export function defineEvent<S extends z.ZodType>(def: EventDef<S>): EventDef<S> {
  return def;
}

/** Merges domain tables into one map; a name defined twice is a start-up error. */
export function mergeTables(...tables: EventTable[]): EventMap {
  const map = new Map<string, EventDef>();
  for (const table of tables) {
    for (const [name, def] of Object.entries(table)) {
      if (map.has(name)) throw new Error(`Event "${name}" is defined twice`);
      map.set(name, def);
    }
  }
  return map;
}

/** Zod issues as `{path, message}`; an empty path is the whole input, named `root`. */
export function zodIssues(error: z.ZodError, root = "data"): Issue[] {
  return error.issues.slice(0, 20).map((i) => ({
    path: i.path.map(String).join(".") || root,
    message: i.message,
  }));
}

/** Validates `data` and runs the event's handler; throws AppError for the client. */
export async function dispatch(
  events: EventMap,
  ctx: HandlerContext,
  event: string,
  data: unknown,
): Promise<Reply> {
  const def = events.get(event);
  if (!def) throw new AppError("UNKNOWN_EVENT", `Unknown event "${event}"`);
  const parsed = def.schema.safeParse(data ?? {});
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    const first = issues[0];
    throw new AppError(
      "INVALID_PAYLOAD",
      `Invalid payload for "${event}": ${first.path}: ${first.message}`,
      { issues },
    );
  }
  const reply = await def.handler(ctx, parsed.data);
  return { success: true, ...reply };
}

/** The wire shape of a failure: `{success:false, error, code, issues?, retryable?}`. */
export function errorReply(err: unknown, log: Logger, where: Record<string, unknown>): Reply {
  if (err instanceof AppError) {
    const reply: Reply = { success: false, error: err.message, code: err.code };
    if (err.issues) reply.issues = err.issues;
    if (err.retryable) reply.retryable = true;
    return reply;
  }
  log.error("handler.failed", { ...where, error: err instanceof Error ? err : String(err) });
  // KV refusing a value or commit as over a limit refuses it again on every retry; a client told
  // to retry would loop forever. Other failures (a locked or unreachable KV) may pass.
  if (isKvLimitError(err)) return { success: false, error: "Internal error", code: "INTERNAL" };
  return { success: false, error: "Internal error", code: "INTERNAL", retryable: true };
}
