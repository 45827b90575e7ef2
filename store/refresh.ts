/**
 * @module
 * Refresh tokens: a session that outlives its short access tokens. A login
 * starts a family; each refresh spends its token (single use) and issues the
 * next one in the same family. A spent token presented again means it was
 * copied: the whole family is revoked, so neither the thief nor the owner can
 * go on without signing in again. Only a SHA-256 hash of a token is stored.
 *
 * Keys:
 * - `["refresh_tokens", hash]` -> {@linkcode RefreshRecord}, expiring with the token
 * - `["refresh_families", familyId]` -> {@linkcode RefreshFamily}, expiring with the session
 */

export interface RefreshRecord {
  userId: string;
  familyId: string;
  expiresAt: number;
  /** Set when spent by a refresh. */
  usedAt?: number;
}

export interface RefreshFamily {
  userId: string;
  createdAt: number;
  expiresAt: number;
  revokedAt?: number;
}

export type RefreshResult =
  | { ok: true; userId: string; token: string; expiresAt: number }
  | { ok: false; reason: "unknown" | "expired" | "reused" | "revoked" };

async function hash(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** However often it is refreshed, a session ends this long after its sign-in. */
export const MAX_SESSION_MS = 30 * 86_400_000;

const tokenKey = (h: string) => ["refresh_tokens", h];
const familyKey = (id: string) => ["refresh_families", id];

/** Starts a session for `userId`: a new family and its first token, valid `ttlMs`. */
export async function startSession(
  kv: Deno.Kv,
  userId: string,
  now: number,
  ttlMs: number,
): Promise<{ token: string; familyId: string; expiresAt: number }> {
  const familyId = crypto.randomUUID();
  const token = newToken();
  const expiresAt = now + ttlMs;
  await kv.atomic()
    .set(familyKey(familyId), { userId, createdAt: now, expiresAt } satisfies RefreshFamily, {
      expireIn: ttlMs,
    })
    .set(tokenKey(await hash(token)), { userId, familyId, expiresAt } satisfies RefreshRecord, {
      expireIn: ttlMs,
    })
    .commit();
  return { token, familyId, expiresAt };
}

/**
 * Spends `token` and issues the next one of its family (valid `ttlMs` more,
 * never past the family's end). A spent token revokes the family.
 */
export async function rotate(
  kv: Deno.Kv,
  token: string,
  now: number,
  ttlMs: number,
): Promise<RefreshResult> {
  const key = tokenKey(await hash(token));
  for (let attempt = 0; attempt < 5; attempt++) {
    const record = await kv.get<RefreshRecord>(key);
    if (!record.value) return { ok: false, reason: "unknown" };
    const family = await kv.get<RefreshFamily>(familyKey(record.value.familyId));
    if (!family.value || family.value.revokedAt !== undefined) {
      return { ok: false, reason: "revoked" };
    }
    if (record.value.usedAt !== undefined) {
      await revokeFamily(kv, record.value.familyId, now);
      return { ok: false, reason: "reused" };
    }
    if (record.value.expiresAt <= now) return { ok: false, reason: "expired" };
    const next = newToken();
    // Sliding: each refresh extends the session, up to MAX_SESSION_MS after the sign-in.
    const expiresAt = Math.min(now + ttlMs, family.value.createdAt + MAX_SESSION_MS);
    if (expiresAt <= now) return { ok: false, reason: "expired" };
    const res = await kv.atomic()
      .check(record)
      .check(family)
      .set(key, { ...record.value, usedAt: now }, {
        expireIn: Math.max(1000, record.value.expiresAt - now),
      })
      .set(
        tokenKey(await hash(next)),
        {
          userId: record.value.userId,
          familyId: record.value.familyId,
          expiresAt,
        } satisfies RefreshRecord,
        { expireIn: expiresAt - now },
      )
      .set(familyKey(record.value.familyId), { ...family.value, expiresAt }, {
        expireIn: expiresAt - now,
      })
      .commit();
    if (res.ok) return { ok: true, userId: record.value.userId, token: next, expiresAt };
  }
  return { ok: false, reason: "revoked" };
}

/** Ends the family a token belongs to (logout); false when the token is unknown. */
export async function revokeByToken(kv: Deno.Kv, token: string, now: number): Promise<boolean> {
  const record = (await kv.get<RefreshRecord>(tokenKey(await hash(token)))).value;
  if (!record) return false;
  await revokeFamily(kv, record.familyId, now);
  return true;
}

export async function revokeFamily(kv: Deno.Kv, familyId: string, now: number): Promise<void> {
  const family = await kv.get<RefreshFamily>(familyKey(familyId));
  if (!family.value || family.value.revokedAt !== undefined) return;
  await kv.set(familyKey(familyId), { ...family.value, revokedAt: now }, {
    expireIn: Math.max(1000, family.value.expiresAt - now),
  });
}
