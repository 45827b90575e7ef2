/**
 * @module
 * The presence panel: a row per watched user (yourself first), kept current
 * by presence:changed, and your own status. Subscriptions live on the socket,
 * so every new connection subscribes again (`resubscribePresence`). Custom
 * statuses are hostile input: they reach the DOM via `textContent` only.
 */

import { byId, showError } from "./dom.js";
import { failedAck, session } from "./session.js";
import { nameElement, nameOf, onNames } from "./names.js";

const PRESENCE_TEXT = {
  online: "online",
  away: "away",
  busy: "busy",
  in_call: "in a call",
  offline: "offline",
};

const ui = {
  statusForm: byId("status-form"),
  myStatus: byId("my-status"),
  customStatus: byId("custom-status"),
  presenceList: byId("presence-list"),
  watchForm: byId("watch-form"),
  watchId: byId("watch-id"),
};

/** @type {Map<string, HTMLElement>} watched user id -> row */
const watched = new Map();

/** @param {string} userId */
function presenceRow(userId) {
  let li = watched.get(userId);
  if (li) return li;
  li = document.createElement("li");
  li.className = "presence";
  li.dataset.userId = userId;
  li.dataset.status = "unknown";
  const dot = document.createElement("span");
  dot.className = "dot";
  dot.setAttribute("aria-hidden", "true");
  const name = nameElement(userId);
  name.className = "user";
  const status = document.createElement("span");
  status.className = "presence-status";
  status.textContent = "…";
  const custom = document.createElement("span");
  custom.className = "custom-status";
  li.append(dot, name, status, custom);
  if (userId !== session.user?.id) {
    const stop = document.createElement("button");
    stop.type = "button";
    stop.className = "secondary small";
    stop.textContent = "Unwatch";
    stop.setAttribute("aria-label", `Unwatch ${nameOf(userId)}`);
    stop.dataset.unwatch = userId;
    stop.addEventListener("click", () => void unwatch(userId));
    li.append(stop);
  }
  watched.set(userId, li);
  ui.presenceList.append(li);
  return li;
}

/**
 * @param {HTMLElement} li
 * @param {string} status
 * @param {string} text
 * @param {string} [custom]
 */
function setPresenceText(li, status, text, custom = "") {
  li.dataset.status = status;
  /** @type {HTMLElement} */ (li.querySelector(".presence-status")).textContent = text;
  /** @type {HTMLElement} */ (li.querySelector(".custom-status")).textContent = custom;
}

/** @param {{userId: string, status: string, customStatus?: string, lastSeen?: string}} p */
function renderPresence(p) {
  const li = watched.get(p.userId);
  if (!li) return;
  const status = String(p.status);
  let text = PRESENCE_TEXT[/** @type {keyof PRESENCE_TEXT} */ (status)] ?? status;
  if (status === "offline" && p.lastSeen) {
    text += `, last seen ${new Date(p.lastSeen).toLocaleTimeString()}`;
  }
  setPresenceText(li, status, text, p.customStatus ? `“${p.customStatus}”` : "");
  const mine = p.userId === session.user?.id;
  if (mine && status in { online: 1, away: 1, busy: 1 } && document.activeElement !== ui.myStatus) {
    ui.myStatus.value = status;
  }
}

/**
 * Subscribes one id per request, so one refused id (a patient watching someone
 * outside their care team) does not hide the others.
 * @param {string[]} userIds
 */
async function subscribePresence(userIds) {
  const client = session.client;
  if (!client?.connected) return; // resubscribePresence() covers every row on open
  await Promise.all(userIds.map(async (userId) => {
    const ack = await client.request("presence:subscribe", { userIds: [userId] }).catch(failedAck);
    const li = watched.get(userId);
    if (!li || client !== session.client) return;
    if (!ack.success) return setPresenceText(li, "error", `not available: ${ack.error}`);
    for (const p of /** @type {any[]} */ (ack.presences)) renderPresence(p);
  }));
}

/**
 * Adds a row for each id not watched yet and subscribes to it.
 * @param {string[]} userIds
 */
export function watchUsers(userIds) {
  const fresh = [...new Set(userIds)].filter((id) => id && !watched.has(id));
  for (const id of fresh) presenceRow(id);
  return subscribePresence(fresh);
}

/** Every (re)connection: the new socket has no subscriptions yet. */
export function resubscribePresence() {
  return subscribePresence([...watched.keys()]);
}

/** @param {string} userId */
async function unwatch(userId) {
  const li = watched.get(userId);
  if (!li) return;
  watched.delete(userId);
  li.remove();
  if (!session.client?.connected || li.dataset.status === "error") return;
  const ack = await session.client.request("presence:unsubscribe", { userIds: [userId] })
    .catch(failedAck);
  if (!ack.success) showError(`Could not unwatch ${userId}: ${ack.error}`);
}

/** Signing out: no rows, the status form back to its defaults. */
export function clearPresence() {
  watched.clear();
  ui.presenceList.replaceChildren();
  ui.myStatus.value = "online";
  ui.customStatus.value = "";
}

async function setMyStatus() {
  if (!session.client) return;
  const custom = ui.customStatus.value.trim();
  const ack = await session.client.request("presence:setStatus", {
    status: ui.myStatus.value,
    customStatus: custom === "" ? null : custom,
  }).catch(failedAck);
  if (!ack.success) showError(`Could not set status: ${ack.error}`);
}

/** @param {import("./client.js").RealtimeClient} client */
export function listenPresence(client) {
  client.on("presence:changed", renderPresence);
}

/** Wires the status and watch forms; once, at start-up. */
export function initPresence() {
  ui.statusForm.addEventListener("submit", (/** @type {SubmitEvent} */ e) => {
    e.preventDefault();
    void setMyStatus();
  });
  ui.watchForm.addEventListener("submit", (/** @type {SubmitEvent} */ e) => {
    e.preventDefault();
    const id = ui.watchId.value.trim();
    if (!id) return;
    ui.watchId.value = "";
    void watchUsers([id]);
  });
}

onNames(() => {
  for (const b of ui.presenceList.querySelectorAll("button[data-unwatch]")) {
    const button = /** @type {HTMLElement} */ (b);
    button.setAttribute("aria-label", `Unwatch ${nameOf(String(button.dataset.unwatch))}`);
  }
});
