/**
 * @module
 * Zod building blocks every event schema uses, so each limit is decided once:
 * strings must be well-formed UTF-16 without NUL and are measured in UTF-8
 * bytes; numbers are finite safe integers (never -0); free-form JSON objects
 * are capped in depth and size and may not carry prototype keys. Whole
 * payloads that several events take are here too.
 */

import { z } from "zod";
import { idSchema } from "../store/ids.ts";

const encoder = new TextEncoder();

export function utf8Length(s: string): number {
  return encoder.encode(s).length;
}

/** A string of 1..maxBytes UTF-8 bytes, well-formed, without NUL. */
export function text(maxBytes: number, opts: { allowEmpty?: boolean } = {}) {
  return z.string()
    .refine((s) => opts.allowEmpty || s.length > 0, "must not be empty")
    .refine((s) => s.isWellFormed(), "must be well-formed Unicode (no lone surrogates)")
    .refine((s) => !s.includes("\0"), "must not contain NUL characters")
    .refine((s) => utf8Length(s) <= maxBytes, `must be at most ${maxBytes} UTF-8 bytes`);
}

/** A finite, safe integer in [min, max]; -0 is refused so cursors have one spelling. */
export function int(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return z.number().int().min(min).max(max).refine((n) => !Object.is(n, -0), "must not be -0");
}

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Walks a parsed JSON value without recursion, so hostile nesting cannot
 * overflow the stack. Returns a problem, or null if the value is acceptable.
 */
function checkJson(value: unknown, maxDepth: number): string | null {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") {
      if (typeof v === "string" && !v.isWellFormed()) return "contains ill-formed strings";
      if (typeof v === "number" && !Number.isFinite(v)) return "contains a non-finite number";
      continue;
    }
    if (depth >= maxDepth) return `is nested deeper than ${maxDepth} levels`;
    for (const [k, child] of Object.entries(v)) {
      if (FORBIDDEN_KEYS.has(k)) return `may not use the key "${k}"`;
      if (!k.isWellFormed()) return "contains ill-formed strings";
      stack.push([child, depth + 1]);
    }
  }
  return null;
}

/** A plain JSON object of at most `maxBytes` serialized, `maxDepth` deep, with no prototype keys. */
export function jsonObject(maxBytes: number, maxDepth = 5) {
  return z.custom<Record<string, unknown>>(
    (v) => v !== null && typeof v === "object" && !Array.isArray(v),
    "must be an object",
  ).superRefine((v, ctx) => {
    const problem = checkJson(v, maxDepth);
    if (problem) ctx.addIssue({ code: "custom", message: `must be plain JSON: ${problem}` });
    else if (utf8Length(JSON.stringify(v)) > maxBytes) {
      ctx.addIssue({ code: "custom", message: `must be at most ${maxBytes} bytes as JSON` });
    }
  });
}

/** `{userIds}`: 1..100 ids, none twice (presence:get, presence:subscribe, user:profiles, ...). */
export const userIdsPayload = z.object({
  userIds: z.array(idSchema).min(1).max(100).refine(
    (ids) => new Set(ids).size === ids.length,
    "must not repeat an id",
  ),
});
