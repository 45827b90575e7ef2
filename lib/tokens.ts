/**
 * @module
 * Access tokens: HS256 JWTs signed with JWT_SECRET. Verification pins the
 * algorithm and requires exp, iat, jti, sub, issuer and audience, so alg:none,
 * other algorithms, tokens for another service and tokens without an expiry
 * are all refused. A token that claims more life than the longest TTL the
 * config allows (30 days, as exp - iat or as exp beyond now), or an iat more
 * than 60 s ahead, is refused too: a leaked secret or a forged clock must not
 * mint tokens that outlive a rotation. The configured JWT_TTL bounds what
 * this server signs, not what it accepts: another issuer sharing the secret
 * (a service, a load tool) may sign longer-lived tokens within the 30 days,
 * and lowering JWT_TTL does not end sessions already issued. The `epoch` claim
 * carries the account's session epoch (store/sessions.ts). Callers get a
 * reason, never the token back.
 */

import { errors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import type { Clock } from "./clock.ts";

export const tokenRoleSchema = z.enum(["patient", "doctor", "nurse", "admin", "service"]);

/** Who a verified token speaks for. */
export interface TokenUser {
  userId: string;
  role: z.infer<typeof tokenRoleSchema>;
  /** Expiry, in seconds since the epoch. */
  exp: number;
  /** Issue time, in seconds since the epoch. */
  iat: number;
  /** The token's id: what logout revokes. */
  jti: string;
  /** The account's session epoch when the token was issued (0 when the claim is absent). */
  epoch: number;
}

export type VerifyResult =
  | { ok: true; user: TokenUser }
  | { ok: false; reason: "invalid" | "expired" };

export interface TokenService {
  sign(
    user: { id: string; role: TokenUser["role"]; epoch?: number },
  ): Promise<{ token: string; expiresAt: Date }>;
  verify(token: string): Promise<VerifyResult>;
}

const claimsSchema = z.object({
  sub: z.string().min(1).max(64),
  role: tokenRoleSchema,
  exp: z.number().int(),
  iat: z.number().int(),
  jti: z.string().min(1).max(64),
  epoch: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});

/** The longest JWT_TTL the config accepts (30 days); no token may live longer. */
export const MAX_TTL_SECONDS = 30 * 86400;
/** How far ahead of our clock an `iat` may be (another server's clock running fast). */
export const MAX_IAT_SKEW_SECONDS = 60;
/** Slack on `exp - iat` and on exp against now plus the longest TTL. */
const TTL_TOLERANCE_SECONDS = 5;

export function createTokenService(opts: {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  clock: Clock;
}): TokenService {
  // Imported once: given raw bytes, jose imports a CryptoKey on every sign and verify, and a
  // connect storm then leaves thousands of short-lived key buffers outside the JS heap.
  const key = crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(opts.secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  const nowSeconds = () => Math.floor(opts.clock.now() / 1000);
  return {
    async sign(user) {
      const iat = nowSeconds();
      const exp = iat + opts.ttlSeconds;
      const claims = user.epoch ? { role: user.role, epoch: user.epoch } : { role: user.role };
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(user.id)
        .setIssuer(opts.issuer)
        .setAudience(opts.audience)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(crypto.randomUUID())
        .sign(await key);
      return { token, expiresAt: new Date(exp * 1000) };
    },
    async verify(token) {
      if (token.length > 4096) return { ok: false, reason: "invalid" };
      try {
        const { payload } = await jwtVerify(token, await key, {
          algorithms: ["HS256"],
          issuer: opts.issuer,
          audience: opts.audience,
          requiredClaims: ["exp", "iat", "sub"],
          currentDate: new Date(opts.clock.now()),
          clockTolerance: 5,
        });
        const claims = claimsSchema.safeParse(payload);
        if (!claims.success) return { ok: false, reason: "invalid" };
        const { sub, role, exp, iat, jti, epoch = 0 } = claims.data;
        const now = nowSeconds();
        if (iat > now + MAX_IAT_SKEW_SECONDS) return { ok: false, reason: "invalid" };
        if (exp - iat > MAX_TTL_SECONDS + TTL_TOLERANCE_SECONDS) {
          return { ok: false, reason: "invalid" };
        }
        if (exp > now + MAX_TTL_SECONDS + TTL_TOLERANCE_SECONDS) {
          return { ok: false, reason: "invalid" };
        }
        return { ok: true, user: { userId: sub, role, exp, iat, jti, epoch } };
      } catch (err) {
        return { ok: false, reason: err instanceof errors.JWTExpired ? "expired" : "invalid" };
      }
    },
  };
}
