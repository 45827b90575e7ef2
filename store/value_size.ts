/**
 * @module
 * How big a value is to Deno KV, and a check to run before committing any
 * value built from user input, so an oversized one is refused with a clear,
 * non-retryable error instead of failing the commit every time.
 *
 * The rule (probed on Deno 2.9.6, see value_size_test.ts): KV stores a
 * `Uint8Array` as its bytes and a `Deno.KvU64` as 8 bytes; everything else is
 * V8-serialized, and a value whose serialization is over 65,536 bytes is
 * refused at commit with `TypeError: Value too large (max 65536 bytes)`.
 * `node:v8`'s `serialize` is the same serializer, so its length is exactly
 * what KV checks. V8 writes a string with one byte per character when every
 * character is Latin-1 and two bytes per UTF-16 unit otherwise: one "€" in a
 * string of ASCII doubles its stored size, so UTF-8 limits on input do not
 * bound the stored size by themselves.
 *
 * It only measures and refuses; it never touches KV, so any store function
 * can call it before building its commit.
 */

import { serialize } from "node:v8";
import { AppError } from "../lib/errors.ts";

/** Deno KV's limit on one value, in serialized bytes. */
export const KV_MAX_VALUE_BYTES = 65_536;

/** The size Deno KV counts against {@linkcode KV_MAX_VALUE_BYTES} for `value`. */
export function kvValueSize(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Deno.KvU64) return 8;
  return serialize(value).byteLength;
}

/**
 * Throws PAYLOAD_TOO_LARGE (not retryable: the same value fails every time)
 * when `value` cannot be stored as one KV value. `what` starts the message,
 * e.g. "Message too large to store: 70123 bytes, the limit is 65536 bytes".
 */
export function assertStorable(value: unknown, what: string): void {
  const size = kvValueSize(value);
  if (size <= KV_MAX_VALUE_BYTES) return;
  throw new AppError(
    "PAYLOAD_TOO_LARGE",
    `${what} too large to store: ${size} bytes, the limit is ${KV_MAX_VALUE_BYTES} bytes`,
  );
}

/**
 * Whether `err` is KV refusing the request itself (a value, key, or commit
 * over a limit; a value that cannot be serialized) rather than failing to
 * reach storage. Those fail identically on every retry, so callers must not
 * call them retryable. Deno raises all of them as TypeErrors whose message
 * ends with "(max N bytes)" or "(max N)", or says the value "could not be
 * cloned"; transient failures (I/O, a locked database) are other classes.
 */
export function isKvLimitError(err: unknown): boolean {
  if (!(err instanceof TypeError)) return false;
  return /\(max \d+( bytes)?\)$/.test(err.message) || err.message.endsWith("could not be cloned.");
}
