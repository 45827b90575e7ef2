/**
 * @module
 * The chat panel: joining and leaving one room at a time, messages in seq
 * order with history paging, and the composer (typing indicators live in
 * typing.js). Owns `session.room` and its participants; whatever else follows
 * the participant list (default callee, presence rows) is the `onRoster`
 * hook's business. Messages and names are hostile input: they reach the DOM
 * via `textContent` only.
 */

import { byId, showError } from "./dom.js";
import { failedAck, session } from "./session.js";
import { clearTyping, composerInput, listenTyping, sendTypingStop, stopTyping } from "./typing.js";

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
  const people = [...session.participants].map(([id, role]) => `${id} (${role})`).join(", ");
  ui.roomInfo.textContent = `In ${session.room}. Participants: ${people || "none"}`;
}

/**
 * Inserts a message in seq order; a message already shown (ack, echo, resume) is skipped.
 * @param {any} m
 */
function renderMessage(m) {
  if (!m || m.roomId !== session.room || chat.rendered.has(m.id)) return;
  const li = document.createElement("li");
  const mine = m.senderId === session.user?.id;
  li.className = mine ? "message own" : "message";
  li.dataset.seq = String(m.seq);
  const meta = document.createElement("div");
  meta.className = "meta";
  const sender = document.createElement("span");
  sender.className = "sender";
  sender.textContent = mine ? `${m.senderId} (you)` : String(m.senderId);
  const time = document.createElement("time");
  time.dateTime = String(m.timestamp);
  time.textContent = new Date(m.timestamp).toLocaleString();
  const seq = document.createElement("span");
  seq.className = "seq";
  seq.textContent = `#${m.seq}`;
  meta.append(sender, " ", time, " ", seq);
  const body = document.createElement("p");
  body.className = "text";
  body.textContent = String(m.message);
  li.append(meta, body);
  chat.rendered.set(m.id, li);

  const next = [...ui.messages.children].find((el) => Number(el.dataset.seq) > m.seq);
  const stick = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
  ui.messages.insertBefore(li, next ?? null);
  if (!next && stick) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function clearRoomView() {
  ui.messages.replaceChildren();
  chat.rendered.clear();
  clearTyping();
  ui.loadOlder.hidden = true;
}

/** Loads the page of history before the oldest message shown (the newest page when empty). */
async function loadHistory() {
  const room = session.room;
  if (!session.client || !room) return;
  const oldest = ui.messages.firstElementChild?.dataset.seq;
  const data = { roomId: room, limit: PAGE_SIZE, ...(oldest ? { before: Number(oldest) } : {}) };
  ui.loadOlder.disabled = true;
  try {
    const ack = await session.client.request("message:history", data);
    if (room !== session.room) return;
    if (!ack.success) return showError(`Could not load history: ${ack.error}`);
    const keep = ui.messages.scrollHeight - ui.messages.scrollTop;
    for (const m of /** @type {any[]} */ (ack.messages)) renderMessage(m);
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
  setJoined(true);
  renderRoomInfo();
  onRoster([...session.participants.keys()]);
  await loadHistory();
}

async function leave() {
  const room = session.room;
  if (!session.client || !room) return;
  resetChat();
  const ack = await session.client.request("room:leave", { roomId: room }).catch(failedAck);
  if (!ack.success) showError(`Could not leave ${room}: ${ack.error}`);
}

async function send() {
  const text = ui.input.value;
  if (!session.client || !session.room || text.trim() === "") return;
  chat.draftId ??= newDraftId();
  sendTypingStop();
  ui.send.disabled = true;
  try {
    const ack = await session.client.request("message:send", {
      roomId: session.room,
      message: text,
      clientMessageId: chat.draftId,
    });
    if (!ack.success) return showError(`Not sent: ${ack.error}`);
    showError("");
    renderMessage(ack.message);
    if (ui.input.value === text) ui.input.value = "";
    chat.draftId = null;
  } catch (err) {
    const reason = /** @type {Error} */ (err).message;
    showError(`Not sent: ${reason}. Send again to retry; it will not be stored twice.`);
  } finally {
    ui.send.disabled = !session.room;
    ui.input.focus();
  }
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
    void send();
  });
  ui.input.addEventListener("input", onInput);
  ui.input.addEventListener("keydown", (/** @type {KeyboardEvent} */ e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      ui.sendForm.requestSubmit();
    }
  });
}
