/**
 * @module
 * Comparing secrets without the time taken saying where they differ: byte
 * arrays as they are (password hashes), strings through SHA-256 first, so
 * their lengths do not show either (bearer tokens).
 */

/** Whether `a` and `b` hold the same bytes, in time that depends on their lengths only. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** Whether two strings are equal, compared as digests (equal lengths, constant time). */
export async function sameSecret(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [x, y] = await Promise.all(
    [a, b].map(async (s) => new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(s)))),
  );
  return constantTimeEqual(x, y);
}
