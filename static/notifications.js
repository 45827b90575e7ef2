/**
 * @module
 * The notifications panel: newest first (ids are ULIDs, so they sort by
 * time), a badge with the server's unread count, read on click. Reads made on
 * another device arrive as notification:read. Titles and messages are hostile
 * input: they reach the DOM via `textContent` only.
 */

import { byId, showError } from "./dom.js";
import { failedAck, session } from "./session.js";

const NOTIFICATION_PAGE = 20;

const ui = {
  badge: byId("notification-badge"),
  notifications: byId("notifications"),
  notificationsEmpty: byId("notifications-empty"),
  notificationsMore: byId("notifications-more"),
};

/** @type {Map<string, HTMLElement>} */
const notes = new Map();

/** @param {number} count */
function setUnread(count) {
  const n = Math.max(0, Number(count) || 0);
  ui.badge.textContent = String(n);
  ui.badge.dataset.count = String(n);
  ui.badge.title = `${n} unread`;
}

/** @param {HTMLElement} li @param {boolean} read */
function setNoteRead(li, read) {
  li.classList.toggle("unread", !read);
  li.dataset.read = String(read);
  /** @type {HTMLElement} */ (li.querySelector(".unread-mark")).textContent = read ? "" : "New";
}

/** @param {any} n */
function renderNotification(n) {
  if (!n || typeof n.id !== "string") return;
  const known = notes.get(n.id);
  if (known) return void (n.readAt && setNoteRead(known, true));
  const li = document.createElement("li");
  li.className = "notification";
  li.dataset.id = n.id;
  const body = document.createElement("button");
  body.type = "button";
  body.className = "notification-body";
  const head = document.createElement("span");
  head.className = "notification-head";
  const mark = document.createElement("span");
  mark.className = "unread-mark";
  const title = document.createElement("strong");
  title.className = "notification-title";
  title.textContent = String(n.title);
  const time = document.createElement("time");
  time.dateTime = String(n.createdAt);
  time.textContent = new Date(n.createdAt).toLocaleString();
  head.append(mark, title, time);
  const message = document.createElement("span");
  message.className = "notification-message";
  message.textContent = String(n.message);
  body.append(head, message);
  body.addEventListener("click", () => void markRead(n.id));
  li.append(body);
  setNoteRead(li, Boolean(n.readAt));
  const next = [...ui.notifications.children].find((el) => el.dataset.id < n.id);
  ui.notifications.insertBefore(li, next ?? null);
  notes.set(n.id, li);
  ui.notificationsEmpty.hidden = true;
}

/** @param {string} id */
async function markRead(id) {
  const li = notes.get(id);
  if (!session.client || !li || li.dataset.read === "true") return;
  const ack = await session.client.request("notification:read", { notificationId: id })
    .catch(failedAck);
  if (!ack.success) return showError(`Could not mark read: ${ack.error}`);
  setNoteRead(li, true);
  setUnread(ack.unreadCount);
}

async function refreshUnread() {
  const client = session.client;
  if (!client?.connected) return;
  const ack = await client.request("notification:getUnreadCount").catch(() => null);
  if (ack?.success && client === session.client) setUnread(ack.unreadCount);
}

/** @param {boolean} reset the newest page (after connecting) instead of the next older one */
async function loadNotifications(reset) {
  const client = session.client;
  if (!client?.connected) return;
  const oldest = reset ? undefined : ui.notifications.lastElementChild?.dataset.id;
  ui.notificationsMore.disabled = true;
  try {
    const ack = await client.request("notification:list", {
      limit: NOTIFICATION_PAGE,
      ...(oldest ? { before: oldest } : {}),
    });
    if (client !== session.client) return;
    if (!ack.success) return showError(`Could not load notifications: ${ack.error}`);
    if (reset) clearNotifications();
    for (const n of /** @type {any[]} */ (ack.notifications)) renderNotification(n);
    ui.notificationsMore.hidden = !ack.hasMore;
  } catch (err) {
    showError(`Could not load notifications: ${/** @type {Error} */ (err).message}`);
  } finally {
    ui.notificationsMore.disabled = false;
  }
}

function clearNotifications() {
  notes.clear();
  ui.notifications.replaceChildren();
  ui.notificationsEmpty.hidden = false;
  ui.notificationsMore.hidden = true;
}

/** Every (re)connection: the newest page and the unread count, as the server has them now. */
export function reloadNotifications() {
  void loadNotifications(true);
  void refreshUnread();
}

/** Signing out: an empty list and a zero badge. */
export function resetNotifications() {
  clearNotifications();
  setUnread(0);
}

/** @param {import("./client.js").RealtimeClient} client */
export function listenNotifications(client) {
  client.on("notification:new", (n) => {
    renderNotification(n);
    void refreshUnread();
  });
  client.on("notification:read", (d) => {
    const li = notes.get(d?.notificationId);
    if (li) setNoteRead(li, true);
    setUnread(d?.unreadCount);
  });
}

/** Wires the "more" button; once, at start-up. */
export function initNotifications() {
  ui.notificationsMore.addEventListener("click", () => void loadNotifications(false));
}
