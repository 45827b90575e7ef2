/**
 * @module
 * The protocol's vocabulary, in one place for the server (imported from
 * TypeScript) and the browser client: error codes, close codes with whether
 * a client should reconnect after them, and the events the server sends
 * (their payload schemas are in realtime/protocol/server_events.ts, which
 * reads this list). The session,
 * the hub, revocations, `/api/docs`, the HTTP emit API's reserved names and
 * static/client.js all read it.
 */

/**
 * Every error code the server sends, in acks (`{success: false, code}`), the
 * `error` event and HTTP error bodies (docs/PROTOCOL.md §9).
 */
export const ERROR_CODES = Object.freeze(
  /** @type {const} */ ([
    "UNAUTHENTICATED",
    "TOKEN_EXPIRED",
    "FORBIDDEN",
    "NOT_FOUND",
    "INVALID_PAYLOAD",
    "UNKNOWN_EVENT",
    "RATE_LIMITED",
    "CONFLICT",
    "BUSY",
    "PAYLOAD_TOO_LARGE",
    "LIMIT_EXCEEDED",
    "INTERNAL",
  ]),
);

/** Every close code the server sends. */
export const CLOSE = Object.freeze({
  /** Server shutting down. */
  goingAway: 1001,
  /** Too many invalid frames. */
  policy: 1008,
  /** A frame over MAX_FRAME_BYTES. */
  tooBig: 1009,
  /** Fell too far behind. */
  slowConsumer: 4002,
  /** Authentication failed, token expired, or token revoked (logout). */
  auth: 4401,
  /** Account disabled. */
  revoked: 4403,
  /** No authentication in time. */
  authTimeout: 4408,
  /** Rate-limit abuse, or too many sockets for this user. */
  rateLimited: 4429,
});

/**
 * What each close code means and whether reconnecting can help. Terminal
 * codes (`reconnect: false`) need something else first: a new token (4401),
 * an administrator (4403), fewer tabs or a slower client (4429).
 * @type {Readonly<Record<number, {reconnect: boolean, meaning: string}>>}
 */
export const CLOSE_CODES = Object.freeze({
  1001: { reconnect: true, meaning: "server shutting down: reconnect and resume" },
  1008: { reconnect: true, meaning: "too many invalid frames" },
  1009: { reconnect: true, meaning: "frame too large" },
  4002: { reconnect: true, meaning: "slow consumer: reconnect and resume" },
  4401: { reconnect: false, meaning: "authentication failed or token expired" },
  4403: { reconnect: false, meaning: "account disabled" },
  4408: { reconnect: true, meaning: "no authentication in time" },
  4429: { reconnect: false, meaning: "rate-limit abuse, or too many sockets for this user" },
});

/**
 * Whether a client should reconnect after a close with `code`. Codes not
 * listed (1006 and other network failures) are worth a retry.
 * @param {number} code
 */
export function shouldReconnect(code) {
  return CLOSE_CODES[code]?.reconnect ?? true;
}

/** Events the server sends (docs/PROTOCOL.md §6); besides these, the HTTP emit API's own names. */
export const SERVER_EVENTS = Object.freeze(
  /** @type {const} */ ([
    "connected",
    "connect_error",
    "error",
    "message:new",
    "message:sent",
    "message:status",
    "message:updated",
    "room:unread",
    "typing:start",
    "typing:stop",
    "room:userJoined",
    "room:userLeft",
    "room:removed",
    "presence:changed",
    "notification:new",
    "notification:read",
    "call:incoming",
    "call:accepted",
    "call:rejected",
    "call:missed",
    "call:ended",
    "call:signal",
    "call:active",
  ]),
);

/**
 * Event-name prefixes that belong to the protocol's domains (every client and
 * server event with a colon is in one); the HTTP emit API refuses them.
 */
export const DOMAIN_PREFIXES = Object.freeze([
  ...new Set(SERVER_EVENTS.filter((e) => e.includes(":")).map((e) => e.split(":")[0] + ":")),
  // Domains of client events only (auth:refresh, user:profiles).
  "auth:",
  "user:",
]);
