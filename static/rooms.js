/**
 * @module
 * The room list: the user's visits and chats (room:list), most recent first,
 * each a button that joins it, with its unread badge; and what a room is
 * called on the page. Joining is chat.js's business (`initRooms`' `onPick`).
 * Names reach the DOM via `textContent` only.
 */

import { byId } from "./dom.js";
import { failedAck, session } from "./session.js";
import { nameOf, onNames, resolveNames } from "./names.js";

const ui = {
  roomList: byId("room-list"),
  roomsEmpty: byId("rooms-empty"),
};

/** What picking a room in the list does (chat.js joins it). @type {(roomId: string) => void} */
let onPick = () => {};

/**
 * What a room is called on the page: "Visit visit-123", "Chat with Dr. Dana Doctor", "Topic x".
 * @param {string} roomId
 */
export function roomTitle(roomId) {
  const [kind, ...rest] = roomId.split(":");
  if (kind === "chat") {
    const other = rest.find((id) => id !== session.user?.id) ?? rest[0] ?? "";
    return `Chat with ${nameOf(other)}`;
  }
  const what = { visit: "Visit", topic: "Topic", call: "Call", notifications: "Notifications" };
  const label = what[/** @type {keyof what} */ (kind)] ?? kind;
  return `${label} ${rest.join(":")}`;
}

/** The other user of a `chat:` room, or undefined. @param {string} roomId */
function chatPartner(roomId) {
  if (!roomId.startsWith("chat:")) return undefined;
  return roomId.split(":").slice(1).find((id) => id !== session.user?.id);
}

/** Sets a room's unread badge in the room list. @param {string} roomId @param {number} count */
export function setBadge(roomId, count) {
  const badge = ui.roomList.querySelector(`li[data-room="${CSS.escape(roomId)}"] .badge`);
  if (!badge) return void refreshRooms();
  badge.textContent = count > 0 ? String(count) : "";
  badge.setAttribute("aria-label", `${count} unread`);
  badge.hidden = count === 0;
}

/** The user's rooms with their unread counts (room:list), each a button that joins it. */
export async function refreshRooms() {
  if (!session.client) return;
  const ack = await session.client.request("room:list", { limit: 50 }).catch(failedAck);
  if (!ack.success) return;
  const rooms = /** @type {{roomId: string, unreadCount: number}[]} */ (ack.rooms);
  void resolveNames(rooms.flatMap((r) => chatPartner(r.roomId) ?? []));
  const items = rooms.map((r) => {
    const li = document.createElement("li");
    li.dataset.room = r.roomId;
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary room-link";
    b.textContent = roomTitle(r.roomId);
    b.setAttribute("aria-current", String(r.roomId === session.room));
    b.addEventListener("click", () => onPick(r.roomId));
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.setAttribute("aria-label", `${r.unreadCount} unread`);
    badge.textContent = r.unreadCount > 0 ? String(r.unreadCount) : "";
    badge.hidden = r.unreadCount === 0;
    li.append(b, " ", badge);
    return li;
  });
  ui.roomList.replaceChildren(...items);
  ui.roomsEmpty.hidden = items.length > 0;
}

/** New names: the room list's chat titles say them. */
function renameRooms() {
  for (const li of ui.roomList.children) {
    const room = String(/** @type {HTMLElement} */ (li).dataset.room);
    const b = li.querySelector("button");
    if (b) b.textContent = roomTitle(room);
  }
}

/** Marks the joined room's button (`aria-current`). */
export function markCurrentRoom() {
  for (const li of ui.roomList.children) {
    const b = li.querySelector("button");
    b?.setAttribute(
      "aria-current",
      String(/** @type {HTMLElement} */ (li).dataset.room === session.room),
    );
  }
}

/** Wires the list; once, at start-up. @param {{onPick: (roomId: string) => void}} hooks */
export function initRooms(hooks) {
  onPick = hooks.onPick;
  onNames(renameRooms);
}
