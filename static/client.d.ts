/**
 * Types of static/client.js, the browser (and Deno, and bundler) client of
 * telehealth-realtime's native protocol (GET /ws). Served at /client.d.ts
 * beside /client.js. Event names come from the protocol's own list
 * (static/protocol.js `SERVER_EVENTS`); payloads are described in
 * docs/PROTOCOL.md §6 and, as JSON Schema, in `GET /api/docs`.
 *
 * @module
 */

/** Every event the server sends (static/protocol.js `SERVER_EVENTS`). */
export type ServerEventName =
  | "connected"
  | "connect_error"
  | "error"
  | "message:new"
  | "message:sent"
  | "message:status"
  | "message:updated"
  | "room:unread"
  | "typing:start"
  | "typing:stop"
  | "room:userJoined"
  | "room:userLeft"
  | "room:removed"
  | "presence:changed"
  | "notification:new"
  | "notification:read"
  | "call:incoming"
  | "call:accepted"
  | "call:rejected"
  | "call:missed"
  | "call:ended"
  | "call:signal"
  | "call:active";

/** Events of the client itself. */
export type ClientEventName =
  | "status"
  | "halted"
  | "frame"
  | "disconnect"
  | "room:resumed"
  | "unread"
  | "session:ended";

/** Connection states reported by the `status` event. */
export type Status = "connecting" | "open" | "reconnecting" | "unauthorized" | "stopped" | "closed";

/** An ack's data: `{success: true, ...}`, or a refusal `{success: false, error, code, issues?}`. */
export interface AckData {
  success: boolean;
  error?: string;
  code?: string;
  issues?: { path: string; message: string }[];
  retryable?: boolean;
  [key: string]: unknown;
}

export interface ConnectOptions {
  /** JWT from POST /api/v1/auth/login (or /api/v1/auth/refresh). */
  token: string;
  /** First reconnect delay in ms (default 1000, as socket.io). */
  minDelayMs?: number;
  /** Longest reconnect delay in ms (default 5000, as socket.io). */
  maxDelayMs?: number;
  /** Requests and events held while disconnected (default 100). */
  queueLimit?: number;
  /** Confirm received messages with `message:delivered` (default true). */
  autoDelivered?: boolean;
  /**
   * A new access token (from POST /api/v1/auth/refresh, say), or null when the session is
   * over. With it the client renews the token at 80 % of its remaining life (`auth:refresh`
   * on the live socket) and after a refused token (close 4401), so calls and chats do not
   * drop at expiry. A throw is a passing failure, retried; null fires `session:ended`.
   */
  refresh?: () => Promise<string | null>;
}

/**
 * A request that failed: TIMEOUT, DISCONNECTED, CLOSED or QUEUE_FULL, or, from
 * `emitWithAck`, the server's refusal code (INVALID_PAYLOAD, FORBIDDEN, ...).
 */
export class ClientError extends Error {
  constructor(code: string, message: string);
  readonly code: string;
  /** From `emitWithAck`: the fields the server named. */
  issues?: { path: string; message: string }[];
  retryable?: boolean;
}

/** An event's data (docs/PROTOCOL.md §6 describes each payload). */
// deno-lint-ignore no-explicit-any
export type Listener = (data: any) => void;

/** A server event, a client event, or a service's own event name (`appointment:reminder`). */
export type EventName = ServerEventName | ClientEventName | (string & Record<never, never>);

export class RealtimeClient {
  constructor(url: string, options: ConnectOptions);
  /** Whether the socket is open and authenticated. */
  readonly connected: boolean;
  /** Resolves with the ack's data; a refusal resolves with `success: false`. */
  request(event: string, data?: unknown, options?: { timeoutMs?: number }): Promise<AckData>;
  /** Rejects a refusal with a {@linkcode ClientError} carrying its code and issues. */
  emitWithAck(event: string, data?: unknown, options?: { timeoutMs?: number }): Promise<AckData>;
  /** Sends without an ack; queued while offline (typing is dropped). Returns whether sent or queued. */
  emit(event: string, data?: unknown): boolean;
  on(event: EventName, fn: Listener): () => void;
  off(event: EventName, fn: Listener): void;
  /** Uses a new token: `auth:refresh` on the live socket, or the next connection. */
  refreshToken(token: string): Promise<AckData>;
  /** Edits one of your messages (within the server's edit window). */
  edit(roomId: string, seq: number, message: string): Promise<AckData>;
  /** Redacts a message (yours within the window; as the visit's clinician or an admin, any). */
  delete(roomId: string, seq: number): Promise<AckData>;
  /** Moves your read cursor forward. */
  markRead(roomId: string, seq: number): Promise<AckData>;
  /** Unread counts per room, as far as this client knows. */
  readonly unread: Map<string, number>;
  /** Loads every room's unread count (room:list). */
  loadUnread(): Promise<Map<string, number>>;
  /** Closes for good: no reconnect; pending requests reject with CLOSED. */
  close(): void;
}

/** Opens a client; it connects at once and keeps reconnecting until `close()`. */
export function connect(url: string, options: ConnectOptions): RealtimeClient;
