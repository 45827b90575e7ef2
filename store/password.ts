/**
 * @module
 * Password hashing with WebCrypto: Argon2id (OWASP's m=19 MiB, t=2, p=1) where
 * the runtime has it, else PBKDF2-SHA256 with 600,000 iterations. The encoded
 * hash names its algorithm and parameters, so either verifies on any runtime
 * that supports it and parameters can be raised later without breaking old
 * hashes. Comparison is constant-time.
 */

import { constantTimeEqual } from "../lib/secrets.ts";

const enc = new TextEncoder();
const ARGON2 = { memory: 19456, passes: 2, parallelism: 1 };
const PBKDF2_ITERATIONS = 600_000;

function b64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function unb64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

// WebCrypto's Argon2 (the "modern algorithms" draft) is not in TypeScript's DOM types yet.
type Argon2Params = {
  name: "Argon2id";
  nonce: Uint8Array;
  memory: number;
  passes: number;
  parallelism: number;
};

async function argon2id(
  password: string,
  salt: Uint8Array,
  p: typeof ARGON2,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(password),
    "Argon2id" as unknown as AlgorithmIdentifier,
    false,
    ["deriveBits"],
  );
  const params: Argon2Params = { name: "Argon2id", nonce: salt, ...p };
  const bits = await crypto.subtle.deriveBits(params as unknown as AlgorithmIdentifier, key, 256);
  return new Uint8Array(bits);
}

async function pbkdf2(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

let argon2Available: Promise<boolean> | undefined;

/** Whether this runtime's WebCrypto implements Argon2id (probed once). */
export function hasArgon2id(): Promise<boolean> {
  argon2Available ??= argon2id("probe", new Uint8Array(16), { ...ARGON2, memory: 64, passes: 1 })
    .then(() => true, () => false);
  return argon2Available;
}

/** Hashes a password into a self-describing string. */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  if (await hasArgon2id()) {
    const hash = await argon2id(password, salt, ARGON2);
    const { memory: m, passes: t, parallelism: p } = ARGON2;
    return `argon2id$m=${m},t=${t},p=${p}$${b64(salt)}$${b64(hash)}`;
  }
  const hash = await pbkdf2(password, salt, PBKDF2_ITERATIONS);
  return `pbkdf2-sha256$${PBKDF2_ITERATIONS}$${b64(salt)}$${b64(hash)}`;
}

/** Checks a password against a hash from {@linkcode hashPassword}; false for any malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split("$");
  try {
    if (parts[0] === "argon2id" && parts.length === 4) {
      const m = /^m=(\d+),t=(\d+),p=(\d+)$/.exec(parts[1]);
      if (!m) return false;
      const params = { memory: +m[1], passes: +m[2], parallelism: +m[3] };
      // A corrupted or hostile record must not make one login hang or exhaust memory.
      if (params.memory > 262_144 || params.passes > 10 || params.parallelism > 16) return false;
      const actual = await argon2id(password, unb64(parts[2]), params);
      return constantTimeEqual(actual, unb64(parts[3]));
    }
    if (parts[0] === "pbkdf2-sha256" && parts.length === 4) {
      if (!/^\d+$/.test(parts[1]) || Number(parts[1]) > 10_000_000) return false;
      const actual = await pbkdf2(password, unb64(parts[2]), Number(parts[1]));
      return constantTimeEqual(actual, unb64(parts[3]));
    }
  } catch {
    return false;
  }
  return false;
}

let dummy: Promise<string> | undefined;

/**
 * A real hash of a random password, made once. Verifying against it when an
 * email is unknown costs the same as a wrong password, so response time does
 * not reveal which emails have accounts.
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(crypto.randomUUID());
  return dummy;
}
