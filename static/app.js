/**
 * @module
 * The test client page: sign in, one room at a time, messages with history
 * paging, typing indicators and a raw frame log. Every piece of text from the
 * server or a user reaches the DOM through `textContent` only (messages are
 * hostile input); the page never builds HTML from strings. The token lives in
 * memory only: a reload signs out.
 */

import { connect } from "./client.js";

const PAGE_SIZE = 20;
const LOG_LIMIT = 300;
const TYPING_RESEND_MS = 2500;
const TYPING_IDLE_MS = 3000;
/** A remote typing:start without a typing:stop fades after this long. */
const TYPING_TTL_MS = 6000;

/** @param {string} id */
const byId = (id) => /** @type {any} */ (document.getElementById(id));

const ui = {
  status: byId("status"),
  loginPanel: byId("login-panel"),
  loginForm: byId("login-form"),
  loginButton: byId("login-button"),
  email: byId("email"),
  password: byId("password"),
  chatPanel: byId("chat-panel"),
  who: byId("who"),
  logout: byId("logout-button"),
  roomForm: byId("room-form"),
  roomId: byId("room-id"),
  leave: byId("leave-button"),
  roomInfo: byId("room-info"),
  loadOlder: byId("load-older"),
  messages: byId("messages"),
  typing: byId("typing"),
  sendForm: byId("send-form"),
  input: byId("message-input"),
  send: byId("send-button"),
  error: byId("error"),
  log: byId("log"),
  clearLog: byId("clear-log"),
};

/**
 * @type {{
 *   client: import("./client.js").RealtimeClient | null,
 *   user: {id: string, name: string, role: string} | null,
 *   room: string | null,
 *   participants: Map<string, string>,
 *   rendered: Map<string, HTMLElement>,
 *   typing: Map<string, ReturnType<typeof setTimeout>>,
 *   typingSentAt: number,
 *   typingIdle?: ReturnType<typeof setTimeout>,
 *   draftId: string | null,
 * }}
 */
const state = {
  client: null,
  user: null,
  room: null,
  participants: new Map(),
  rendered: new Map(),
  typing: new Map(),
  typingSentAt: 0,
  draftId: null,
};

const STATUS_TEXT = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  unauthorized: "Signed out: token refused or expired",
  closed: "Offline",
};

/** @param {string} message */
function showError(message) {
  ui.error.textContent = message;
}

/**
 * @param {"in" | "out" | "http" | "sys"} dir
 * @param {string} summary
 * @param {unknown} [data]
 */
function log(dir, summary, data) {
  const li = document.createElement("li");
  li.className = `log-${dir}`;
  const arrow = { in: "←", out: "→", http: "⇄", sys: "•" }[dir];
  const json = data === undefined ? "" : JSON.stringify(data);
  const time = new Date().toLocaleTimeString();
  li.textContent = `${time} ${arrow} ${summary} ${
    json.length > 600 ? json.slice(0, 600) + "…" : json
  }`;
  const atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
  ui.log.append(li);
  while (ui.log.children.length > LOG_LIMIT) ui.log.firstElementChild.remove();
  if (atBottom) ui.log.scrollTop = ui.log.scrollHeight;
}

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
  if (!state.room) return void (ui.roomInfo.textContent = "Not in a room.");
  const people = [...state.participants].map(([id, role]) => `${id} (${role})`).join(", ");
  ui.roomInfo.textContent = `In ${state.room}. Participants: ${people || "none"}`;
}

function renderTyping() {
  const names = [...state.typing.keys()];
  ui.typing.textContent = names.length === 0
    ? ""
    : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing...`;
}

/** @param {string} userId */
function stopTyping(userId) {
  clearTimeout(state.typing.get(userId));
  if (state.typing.delete(userId)) renderTyping();
}

/**
 * Inserts a message in seq order; a message already shown (ack, echo, resume) is skipped.
 * @param {any} m
 */
function renderMessage(m) {
  if (!m || m.roomId !== state.room || state.rendered.has(m.id)) return;
  const li = document.createElement("li");
  li.className = m.senderId === state.user?.id ? "message own" : "message";
  li.dataset.seq = String(m.seq);
  const meta = document.createElement("div");
  meta.className = "meta";
  const sender = document.createElement("span");
  sender.className = "sender";
  sender.textContent = m.senderId === state.user?.id ? `${m.senderId} (you)` : String(m.senderId);
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
  state.rendered.set(m.id, li);

  const next = [...ui.messages.children].find((el) => Number(el.dataset.seq) > m.seq);
  const stick = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
  ui.messages.insertBefore(li, next ?? null);
  if (!next && stick) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function clearRoomView() {
  ui.messages.replaceChildren();
  state.rendered.clear();
  for (const id of [...state.typing.keys()]) stopTyping(id);
  ui.loadOlder.hidden = true;
}

/** Loads the page of history before the oldest message shown (the newest page when empty). */
async function loadHistory() {
  const room = state.room;
  if (!state.client || !room) return;
  const oldest = ui.messages.firstElementChild?.dataset.seq;
  const data = { roomId: room, limit: PAGE_SIZE, ...(oldest ? { before: Number(oldest) } : {}) };
  ui.loadOlder.disabled = true;
  try {
    const ack = await state.client.request("message:history", data);
    if (room !== state.room) return;
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
  const client = state.client;
  if (!client) return;
  showError("");
  if (state.room && state.room !== roomId) await leave();
  const ack = await client.request("room:join", { roomId });
  if (!ack.success) return showError(`Cannot join ${roomId}: ${ack.error}`);
  clearRoomView(); // a re-join starts over from the newest page
  state.room = String(ack.roomId);
  state.participants = new Map(
    /** @type {{userId: string, role: string}[]} */ (ack.participants).map((p) => [
      p.userId,
      p.role,
    ]),
  );
  setJoined(true);
  renderRoomInfo();
  await loadHistory();
}

async function leave() {
  const room = state.room;
  if (!state.client || !room) return;
  sendTypingStop();
  state.room = null;
  state.participants.clear();
  clearRoomView();
  setJoined(false);
  renderRoomInfo();
  const ack = await state.client.request("room:leave", { roomId: room }).catch((e) => ({
    success: false,
    error: e.message,
  }));
  if (!ack.success) showError(`Could not leave ${room}: ${ack.error}`);
}

async function send() {
  const text = ui.input.value;
  if (!state.client || !state.room || text.trim() === "") return;
  state.draftId ??= newDraftId();
  sendTypingStop();
  ui.send.disabled = true;
  try {
    const ack = await state.client.request("message:send", {
      roomId: state.room,
      message: text,
      clientMessageId: state.draftId,
    });
    if (!ack.success) return showError(`Not sent: ${ack.error}`);
    showError("");
    renderMessage(ack.message);
    if (ui.input.value === text) ui.input.value = "";
    state.draftId = null;
  } catch (err) {
    const reason = /** @type {Error} */ (err).message;
    showError(`Not sent: ${reason}. Send again to retry; it will not be stored twice.`);
  } finally {
    ui.send.disabled = !state.room;
    ui.input.focus();
  }
}

function onInput() {
  state.draftId = null;
  if (!state.client || !state.room) return;
  clearTimeout(state.typingIdle);
  if (ui.input.value === "") return sendTypingStop();
  if (Date.now() - state.typingSentAt > TYPING_RESEND_MS) {
    state.client.emit("typing:start", { roomId: state.room });
    state.typingSentAt = Date.now();
  }
  state.typingIdle = setTimeout(sendTypingStop, TYPING_IDLE_MS);
}

function sendTypingStop() {
  clearTimeout(state.typingIdle);
  if (state.typingSentAt === 0 || !state.client || !state.room) return;
  state.typingSentAt = 0;
  state.client.emit("typing:stop", { roomId: state.room });
}

/** @param {string} token */
function startClient(token) {
  const client = connect("/ws", { token });
  state.client = client;
  client.on("frame", ({ dir, frame }) => {
    log(dir, frame.event ?? `ack #${frame.ack}`, frame.data);
  });
  client.on("disconnect", ({ code, reason }) => {
    log("sys", `socket closed ${code}${reason ? ` (${reason})` : ""}`);
  });
  client.on("status", (s) => {
    log("sys", `status ${s}`);
    ui.status.dataset.state = s;
    ui.status.textContent = STATUS_TEXT[/** @type {keyof STATUS_TEXT} */ (s)] ?? s;
    if (s === "unauthorized") showError("Session ended: sign out, then sign in again.");
  });
  client.on("connect_error", (d) => showError(String(d?.message)));
  client.on("error", (d) => showError(`${d?.event}: ${d?.error}`));
  client.on("message:new", (m) => {
    stopTyping(m.senderId);
    renderMessage(m);
  });
  client.on("message:sent", renderMessage);
  client.on("room:resumed", (ack) => {
    if (ack.roomId !== state.room) return;
    if (!ack.success) {
      showError(`Lost room ${ack.roomId}: ${ack.error}`);
      state.room = null;
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
    if (p.roomId !== state.room) return;
    state.participants.set(p.userId, p.role);
    renderRoomInfo();
  });
  client.on("room:userLeft", (p) => {
    if (p.roomId !== state.room) return;
    state.participants.delete(p.userId);
    stopTyping(p.userId);
    renderRoomInfo();
  });
  client.on("typing:start", (t) => {
    if (t.roomId !== state.room) return;
    clearTimeout(state.typing.get(t.userId));
    state.typing.set(t.userId, setTimeout(() => stopTyping(t.userId), TYPING_TTL_MS));
    renderTyping();
  });
  client.on("typing:stop", (t) => stopTyping(t.userId));
}

ui.loginForm.addEventListener("submit", async (/** @type {SubmitEvent} */ e) => {
  e.preventDefault();
  showError("");
  ui.loginButton.disabled = true;
  try {
    const res = await fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: ui.email.value, password: ui.password.value }),
    });
    const body = await res.json().catch(() => ({}));
    log("http", `POST /api/v1/auth/login ${res.status}`, res.ok ? { user: body.user } : body);
    if (!res.ok) return showError(`Sign-in failed: ${body.error ?? res.statusText}`);
    ui.password.value = "";
    state.user = body.user;
    ui.who.textContent = `${body.user.name} (${body.user.id}, ${body.user.role})`;
    ui.loginPanel.hidden = true;
    ui.chatPanel.hidden = false;
    startClient(body.token);
    ui.roomId.focus();
  } catch (err) {
    showError(`Sign-in failed: ${/** @type {Error} */ (err).message}`);
  } finally {
    ui.loginButton.disabled = false;
  }
});

ui.logout.addEventListener("click", () => {
  sendTypingStop();
  state.client?.close();
  state.client = null;
  state.user = null;
  state.room = null;
  state.participants.clear();
  clearRoomView();
  setJoined(false);
  renderRoomInfo();
  ui.chatPanel.hidden = true;
  ui.loginPanel.hidden = false;
  ui.email.focus();
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
  void send();
});
ui.input.addEventListener("input", onInput);
ui.input.addEventListener("keydown", (/** @type {KeyboardEvent} */ e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    ui.sendForm.requestSubmit();
  }
});
ui.clearLog.addEventListener("click", () => ui.log.replaceChildren());
