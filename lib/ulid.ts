/**
 * @module
 * Monotonic ULIDs: 26 Crockford base32 characters, sortable by creation time,
 * so KV listings keyed by them come back in time order. Within one millisecond
 * the random part is incremented, so ids made in a burst still sort.
 */

import type { Clock } from "./clock.ts";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function encodeTime(ms: number): string {
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

/** Returns a function making ULIDs from the given clock. */
export function ulidFactory(clock: Clock): () => string {
  let lastTime = -1;
  const last = new Uint8Array(16);
  return () => {
    const now = clock.now();
    if (now <= lastTime) {
      // Increment the 80-bit random part (as 16 base32 digits) so order holds.
      for (let i = 15; i >= 0; i--) {
        if (last[i] < 31) {
          last[i]++;
          break;
        }
        last[i] = 0;
      }
    } else {
      lastTime = now;
      crypto.getRandomValues(last);
      for (let i = 0; i < 16; i++) last[i] &= 31;
    }
    let rand = "";
    for (const d of last) rand += ALPHABET[d];
    return encodeTime(lastTime) + rand;
  };
}
