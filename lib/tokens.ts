/**
 * @module
 * Access tokens: HS256 JWTs signed with JWT_SECRET. Verification pins the
 * algorithm and requires exp, iat, sub, issuer and audience, so alg:none,
 * other algorithms, tokens for another service and tokens without an expiry
 * are all refused. Callers get a reason, never the token back.
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
}

export type VerifyResult =
  | { ok: true; user: TokenUser }
  | { ok: false; reason: "invalid" | "expired" };

export interface TokenService {
  sign(user: { id: string; role: TokenUser["role"] }): Promise<{ token: string; expiresAt: Date }>;
  verify(token: string): Promise<VerifyResult>;
}

const claimsSchema = z.object({
  sub: z.string().min(1).max(64),
  role: tokenRoleSchema,
  exp: z.number().int(),
});

export function createTokenService(opts: {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  clock: Clock;
}): TokenService {
  const key = new TextEncoder().encode(opts.secret);
  const nowSeconds = () => Math.floor(opts.clock.now() / 1000);
  return {
    async sign(user) {
      const iat = nowSeconds();
      const exp = iat + opts.ttlSeconds;
      const token = await new SignJWT({ role: user.role })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(user.id)
        .setIssuer(opts.issuer)
        .setAudience(opts.audience)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(crypto.randomUUID())
        .sign(key);
      return { token, expiresAt: new Date(exp * 1000) };
    },
    async verify(token) {
      if (token.length > 4096) return { ok: false, reason: "invalid" };
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ["HS256"],
          issuer: opts.issuer,
          audience: opts.audience,
          requiredClaims: ["exp", "iat", "sub"],
          currentDate: new Date(opts.clock.now()),
          clockTolerance: 5,
        });
        const claims = claimsSchema.safeParse(payload);
        if (!claims.success) return { ok: false, reason: "invalid" };
        const { sub, role, exp } = claims.data;
        return { ok: true, user: { userId: sub, role, exp } };
      } catch (err) {
        return { ok: false, reason: err instanceof errors.JWTExpired ? "expired" : "invalid" };
      }
    },
  };
}
