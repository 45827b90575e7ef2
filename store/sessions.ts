/**
 * @module
 * Whether a verified token still speaks for its account, and logout. A token
 * is current when its account exists and is enabled, its session epoch is the
 * account's (disabling raises the epoch, so re-enabling does not revive old
 * tokens), and it was not logged out. HTTP (requireUser), the /ws upgrade's
 * Authorization header and the socket's auth and auth:refresh all ask
 * {@linkcode tokenCurrent}, so the rule lives in one place.
 *
 * Keys:
 * - `["revoked_tokens", jti]` -> {@linkcode RevokedToken}: a logged-out token,
 *   kept until its `exp` (plus a minute of clock slack), then expired by KV.
 *
 * A logout also appends `{userId, tokenId}` to the revocation log of
 * store/users.ts in the same commit; every isolate polls it and closes the
 * sockets that authenticated with that token.
 */

import { conflict } from "../lib/errors.ts";
import type { TokenUser } from "../lib/tokens.ts";
import { type AuditEntry, auditMutations } from "./audit.ts";
import { type Revocation, REVOCATION_HEAD, REVOCATION_TTL_MS, type User } from "./users.ts";

export interface RevokedToken {
  userId: string;
  /** The token's expiry, seconds since the epoch. */
  exp: number;
}

/** Slack past `exp` during which a revoked token is still remembered (verification allows 5 s). */
const REVOKED_SLACK_MS = 60_000;

/** Whether `token` (already verified) still speaks for `stored`, the account it names. */
export async function tokenCurrent(
  kv: Deno.Kv,
  stored: User | null,
  token: Pick<TokenUser, "userId" | "jti" | "epoch">,
): Promise<boolean> {
  if (!stored || stored.disabled || stored.id !== token.userId) return false;
  if (token.epoch !== (stored.sessionEpoch ?? 0)) return false;
  return (await kv.get(["revoked_tokens", token.jti])).versionstamp === null;
}

/**
 * Logs a token out: refused from now on, and its live sockets are closed by
 * the revocation watchers within about a second. `audit`, when given, is
 * committed with it.
 */
export async function revokeToken(
  kv: Deno.Kv,
  token: Pick<TokenUser, "userId" | "jti" | "exp">,
  now: Date,
  audit?: AuditEntry,
): Promise<void> {
  const expireIn = Math.max(REVOKED_SLACK_MS, token.exp * 1000 - now.getTime() + REVOKED_SLACK_MS);
  const revoked: RevokedToken = { userId: token.userId, exp: token.exp };
  for (let attempt = 0; attempt < 20; attempt++) {
    const head = await kv.get<number>(REVOCATION_HEAD);
    const seq = (head.value ?? 0) + 1;
    const entry: Revocation = {
      seq,
      userId: token.userId,
      tokenId: token.jti,
      at: now.toISOString(),
    };
    const op = kv.atomic()
      .check(head)
      .set(["revoked_tokens", token.jti], revoked, { expireIn })
      .set(REVOCATION_HEAD, seq)
      .set(["session_revocations", seq], entry, { expireIn: REVOCATION_TTL_MS });
    if (audit) auditMutations(op, audit);
    if ((await op.commit()).ok) return;
  }
  throw conflict("Cannot log out: too many concurrent changes", true);
}
