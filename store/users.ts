/**
 * @module
 * User accounts.
 *
 * Keys:
 * - `["users", userId]` -> {@linkcode User} (with the password hash)
 * - `["users_by_email", normalizedEmail]` -> userId
 * - `["session_revocations_head"]` -> seq; `["session_revocations", seq]` -> {@linkcode Revocation}
 *
 * Emails are unique (checked atomically on create) and compared lower-cased.
 */

import { z } from "zod";
import { AppError, conflict } from "../lib/errors.ts";
import { dummyHash, hashPassword, verifyPassword } from "./password.ts";
import { isId } from "./ids.ts";
import { type AuditEntry, auditMutations } from "./audit.ts";

export const roleSchema = z.enum(["patient", "doctor", "nurse", "admin", "service"]);
export type Role = z.infer<typeof roleSchema>;

/** Clinicians and admins: the roles the access rules call "staff". */
export function isStaff(role: Role): boolean {
  return role === "doctor" || role === "nurse" || role === "admin";
}

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  passwordHash: string;
  disabled: boolean;
  createdAt: string;
  /**
   * Raised each time the account is disabled; tokens carry the epoch they
   * were issued in, and older ones are refused (store/sessions.ts). Absent = 0.
   */
  sessionEpoch?: number;
}

/** A user as other people and the wire may see it: no hash. */
export type PublicUser = Omit<User, "passwordHash">;

export function toPublic(user: User): PublicUser {
  const { passwordHash: _omit, ...rest } = user;
  return rest;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface NewUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  password: string;
}

/** Creates a user (with its audit entry, in the same commit); CONFLICT if the id or email is taken. */
export async function createUser(
  kv: Deno.Kv,
  input: NewUser,
  now: Date,
  audit?: AuditEntry,
): Promise<PublicUser> {
  if (!isId(input.id)) throw new TypeError(`Cannot create user "${input.id}": invalid id`);
  const email = normalizeEmail(input.email);
  const user: User = {
    id: input.id,
    email,
    name: input.name,
    role: input.role,
    passwordHash: await hashPassword(input.password),
    disabled: false,
    createdAt: now.toISOString(),
  };
  const op = kv.atomic();
  if (audit) auditMutations(op, audit);
  const res = await op
    .check({ key: ["users", user.id], versionstamp: null })
    .check({ key: ["users_by_email", email], versionstamp: null })
    .set(["users", user.id], user)
    .set(["users_by_email", email], user.id)
    .commit();
  if (!res.ok) throw conflict(`Cannot create user "${user.id}": id or email already exists`);
  return toPublic(user);
}

export async function getUser(kv: Deno.Kv, id: string): Promise<User | null> {
  return (await kv.get<User>(["users", id])).value;
}

/** Several users at once (getMany rounds of 10), in order; null where there is none. */
export async function getUsers(kv: Deno.Kv, ids: string[]): Promise<(User | null)[]> {
  const out: (User | null)[] = [];
  for (let i = 0; i < ids.length; i += 10) {
    const got = await kv.getMany<User[]>(ids.slice(i, i + 10).map((id) => ["users", id]));
    for (const g of got) out.push(g.value);
  }
  return out;
}

export async function getUserByEmail(kv: Deno.Kv, email: string): Promise<User | null> {
  const id = (await kv.get<string>(["users_by_email", normalizeEmail(email)])).value;
  return id === null ? null : getUser(kv, id);
}

/**
 * Returns the user if the email and password match an enabled account, else
 * null. An unknown email costs one password verification too, so timing does
 * not reveal which emails exist.
 */
export async function authenticate(
  kv: Deno.Kv,
  email: string,
  password: string,
): Promise<PublicUser | null> {
  const user = await getUserByEmail(kv, email);
  const ok = await verifyPassword(password, user?.passwordHash ?? await dummyHash());
  return ok && user && !user.disabled ? toPublic(user) : null;
}

/** Every account, in id order, without password hashes. */
export async function* listUsers(kv: Deno.Kv): AsyncGenerator<PublicUser> {
  for await (const e of kv.list<User>({ prefix: ["users"] })) yield toPublic(e.value);
}

/**
 * Sessions that must end: all of an account's when it is disabled, or only
 * the sockets of one token (`tokenId`, its jti) after a logout.
 */
export interface Revocation {
  seq: number;
  userId: string;
  tokenId?: string;
  at: string;
}

export const REVOCATION_HEAD = ["session_revocations_head"];
/** Revocation entries are only needed until every isolate has polled them. */
export const REVOCATION_TTL_MS = 24 * 3600 * 1000;

/**
 * Enables or disables an account. Disabling also appends to the revocation
 * log (`["session_revocations", seq]`, head at `["session_revocations_head"]`)
 * in the same commit, which every server isolate polls to close the user's
 * sockets. NOT_FOUND if there is no such user.
 */
export async function setDisabled(
  kv: Deno.Kv,
  userId: string,
  disabled: boolean,
  now: Date,
  audit?: AuditEntry,
): Promise<PublicUser> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const [user, head] = await kv.getMany<[User, number]>([["users", userId], REVOCATION_HEAD]);
    if (user.value === null) throw new AppError("NOT_FOUND", `User "${userId}" not found`);
    // Disabling starts a new session epoch: tokens issued before it stay refused after enabling.
    const next: User = disabled
      ? { ...user.value, disabled, sessionEpoch: (user.value.sessionEpoch ?? 0) + 1 }
      : { ...user.value, disabled };
    const op = kv.atomic().check(user).set(["users", userId], next);
    if (disabled) {
      const seq = (head.value ?? 0) + 1;
      const entry: Revocation = { seq, userId, at: now.toISOString() };
      op.check(head).set(REVOCATION_HEAD, seq)
        .set(["session_revocations", seq], entry, { expireIn: REVOCATION_TTL_MS });
    }
    if (audit) auditMutations(op, audit);
    if ((await op.commit()).ok) return toPublic(next);
  }
  throw conflict(`Cannot update user "${userId}": too many concurrent changes`, true);
}

/** The revocation log's head (0 when empty). */
export async function revocationHead(kv: Deno.Kv): Promise<number> {
  return (await kv.get<number>(REVOCATION_HEAD)).value ?? 0;
}

/** Revocations after `seq`, oldest first. */
export async function revocationsSince(kv: Deno.Kv, seq: number): Promise<Revocation[]> {
  const out: Revocation[] = [];
  const iter = kv.list<Revocation>({
    start: ["session_revocations", seq + 1],
    end: ["session_revocations", Number.MAX_SAFE_INTEGER],
  });
  for await (const e of iter) out.push(e.value);
  return out;
}
