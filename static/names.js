/**
 * @module
 * Display names instead of user ids. The server says who may be named
 * (`user:profiles` answers only for users the viewer may see; a patient never
 * gets another patient's name), and this module keeps what it said. Elements
 * made by {@linkcode nameElement} update themselves when a name arrives;
 * modules that put names inside sentences re-render from {@linkcode onNames}.
 * Names are hostile input: they reach the DOM via `textContent` only.
 */

import { session } from "./session.js";

/** @type {Map<string, {name: string, role: string}>} */
const known = new Map();
/** Ids asked for (answered or not): each is asked once per sign-in. */
const asked = new Set();
/** @type {Set<() => void>} */
const listeners = new Set();

/** The display name of `userId`, or the id while the server has not named them. */
export function nameOf(/** @type {string} */ userId) {
  return known.get(userId)?.name ?? userId;
}

/** "You" for the signed-in user, else their name. @param {string} userId */
export function whoIs(userId) {
  return userId === session.user?.id ? "You" : nameOf(userId);
}

/** Calls `fn` after names arrived; returns a function that stops it. @param {() => void} fn */
export function onNames(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * A span showing `userId`'s name (or "You"), kept current as names arrive; `title` holds the id.
 * @param {string} userId
 * @param {string} [suffix] text after the name, such as " (doctor)"
 */
export function nameElement(userId, suffix = "") {
  const span = document.createElement("span");
  span.dataset.nameOf = userId;
  span.dataset.nameSuffix = suffix;
  span.textContent = whoIs(userId) + suffix;
  void resolveNames([userId]);
  return span;
}

/** Remembers names the page already has (the signed-in user's own). @param {any} user */
export function rememberUser(user) {
  if (!user?.id || typeof user.name !== "string") return;
  known.set(user.id, { name: user.name, role: String(user.role) });
  asked.add(user.id);
}

/**
 * Asks the server for the names of ids not asked before (in pages of 100). Resolves when the
 * answer is in; never rejects (an unanswered id keeps showing as its id).
 * @param {Iterable<string>} userIds
 */
export async function resolveNames(userIds) {
  const client = session.client;
  const wanted = [...new Set(userIds)].filter((id) => id && !asked.has(id));
  if (!client || wanted.length === 0) return;
  for (const id of wanted) asked.add(id);
  let changed = false;
  for (let i = 0; i < wanted.length; i += 100) {
    const ack = await client.request("user:profiles", { userIds: wanted.slice(i, i + 100) })
      .catch(() => null);
    if (!ack?.success) {
      // Asked again later (after a reconnect, say), unless the server refused the ids themselves.
      if (!ack) { for (const id of wanted.slice(i, i + 100)) asked.delete(id); }
      continue;
    }
    for (const u of /** @type {{userId: string, name: string, role: string}[]} */ (ack.users)) {
      known.set(u.userId, { name: String(u.name), role: String(u.role) });
      changed = true;
    }
  }
  if (!changed) return;
  for (const el of document.querySelectorAll("[data-name-of]")) {
    const span = /** @type {HTMLElement} */ (el);
    span.textContent = whoIs(String(span.dataset.nameOf)) + (span.dataset.nameSuffix ?? "");
  }
  for (const fn of [...listeners]) fn();
}

/** Signing out: another user may sign in on this page next. */
export function forgetNames() {
  known.clear();
  asked.clear();
}
