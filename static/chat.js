/**
 * @module
 * The chat panel: joining and leaving one room at a time, messages in seq
 * order with history paging, and the composer (typing indicators live in
 * typing.js). Owns `session.room` and its participants; whatever else follows
 * the participant list (default callee, presence rows) is the `onRoster`
 * hook's business. Messages and names are hostile input: they reach the DOM
 * via `textContent` only.
 * Sends without an ack live in outbox.js, the room list in rooms.js.
 */

import { byId, showError } from "./dom.js";
import { failedAck, session } from "./session.js";
import { clearTyping, composerInput, listenTyping, sendTypingStop, stopTyping } from "./typing.js";
import { nameElement, nameOf, onNames, resolveNames } from "./names.js";
import { clearPending, queueSend, settlePending } from "./outbox.js";
import { initRooms, markCurrentRoom, refreshRooms, roomTitle, setBadge } from "./rooms.js";

const PAGE_SIZE = 20;

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
};

/** Receipt cursors of the joined room's users (from history and message:status). */
const receipts = {
  /** @type {Map<string, number>} */ read: new Map(),
  /** @type {Map<string, number>} */ delivered: new Map(),
  /** Highest seq this page has marked read. */ markedRead: 0,
  /** @type {ReturnType<typeof setTimeout> | undefined} */ readTimer: undefined,
};

const TICKS = { sent: "✓ sent", delivered: "✓✓ delivered", read: "✓✓ read" };

/** @type {{rendered: Map<string, HTMLElement>, draftId: string | null}} */
const chat = {
  rendered: new Map(),
  draftId: null,
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

function renderRoomInfo() {
  if (!session.room) return void (ui.roomInfo.textContent = "Not in a room.");
  const people = [...session.participants]
    .filter(([id]) => id !== session.user?.id)
    .map(([id, role]) => `${nameOf(id)} (${role})`)
    .join(", ");
  const here = people || "only you so far";
  ui.roomInfo.textContent = `In ${roomTitle(session.room)}. Participants: ${here}`;
  markCurrentRoom();
}

/**
 * A message's status as this page knows it: `read` once every other member read it, `delivered`
 * once every other member received it, else `sent`. Rooms without a member list (topics) keep
 * what the server said.
 * @param {any} m
 */
function statusOf(m) {
  const others = [...session.members.keys()].filter((u) => u !== m.senderId);
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
  if (m.clientMessageId) settlePending(m.clientMessageId);
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
  clearPending();
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
  void resolveNames([...session.members.keys(), ...session.participants.keys()]);
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
  ui.input.focus();
  queueSend(ui.messages, draft, (m) => {
    renderMessage(m);
    refreshTicks();
  });
}

function onInput() {
  chat.draftId = null; // an edited draft is a new message
  composerInput(ui.input.value);
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
  onNames(renderRoomInfo);
  initRooms({
    onPick: (roomId) => {
      ui.roomId.value = roomId;
      join(roomId).catch((err) => showError(`Cannot join ${roomId}: ${err.message}`));
    },
  });
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
