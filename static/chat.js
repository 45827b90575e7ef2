/**
 * @module
 * The chat panel: joining and leaving one room at a time, messages in seq
 * order with history paging, and the composer (typing indicators live in
 * typing.js). Owns `session.room` and its participants; whatever else follows
 * the participant list (default callee, presence rows) is the `onRoster`
 * hook's business. Messages and names are hostile input: they reach the DOM
 * via `textContent` only.
 *
 * A send shows at once as "Sending…"; while the socket is down it waits in
 * the client's queue and goes out after the reconnect (the same
 * clientMessageId, so it is stored once however often it is retried). If it
 * cannot go within SEND_PATIENCE_MS, or the server refuses it, it stays in
 * the list marked "Not sent", with a Retry button.
 */

import { byId, showError } from "./dom.js";
import { failedAck, session } from "./session.js";
import { clearTyping, composerInput, listenTyping, sendTypingStop, stopTyping } from "./typing.js";
import { nameElement, nameOf, onNames, resolveNames } from "./names.js";

const PAGE_SIZE = 20;
/** How long a send may wait for a connection and its ack before it shows as failed. */
const SEND_PATIENCE_MS = 30_000;

const ui = {
  roomForm: byId("room-form"),
  roomId: byId("room-id"),
  leave: byId("leave-button"),
  roomInfo: byId("room-info"),
  loadOlder: byId("load-older"),
  messages: byId("messages"),
  sendForm: byId("send-form"),
  input: byId("message-input"),
  send: byId("send-button"),
  roomList: byId("room-list"),
  roomsEmpty: byId("rooms-empty"),
};

/** Receipt cursors of the joined room's users (from history and message:status), and its members. */
const receipts = {
  /** @type {string[]} */ members: [],
  /** @type {Map<string, number>} */ read: new Map(),
  /** @type {Map<string, number>} */ delivered: new Map(),
  /** Highest seq this page has marked read. */ markedRead: 0,
  /** @type {ReturnType<typeof setTimeout> | undefined} */ readTimer: undefined,
};

const TICKS = { sent: "✓ sent", delivered: "✓✓ delivered", read: "✓✓ read" };

/**
 * @type {{
 *   rendered: Map<string, HTMLElement>,
 *   draftId: string | null,
 *   pending: Map<string, HTMLElement>,
 * }}
 * `pending`: sends without an ack yet (or failed), by clientMessageId.
 */
const chat = {
  rendered: new Map(),
  draftId: null,
  pending: new Map(),
};

/**
 * Called after the participant list changes, with the ids that arrived (everyone on a join).
 * @type {(added: string[]) => void}
 */
let onRoster = () => {};

/** A fresh clientMessageId: the same draft retried after a failure is stored once. */
function newDraftId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {boolean} joined */
function setJoined(joined) {
  ui.leave.disabled = !joined;
  ui.input.disabled = !joined;
  ui.send.disabled = !joined;
}

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

function renderRoomInfo() {
  if (!session.room) return void (ui.roomInfo.textContent = "Not in a room.");
  const people = [...session.participants]
    .filter(([id]) => id !== session.user?.id)
    .map(([id, role]) => `${nameOf(id)} (${role})`)
    .join(", ");
  ui.roomInfo.textContent = `In ${roomTitle(session.room)}. Here now: ${people || "only you"}`;
  for (const li of ui.roomList.children) {
    const b = li.querySelector("button");
    b?.setAttribute(
      "aria-current",
      String(/** @type {HTMLElement} */ (li).dataset.room === session.room),
    );
  }
}

/**
 * A message's status as this page knows it: `read` once every other member read it, `delivered`
 * once every other member received it, else `sent`. Rooms without a member list (topics) keep
 * what the server said.
 * @param {any} m
 */
function statusOf(m) {
  const others = receipts.members.filter((u) => u !== m.senderId);
  if (others.length === 0) return String(m.status ?? "sent");
  const read = (/** @type {string} */ u) => receipts.read.get(u) ?? 0;
  if (others.every((u) => read(u) >= m.seq)) return "read";
  const got = (/** @type {string} */ u) => Math.max(read(u), receipts.delivered.get(u) ?? 0);
  if (others.every((u) => got(u) >= m.seq)) return "delivered";
  return "sent";
}

/** Re-reads every own message's tick from the cursors. */
function refreshTicks() {
  for (const li of ui.messages.children) {
    const el = /** @type {HTMLElement} */ (li);
    const tick = el.querySelector(".status");
    if (!tick || el.dataset.deleted) continue;
    const status = statusOf({ senderId: session.user?.id, seq: Number(el.dataset.seq) });
    tick.textContent = TICKS[/** @type {keyof TICKS} */ (status)] ?? status;
    el.dataset.status = status;
  }
}

/** Marks the room read up to the newest message from someone else, once the page shows it. */
function markShown() {
  if (!session.client || !session.room || document.visibilityState !== "visible") return;
  clearTimeout(receipts.readTimer);
  receipts.readTimer = setTimeout(() => {
    const room = session.room;
    let newest = 0;
    for (const li of ui.messages.children) {
      const el = /** @type {HTMLElement} */ (li);
      if (!el.classList.contains("own")) newest = Math.max(newest, Number(el.dataset.seq));
    }
    if (!room || !session.client || newest <= receipts.markedRead) return;
    receipts.markedRead = newest;
    session.client.markRead(room, newest).catch(() => {});
  }, 300);
}

/**
 * Edit and delete, in place. The server decides who may (the sender within the edit window;
 * delete also the visit's clinicians and admins) and says why not.
 * @param {any} m
 * @param {"edit" | "delete"} action
 */
async function change(m, action) {
  const client = session.client;
  if (!client) return;
  let ack;
  if (action === "edit") {
    const text = globalThis.prompt("Edit your message", String(m.message));
    if (text === null || text === m.message) return;
    ack = await client.edit(m.roomId, m.seq, text).catch(failedAck);
  } else {
    if (!globalThis.confirm("Remove this message for everyone?")) return;
    ack = await client.delete(m.roomId, m.seq).catch(failedAck);
  }
  if (!ack.success) return showError(`Could not ${action} the message: ${ack.error}`);
  updateMessage(ack.message);
}

/**
 * Fills a message's element: sender, time, seq, its tick (own messages), the text (or
 * "message removed"), and its actions.
 * @param {HTMLElement} li @param {any} m
 */
function fill(li, m) {
  const mine = m.senderId === session.user?.id;
  li.className = mine ? "message own" : "message";
  li.dataset.seq = String(m.seq);
  if (m.deletedAt) li.dataset.deleted = "true";
  else delete li.dataset.deleted;
  const meta = document.createElement("div");
  meta.className = "meta";
  const sender = nameElement(String(m.senderId));
  sender.className = "sender";
  const time = document.createElement("time");
  time.dateTime = String(m.timestamp);
  time.textContent = new Date(m.timestamp).toLocaleString();
  meta.append(sender, " ", time);
  if (m.editedAt && !m.deletedAt) {
    const edited = document.createElement("span");
    edited.className = "edited";
    edited.textContent = " (edited)";
    meta.append(edited);
  }
  if (mine && !m.deletedAt) {
    const tick = document.createElement("span");
    tick.className = "status";
    meta.append(" ", tick);
  }
  const body = document.createElement("p");
  body.className = m.deletedAt ? "text removed" : "text";
  body.textContent = m.deletedAt ? "message removed" : String(m.message);
  li.replaceChildren(meta, body);
  if (!m.deletedAt) {
    const actions = document.createElement("div");
    actions.className = "actions";
    const buttons = /** @type {["edit" | "delete", string][]} */ (
      mine
        ? [["edit", "Edit"], ["delete", "Delete"]]
        : session.user?.role === "patient"
        ? []
        : [["delete", "Delete"]]
    );
    for (const [action, label] of buttons) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "link";
      b.textContent = label;
      b.addEventListener("click", () => void change(m, action));
      actions.append(b);
    }
    if (buttons.length > 0) li.append(actions);
  }
}

/** A message already shown was edited or deleted: redraws it in place. @param {any} m */
function updateMessage(m) {
  const li = m && m.roomId === session.room ? chat.rendered.get(m.id) : undefined;
  if (!li) return;
  fill(li, m);
  refreshTicks();
}

/**
 * Inserts a message in seq order; a message already shown (ack, echo, resume) is skipped.
 * @param {any} m
 */
function renderMessage(m) {
  if (!m || m.roomId !== session.room || chat.rendered.has(m.id)) return;
  // Our own send, stored: it replaces its "Sending…" entry.
  if (m.clientMessageId) {
    chat.pending.get(m.clientMessageId)?.remove();
    chat.pending.delete(m.clientMessageId);
  }
  const li = document.createElement("li");
  fill(li, m);
  chat.rendered.set(m.id, li);
  if (m.senderId !== session.user?.id) markShown();

  // Stored messages in seq order; sends still pending stay below them.
  const next = [...ui.messages.children].find((el) =>
    el.dataset.send !== undefined || Number(el.dataset.seq) > m.seq
  );
  const stick = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
  ui.messages.insertBefore(li, next ?? null);
  if (!next && stick) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function clearRoomView() {
  ui.messages.replaceChildren();
  chat.rendered.clear();
  chat.pending.clear();
  clearTyping();
  ui.loadOlder.hidden = true;
}

/** Loads the page of history before the oldest message shown (the newest page when empty). */
async function loadHistory() {
  const room = session.room;
  if (!session.client || !room) return;
  const oldest = ui.messages.querySelector("li[data-seq]")?.dataset.seq;
  const data = { roomId: room, limit: PAGE_SIZE, ...(oldest ? { before: Number(oldest) } : {}) };
  ui.loadOlder.disabled = true;
  try {
    const ack = await session.client.request("message:history", data);
    if (room !== session.room) return;
    if (!ack.success) return showError(`Could not load history: ${ack.error}`);
    const keep = ui.messages.scrollHeight - ui.messages.scrollTop;
    for (
      const [u, seq] of Object.entries(/** @type {Record<string, number>} */ (ack.reads ?? {}))
    ) {
      receipts.read.set(u, Math.max(receipts.read.get(u) ?? 0, seq));
    }
    for (
      const [u, seq] of Object.entries(/** @type {Record<string, number>} */ (ack.delivered ?? {}))
    ) {
      receipts.delivered.set(u, Math.max(receipts.delivered.get(u) ?? 0, seq));
    }
    for (const m of /** @type {any[]} */ (ack.messages)) renderMessage(m);
    refreshTicks();
    // Older messages go on top: keep the reader where they were.
    if (oldest) ui.messages.scrollTop = ui.messages.scrollHeight - keep;
    ui.loadOlder.hidden = !ack.hasMore;
  } catch (err) {
    showError(`Could not load history: ${/** @type {Error} */ (err).message}`);
  } finally {
    ui.loadOlder.disabled = false;
  }
}

/** @param {string} roomId */
async function join(roomId) {
  const client = session.client;
  if (!client) return;
  showError("");
  if (session.room && session.room !== roomId) await leave();
  const ack = await client.request("room:join", { roomId });
  if (!ack.success) return showError(`Cannot join ${roomId}: ${ack.error}`);
  clearRoomView(); // a re-join starts over from the newest page
  session.room = String(ack.roomId);
  session.participants = new Map(
    /** @type {{userId: string, role: string}[]} */ (ack.participants).map((p) => [
      p.userId,
      p.role,
    ]),
  );
  const members = /** @type {{userId: string, role: string}[]} */ (ack.members ?? []);
  session.members = new Map(members.map((p) => [p.userId, p.role]));
  receipts.members = members.map((p) => p.userId);
  void resolveNames([...receipts.members, ...session.participants.keys()]);
  receipts.read.clear();
  receipts.delivered.clear();
  receipts.markedRead = 0;
  setJoined(true);
  renderRoomInfo();
  onRoster([...session.participants.keys()]);
  await loadHistory();
  void refreshRooms();
}

async function leave() {
  const room = session.room;
  if (!session.client || !room) return;
  resetChat();
  const ack = await session.client.request("room:leave", { roomId: room }).catch(failedAck);
  if (!ack.success) showError(`Could not leave ${room}: ${ack.error}`);
}

/**
 * The entry of a send without an ack: the text, "Sending…" (or why it failed) and, once it
 * failed, Retry and Discard.
 * @param {{roomId: string, message: string, clientMessageId: string}} draft
 */
function pendingElement(draft) {
  const li = document.createElement("li");
  li.className = "message own";
  li.dataset.send = "pending";
  li.dataset.clientMessageId = draft.clientMessageId;
  const meta = document.createElement("div");
  meta.className = "meta";
  const sender = nameElement(String(session.user?.id));
  sender.className = "sender";
  const state = document.createElement("span");
  state.className = "send-state";
  state.setAttribute("role", "status");
  meta.append(sender, " ", state);
  const body = document.createElement("p");
  body.className = "text";
  body.textContent = draft.message;
  const actions = document.createElement("div");
  actions.className = "actions";
  actions.hidden = true;
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "link";
  retry.textContent = "Retry";
  retry.addEventListener("click", () => void deliver(draft, li));
  const discard = document.createElement("button");
  discard.type = "button";
  discard.className = "link";
  discard.textContent = "Discard";
  discard.addEventListener("click", () => {
    li.remove();
    chat.pending.delete(draft.clientMessageId);
  });
  actions.append(retry, discard);
  li.append(meta, body, actions);
  return li;
}

/**
 * Sends `draft` and keeps its entry current: waits through a reconnect (the request waits in
 * the client's queue), and shows a refusal or a timeout next to the message with Retry.
 * @param {{roomId: string, message: string, clientMessageId: string}} draft
 * @param {HTMLElement} li
 */
async function deliver(draft, li) {
  const client = session.client;
  if (!client) return;
  const state = /** @type {HTMLElement} */ (li.querySelector(".send-state"));
  const actions = /** @type {HTMLElement} */ (li.querySelector(".actions"));
  li.dataset.send = "pending";
  actions.hidden = true;
  const deadline = Date.now() + SEND_PATIENCE_MS;
  /** @param {string} why */
  const failed = (why) => {
    if (!li.isConnected) return;
    li.dataset.send = "failed";
    state.textContent = `Not sent: ${why}`;
    actions.hidden = false;
  };
  for (;;) {
    state.textContent = client.connected ? "Sending…" : "Waiting for the connection…";
    try {
      const ack = await client.request("message:send", draft, {
        timeoutMs: Math.max(1000, deadline - Date.now()),
      });
      if (!ack.success) return failed(String(ack.error));
      if (draft.roomId === session.room) {
        renderMessage(ack.message);
        refreshTicks();
      }
      li.remove();
      chat.pending.delete(draft.clientMessageId);
      return;
    } catch (err) {
      const e = /** @type {Error & {code?: string}} */ (err);
      // Sent when the socket dropped: it goes again once a socket is back.
      if (e.code === "DISCONNECTED" && Date.now() < deadline && client === session.client) {
        continue;
      }
      return failed(e.code === "TIMEOUT" ? "no connection to the server" : e.message);
    }
  }
}

function send() {
  const text = ui.input.value;
  if (!session.client || !session.room || text.trim() === "") return;
  const draft = {
    roomId: session.room,
    message: text,
    clientMessageId: chat.draftId ?? newDraftId(),
  };
  chat.draftId = null;
  sendTypingStop();
  ui.input.value = "";
  const li = pendingElement(draft);
  chat.pending.set(draft.clientMessageId, li);
  ui.messages.append(li);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  ui.input.focus();
  void deliver(draft, li);
}

function onInput() {
  chat.draftId = null; // an edited draft is a new message
  composerInput(ui.input.value);
}

/** Sets a room's unread badge in the room list. @param {string} roomId @param {number} count */
function setBadge(roomId, count) {
  const badge = ui.roomList.querySelector(`li[data-room="${CSS.escape(roomId)}"] .badge`);
  if (!badge) return void refreshRooms();
  badge.textContent = count > 0 ? String(count) : "";
  badge.setAttribute("aria-label", `${count} unread`);
  badge.hidden = count === 0;
}

/** The user's rooms with their unread counts (room:list), each a button that joins it. */
async function refreshRooms() {
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
    b.addEventListener("click", () => {
      ui.roomId.value = r.roomId;
      join(r.roomId).catch((err) => showError(`Cannot join ${r.roomId}: ${err.message}`));
    });
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

/** New names: the room line and the room list's chat titles say them. */
function renameRooms() {
  renderRoomInfo();
  for (const li of ui.roomList.children) {
    const room = String(/** @type {HTMLElement} */ (li).dataset.room);
    const b = li.querySelector("button");
    if (b) b.textContent = roomTitle(room);
  }
}

/**
 * Forgets the joined room locally after a last typing:stop (the socket is still open). Used by
 * Leave, which then tells the server, and by signing out, which keeps the membership on the
 * server (participants are per user, so the user is still in the room on their next sign-in).
 */
export function resetChat() {
  sendTypingStop();
  session.room = null;
  session.participants.clear();
  session.members.clear();
  clearRoomView();
  setJoined(false);
  renderRoomInfo();
  onRoster([]);
}

/**
 * Subscribes a new client to the room's events.
 * @param {import("./client.js").RealtimeClient} client
 */
export function listenChat(client) {
  client.on("message:new", (m) => {
    stopTyping(m.senderId);
    renderMessage(m);
  });
  client.on("message:updated", updateMessage);
  client.on("message:status", (s) => {
    if (s.roomId !== session.room) return;
    const map = s.status === "read" ? receipts.read : receipts.delivered;
    map.set(s.userId, Math.max(map.get(s.userId) ?? 0, s.seq));
    refreshTicks();
  });
  client.on("room:unread", (u) => setBadge(u.roomId, u.unreadCount));
  client.on("status", (s) => {
    if (s === "open") void refreshRooms();
  });
  client.on("message:sent", renderMessage);
  client.on("room:resumed", (ack) => {
    if (ack.roomId !== session.room) return;
    if (!ack.success) {
      showError(`Lost room ${ack.roomId}: ${ack.error}`);
      session.room = null;
      setJoined(false);
      return renderRoomInfo();
    }
    if (ack.recovered === false) {
      clearRoomView();
      return void loadHistory();
    }
    for (const m of ack.messages ?? []) renderMessage(m);
  });
  client.on("room:userJoined", (p) => {
    if (p.roomId !== session.room) return;
    session.participants.set(p.userId, p.role);
    void resolveNames([p.userId]);
    renderRoomInfo();
    onRoster([p.userId]);
  });
  client.on("room:userLeft", (p) => {
    if (p.roomId !== session.room) return;
    session.participants.delete(p.userId);
    stopTyping(p.userId);
    renderRoomInfo();
    onRoster([]);
  });
  listenTyping(client);
}

/**
 * Wires the room, history and composer controls; once, at start-up.
 * @param {{onRoster: (added: string[]) => void}} hooks `onRoster` runs after every change of
 *   the participant list (join, leave, someone arriving or leaving, sign-out).
 */
export function initChat(hooks) {
  onRoster = hooks.onRoster;
  onNames(renameRooms);
  ui.roomForm.addEventListener("submit", (/** @type {SubmitEvent} */ e) => {
    e.preventDefault();
    const roomId = ui.roomId.value.trim();
    if (roomId) {
      join(roomId).catch((err) => showError(`Cannot join ${roomId}: ${err.message}`));
    }
  });
  ui.leave.addEventListener("click", () => void leave());
  ui.loadOlder.addEventListener("click", () => void loadHistory());
  ui.sendForm.addEventListener("submit", (/** @type {SubmitEvent} */ e) => {
    e.preventDefault();
    send();
  });
  ui.input.addEventListener("input", onInput);
  ui.input.addEventListener("keydown", (/** @type {KeyboardEvent} */ e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      ui.sendForm.requestSubmit();
    }
  });
}
