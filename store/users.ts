/**
 * @module
 * User accounts.
 *
 * Keys:
 * - `["users", userId]` -> {@linkcode User} (with the password hash)
 * - `["users_by_email", normalizedEmail]` -> userId
 *
 * Emails are unique (checked atomically on create) and compared lower-cased.
 */

import { z } from "zod";
import { conflict } from "../lib/errors.ts";
import { dummyHash, hashPassword, verifyPassword } from "./password.ts";
import { isId } from "./ids.ts";

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

/** Creates a user; CONFLICT if the id or the email is taken. */
export async function createUser(kv: Deno.Kv, input: NewUser, now: Date): Promise<PublicUser> {
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
  const res = await kv.atomic()
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
