/**
 * @module
 * Error classes that carry a wire code. Anything thrown from a handler, a route
 * or store/ that is an {@linkcode AppError} reaches the client as its code and
 * message; anything else is mapped to INTERNAL with a generic message, in one
 * place (the event dispatcher and the HTTP error handler). Never put patient
 * data or secrets in a message: messages go on the wire.
 */

import { ERROR_CODES } from "../static/protocol.js";

/** Every error code the server sends: the protocol vocabulary's list (static/protocol.js). */
export { ERROR_CODES };

export type ErrorCode = typeof ERROR_CODES[number];

/** One problem found while validating a payload: where, and what is wrong. */
export interface Issue {
  path: string;
  message: string;
}

/**
 * An error that is safe to show to the client, with its wire code. It carries
 * no stack trace: it is an answer, not a fault, and refusals are on the hot
 * path (an overloaded server refuses thousands a second). A `cause` keeps its own.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  /** True when the same request may succeed if retried (a lost commit race, a KV hiccup). */
  readonly retryable: boolean;
  readonly issues?: Issue[];

  constructor(
    code: ErrorCode,
    message: string,
    options: { retryable?: boolean; issues?: Issue[]; cause?: unknown } = {},
  ) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, { cause: options.cause });
    Error.stackTraceLimit = limit;
    this.name = "AppError";
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.issues = options.issues;
  }
}

/** The message every access refusal uses, as the seed's troubleshooting table names it. */
export const ROOM_ACCESS_DENIED = "Room access denied";

export function forbidden(message = ROOM_ACCESS_DENIED): AppError {
  return new AppError("FORBIDDEN", message);
}

export function notFound(message: string): AppError {
  return new AppError("NOT_FOUND", message);
}

export function conflict(message: string, retryable = false): AppError {
  return new AppError("CONFLICT", message, { retryable });
}

export function invalid(message: string, issues?: Issue[]): AppError {
  return new AppError("INVALID_PAYLOAD", message, { issues });
}
