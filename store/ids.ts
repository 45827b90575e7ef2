/**
 * @module
 * The id format shared by users, visits and topics. Ids appear inside room ids
 * (`chat:A:B`, `visit:V`) and KV keys, so they exclude ":" and anything that
 * could be mistaken for a path or a different room.
 */

import { z } from "zod";

/** Letters, digits, "_" and "-", starting with a letter or digit, at most 64 characters. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const idSchema = z.string().regex(ID_PATTERN, {
  message: "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit",
});

export function isId(value: string): boolean {
  return ID_PATTERN.test(value);
}
