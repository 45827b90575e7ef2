/**
 * @module
 * Server settings that must survive restarts and be shared by every isolate.
 *
 * Keys:
 * - `["settings", "demo_jwt_secret"]` -> string (demo mode only)
 */

/**
 * Returns the demo JWT secret, creating a random one on first use. The atomic
 * check makes isolates that start together agree on one secret.
 */
export async function demoJwtSecret(kv: Deno.Kv): Promise<string> {
  const key = ["settings", "demo_jwt_secret"];
  const existing = await kv.get<string>(key);
  if (existing.value !== null) return existing.value;
  const bytes = crypto.getRandomValues(new Uint8Array(48));
  const secret = btoa(String.fromCharCode(...bytes));
  const res = await kv.atomic().check(existing).set(key, secret).commit();
  return res.ok ? secret : (await kv.get<string>(key)).value!;
}
