/**
 * @module
 * Typing indicators for the joined room: throttled typing:start and
 * typing:stop for the local composer, and the "… is typing..." line for the
 * others (a start without a stop fades). Reads `session.room`, never changes
 * it; names reach the DOM via `textContent`.
 */

import { byId } from "./dom.js";
import { session } from "./session.js";
import { nameOf, onNames, resolveNames } from "./names.js";

const TYPING_RESEND_MS = 2500;
const TYPING_IDLE_MS = 3000;
/** A remote typing:start without a typing:stop fades after this long. */
const TYPING_TTL_MS = 6000;

const line = byId("typing");

/** @type {Map<string, ReturnType<typeof setTimeout>>} user id -> its fade timer */
const typing = new Map();
let sentAt = 0;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let idle;

function renderTyping() {
  const names = [...typing.keys()].map(nameOf);
  line.textContent = names.length === 0
    ? ""
    : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing...`;
}

/** @param {string} userId */
export function stopTyping(userId) {
  clearTimeout(typing.get(userId));
  if (typing.delete(userId)) renderTyping();
}

/** Forgets every remote typist (leaving or switching rooms). */
export function clearTyping() {
  for (const id of [...typing.keys()]) stopTyping(id);
}

/**
 * The composer changed: typing:start at most every few seconds, typing:stop once idle or empty.
 * @param {string} value
 */
export function composerInput(value) {
  if (!session.client || !session.room) return;
  clearTimeout(idle);
  if (value === "") return sendTypingStop();
  if (Date.now() - sentAt > TYPING_RESEND_MS) {
    session.client.emit("typing:start", { roomId: session.room });
    sentAt = Date.now();
  }
  idle = setTimeout(sendTypingStop, TYPING_IDLE_MS);
}

/** Ends our own typing:start, if one is pending (on send, leave and sign-out). */
export function sendTypingStop() {
  clearTimeout(idle);
  if (sentAt === 0 || !session.client || !session.room) return;
  sentAt = 0;
  session.client.emit("typing:stop", { roomId: session.room });
}

/** @param {import("./client.js").RealtimeClient} client */
export function listenTyping(client) {
  client.on("typing:start", (t) => {
    if (t.roomId !== session.room) return;
    clearTimeout(typing.get(t.userId));
    typing.set(t.userId, setTimeout(() => stopTyping(t.userId), TYPING_TTL_MS));
    void resolveNames([t.userId]);
    renderTyping();
  });
  client.on("typing:stop", (t) => stopTyping(t.userId));
}

onNames(renderTyping);
