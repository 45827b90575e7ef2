/**
 * @module
 * The test client page: sign in, one room at a time, messages with history
 * paging, typing indicators, presence of the people you watch and your own
 * status, notifications with an unread badge, audio and video calls (WebRTC
 * with call:signal as the signalling channel) and a raw frame log. Every piece
 * of text from the server or a user reaches the DOM through `textContent` only
 * (messages, names and custom statuses are hostile input); the page never
 * builds HTML from strings. The token lives in memory only: a reload signs out.
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
  presencePanel: byId("presence-panel"),
  statusForm: byId("status-form"),
  myStatus: byId("my-status"),
  customStatus: byId("custom-status"),
  presenceList: byId("presence-list"),
  watchForm: byId("watch-form"),
  watchId: byId("watch-id"),
  notificationsPanel: byId("notifications-panel"),
  badge: byId("notification-badge"),
  notifications: byId("notifications"),
  notificationsEmpty: byId("notifications-empty"),
  notificationsMore: byId("notifications-more"),
  callPanel: byId("call-panel"),
  callState: byId("call-state"),
  incoming: byId("incoming"),
  incomingText: byId("incoming-text"),
  acceptCall: byId("accept-call"),
  rejectCall: byId("reject-call"),
  callForm: byId("call-form"),
  callTo: byId("call-to"),
  videoCall: byId("video-call"),
  audioCall: byId("audio-call"),
  hangup: byId("hangup"),
  remoteVideo: byId("remote-video"),
  remoteCaption: byId("remote-caption"),
  localVideo: byId("local-video"),
};

/** Panels shown only while signed in. */
const SESSION_PANELS = [ui.chatPanel, ui.callPanel, ui.presencePanel, ui.notificationsPanel];

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

/**
 * A request that got no ack (timeout, socket gone) as a refusal, for callers that report both alike.
 * @param {Error} err
 * @returns {import("./client.js").AckData}
 */
function failedAck(err) {
  return { success: false, error: err.message };
}

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
  updateDefaultCallee();
  void watchUsers([...state.participants.keys()]);
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
  updateDefaultCallee();
  const ack = await state.client.request("room:leave", { roomId: room }).catch(failedAck);
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

// ---------------------------------------------------------------------------
// Presence: a row per watched user (yourself first), kept current by
// presence:changed. Subscriptions live on the socket, so every new connection
// subscribes again (onOpen).

const PRESENCE_TEXT = {
  online: "online",
  away: "away",
  busy: "busy",
  in_call: "in a call",
  offline: "offline",
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
  const name = document.createElement("span");
  name.className = "user";
  name.textContent = userId === state.user?.id ? `${userId} (you)` : userId;
  const status = document.createElement("span");
  status.className = "presence-status";
  status.textContent = "…";
  const custom = document.createElement("span");
  custom.className = "custom-status";
  li.append(dot, name, status, custom);
  if (userId !== state.user?.id) {
    const stop = document.createElement("button");
    stop.type = "button";
    stop.className = "secondary small";
    stop.textContent = "Unwatch";
    stop.setAttribute("aria-label", `Stop watching ${userId}`);
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
  const mine = p.userId === state.user?.id;
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
  const client = state.client;
  if (!client?.connected) return; // onOpen subscribes every row
  await Promise.all(userIds.map(async (userId) => {
    const ack = await client.request("presence:subscribe", { userIds: [userId] }).catch(failedAck);
    const li = watched.get(userId);
    if (!li || client !== state.client) return;
    if (!ack.success) return setPresenceText(li, "error", `not available: ${ack.error}`);
    for (const p of /** @type {any[]} */ (ack.presences)) renderPresence(p);
  }));
}

/** @param {string[]} userIds */
function watchUsers(userIds) {
  const fresh = [...new Set(userIds)].filter((id) => id && !watched.has(id));
  for (const id of fresh) presenceRow(id);
  return subscribePresence(fresh);
}

/** @param {string} userId */
async function unwatch(userId) {
  const li = watched.get(userId);
  if (!li) return;
  watched.delete(userId);
  li.remove();
  if (!state.client?.connected || li.dataset.status === "error") return;
  const ack = await state.client.request("presence:unsubscribe", { userIds: [userId] })
    .catch(failedAck);
  if (!ack.success) showError(`Could not unwatch ${userId}: ${ack.error}`);
}

function clearPresence() {
  watched.clear();
  ui.presenceList.replaceChildren();
  ui.myStatus.value = "online";
  ui.customStatus.value = "";
}

async function setMyStatus() {
  if (!state.client) return;
  const custom = ui.customStatus.value.trim();
  const ack = await state.client.request("presence:setStatus", {
    status: ui.myStatus.value,
    customStatus: custom === "" ? null : custom,
  }).catch(failedAck);
  if (!ack.success) showError(`Could not set status: ${ack.error}`);
}

// ---------------------------------------------------------------------------
// Notifications: newest first (ids are ULIDs, so they sort by time), a badge
// with the server's unread count, read on click. Reads made on another device
// arrive as notification:read.

const NOTIFICATION_PAGE = 20;

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
  if (!state.client || !li || li.dataset.read === "true") return;
  const ack = await state.client.request("notification:read", { notificationId: id })
    .catch(failedAck);
  if (!ack.success) return showError(`Could not mark read: ${ack.error}`);
  setNoteRead(li, true);
  setUnread(ack.unreadCount);
}

async function refreshUnread() {
  const client = state.client;
  if (!client?.connected) return;
  const ack = await client.request("notification:getUnreadCount").catch(() => null);
  if (ack?.success && client === state.client) setUnread(ack.unreadCount);
}

/** @param {boolean} reset the newest page (after connecting) instead of the next older one */
async function loadNotifications(reset) {
  const client = state.client;
  if (!client?.connected) return;
  const oldest = reset ? undefined : ui.notifications.lastElementChild?.dataset.id;
  ui.notificationsMore.disabled = true;
  try {
    const ack = await client.request("notification:list", {
      limit: NOTIFICATION_PAGE,
      ...(oldest ? { before: oldest } : {}),
    });
    if (client !== state.client) return;
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

// ---------------------------------------------------------------------------
// Calls. The server keeps the call state; this page keeps the media. The
// caller sends the offer once the call is accepted; offer, answer and ICE
// candidates travel as call:signal (RTCSessionDescriptionInit and
// RTCIceCandidateInit JSON). No ICE servers: host candidates only, enough on
// one machine or network. Once media connects the page sends call:connected
// (the server's "in_progress"). Everything is released when the call ends.

const END_TEXT = {
  hangup: "Call ended",
  cancelled: "Call cancelled",
  declined: "Call declined",
  rejected: "Call rejected",
  missed: "Missed call: no answer",
  connection_lost: "Call dropped: connection lost",
  answered_elsewhere: "Answered on another device",
};

/**
 * @type {{
 *   id: string | null,
 *   role: "caller" | "callee" | null,
 *   peer: string,
 *   type: string,
 *   status: string,
 *   busy: boolean,
 *   pc: RTCPeerConnection | null,
 *   local: MediaStream | null,
 *   remote: MediaStream | null,
 *   candidates: RTCIceCandidateInit[],
 *   offered: boolean,
 *   connectedSent: boolean,
 *   signals: Promise<void>,
 *   incoming: {callId: string, callerId: string, callType: string, visitId?: string} | null,
 * }}
 */
const call = {
  id: null,
  role: null,
  peer: "",
  type: "video",
  status: "idle",
  busy: false,
  pc: null,
  local: null,
  remote: null,
  candidates: [],
  offered: false,
  connectedSent: false,
  signals: Promise.resolve(),
  incoming: null,
};

/** @param {string} status @param {string} text */
function setCallState(status, text) {
  call.status = status;
  ui.callState.dataset.state = status;
  ui.callPanel.dataset.callState = status;
  ui.callState.textContent = text;
  updateCallButtons();
}

function updateCallButtons() {
  const active = call.busy || call.id !== null;
  ui.videoCall.disabled = active;
  ui.audioCall.disabled = active;
  ui.hangup.disabled = call.id === null;
  ui.acceptCall.disabled = active;
  ui.rejectCall.disabled = call.busy;
}

function renderRtc() {
  const rtc = call.pc?.connectionState ?? "none";
  ui.callPanel.dataset.rtc = rtc;
  const who = call.peer ? `Remote: ${call.peer}` : "Remote";
  ui.remoteCaption.textContent = call.pc ? `${who} · media ${rtc}` : who;
}

/** The other participants of the joined room; the first one is the default callee. */
function updateDefaultCallee() {
  if (ui.callTo.dataset.auto === "false" && ui.callTo.value.trim() !== "") return;
  const other = [...state.participants.keys()].find((id) => id !== state.user?.id);
  ui.callTo.value = other ?? "";
  ui.callTo.dataset.auto = "true";
}

/**
 * The microphone, plus the camera for a video call; without a usable camera
 * a video call goes on with sound only.
 * @param {string} type "audio" | "video"
 */
async function getMedia(type) {
  const media = navigator.mediaDevices;
  if (!media?.getUserMedia) {
    throw new Error("camera and microphone need a secure page (https: or localhost)");
  }
  if (type !== "video") return await media.getUserMedia({ audio: true });
  try {
    return await media.getUserMedia({ audio: true, video: true });
  } catch (err) {
    const name = /** @type {Error} */ (err).name;
    if (!["NotFoundError", "NotReadableError", "OverconstrainedError"].includes(name)) throw err;
    log("sys", `no camera (${name}): sound only`);
    return await media.getUserMedia({ audio: true });
  }
}

/** @param {MediaStream | null} stream */
function stopStream(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}

/** @param {HTMLVideoElement} video @param {MediaStream | null} stream */
function attach(video, stream) {
  if (video.srcObject === stream) return;
  video.srcObject = stream;
  // The autoplay attribute normally suffices; a refused play() only means no picture yet.
  if (stream) video.play().catch(() => {});
}

function hideIncoming() {
  call.incoming = null;
  ui.incoming.hidden = true;
  ui.incomingText.textContent = "";
}

/**
 * Releases media and the peer connection and shows how the call ended.
 * @param {string} status @param {string} text
 */
function finishCall(status, text) {
  const pc = call.pc;
  call.pc = null;
  pc?.close();
  stopStream(call.local);
  attach(ui.localVideo, null);
  attach(ui.remoteVideo, null);
  Object.assign(call, {
    id: null,
    role: null,
    local: null,
    remote: null,
    candidates: [],
    offered: false,
    connectedSent: false,
    signals: Promise.resolve(),
    peer: "",
  });
  setCallState(status, text);
  renderRtc();
}

/** @param {string} reason @param {number} [duration] */
function endText(reason, duration) {
  const what = END_TEXT[/** @type {keyof END_TEXT} */ (reason)] ?? `Call ended (${reason})`;
  return duration ? `${what} after ${duration} s.` : `${what}.`;
}

/** @param {string} type @param {unknown} payload */
function sendSignal(type, payload) {
  const id = call.id;
  if (!id || !state.client) return;
  state.client.request("call:signal", { callId: id, type, payload }).then((ack) => {
    if (!ack.success && call.id === id) showError(`call:signal ${type}: ${ack.error}`);
  }, () => {}); // dropped with the socket: the call's grace period decides
}

/** The call's peer connection, created on first use with the local tracks. */
function ensurePc() {
  if (call.pc) return call.pc;
  const pc = new RTCPeerConnection({ iceServers: [] });
  call.pc = pc;
  const local = call.local;
  for (const track of local?.getTracks() ?? []) {
    pc.addTrack(track, /** @type {MediaStream} */ (local));
  }
  pc.addEventListener("icecandidate", (e) => {
    if (e.candidate && call.pc === pc) sendSignal("ice-candidate", e.candidate.toJSON());
  });
  pc.addEventListener("track", (e) => {
    if (call.pc !== pc) return;
    let stream = e.streams[0];
    if (!stream) {
      stream = call.remote ??= new MediaStream();
      stream.addTrack(e.track);
    }
    attach(ui.remoteVideo, stream);
  });
  pc.addEventListener("connectionstatechange", () => {
    if (call.pc !== pc) return;
    renderRtc();
    if (pc.connectionState === "connected") void mediaConnected();
    if (pc.connectionState === "failed") {
      showError("The media connection failed: hang up and call again.");
    }
  });
  renderRtc();
  return pc;
}

/** Tells the server the media is up (the call becomes in_progress). */
async function mediaConnected() {
  const id = call.id;
  if (!id || !state.client || call.connectedSent) return;
  call.connectedSent = true;
  const ack = await state.client.request("call:connected", { callId: id })
    .catch(failedAck);
  if (call.id !== id) return;
  if (!ack.success) return showError(`call:connected: ${ack.error}`);
  setCallState(String(ack.status), `In a ${call.type} call with ${call.peer}.`);
}

/** @param {RTCPeerConnection} pc */
async function flushCandidates(pc) {
  for (const c of call.candidates.splice(0)) await pc.addIceCandidate(c);
}

/** @param {string} id @param {{type: string, payload: any}} s */
async function handleSignal(id, s) {
  if (call.id !== id) return;
  const pc = ensurePc();
  if (s.type === "offer" || s.type === "answer") {
    const desc = typeof s.payload === "string" ? { type: s.type, sdp: s.payload } : s.payload;
    await pc.setRemoteDescription(desc);
    await flushCandidates(pc);
    if (s.type === "offer") {
      await pc.setLocalDescription(await pc.createAnswer());
      if (call.id === id) sendSignal("answer", pc.localDescription?.toJSON());
    }
  } else if (s.type === "ice-candidate") {
    const candidate = typeof s.payload === "string"
      ? { candidate: s.payload, sdpMLineIndex: 0 }
      : s.payload;
    if (pc.remoteDescription) await pc.addIceCandidate(candidate);
    else call.candidates.push(candidate);
  }
}

/**
 * Signals are handled one at a time, in order: a candidate waits for its description.
 * @param {any} s
 */
function onSignal(s) {
  if (!s || s.callId !== call.id) return;
  const id = call.id;
  call.signals = call.signals.then(() => handleSignal(id, s)).catch((err) => {
    if (call.id === id) showError(`WebRTC ${s.type}: ${err.message}`);
  });
}

/** The caller's half of the handshake, once the callee accepted. */
async function sendOffer() {
  const id = call.id;
  const pc = ensurePc();
  await pc.setLocalDescription(await pc.createOffer());
  if (call.id === id) sendSignal("offer", pc.localDescription?.toJSON());
}

function onAccepted() {
  if (call.status !== "in_progress") setCallState("accepted", `Connecting to ${call.peer}…`);
  if (call.role !== "caller" || call.offered) return;
  call.offered = true;
  const id = call.id;
  call.signals = call.signals.then(sendOffer).catch((err) => {
    if (call.id === id) showError(`WebRTC offer: ${err.message}`);
  });
}

/** @param {string} to @param {string} type */
async function startCall(to, type) {
  const client = state.client;
  if (!client || call.busy || call.id) return;
  showError("");
  call.busy = true;
  call.peer = to;
  call.type = type;
  setCallState("starting", `Calling ${to} (${type}): starting camera and microphone…`);
  /** @type {MediaStream | null} */
  let local = null;
  try {
    local = await getMedia(type);
    if (client !== state.client) return stopStream(local);
    attach(ui.localVideo, local);
    const visitId = state.room?.startsWith("visit:") ? state.room.slice("visit:".length) : "";
    const ack = await client.request("call:initiate", {
      recipientId: to,
      callType: type,
      ...(visitId ? { visitId } : {}),
    });
    if (client !== state.client) return stopStream(local);
    if (!ack.success) {
      stopStream(local);
      attach(ui.localVideo, null);
      setCallState("idle", `Could not call ${to}: ${ack.error}`);
      return showError(`Could not call ${to}: ${ack.error}`);
    }
    // Glare: they were calling us at the same moment, and the server answered their call.
    const glare = call.incoming?.callId === ack.callId;
    if (glare) hideIncoming();
    Object.assign(call, {
      id: String(ack.callId),
      role: glare ? "callee" : "caller",
      local,
    });
    local = null;
    if (ack.status === "accepted") {
      if (call.role === "callee") ensurePc();
      onAccepted();
    } else if (ack.status === "ringing" || ack.status === "initiating") {
      setCallState("ringing", `Calling ${to} (${type}): ringing…`);
    } else {
      finishCall(String(ack.status), `Call ${ack.status}.`);
    }
  } catch (err) {
    stopStream(local);
    if (call.id === null) {
      attach(ui.localVideo, null);
      call.peer = "";
      setCallState("idle", `Could not call ${to}.`);
    }
    showError(`Could not call ${to}: ${/** @type {Error} */ (err).message}`);
  } finally {
    call.busy = false;
    updateCallButtons();
  }
}

async function acceptCall() {
  const inc = call.incoming;
  const client = state.client;
  if (!inc || !client || call.busy || call.id) return;
  showError("");
  call.busy = true;
  setCallState("answering", `Answering ${inc.callerId}: starting camera and microphone…`);
  try {
    const local = await getMedia(inc.callType);
    if (call.incoming !== inc || client !== state.client) return stopStream(local);
    hideIncoming();
    Object.assign(call, {
      id: inc.callId,
      role: "callee",
      peer: inc.callerId,
      type: inc.callType,
      local,
    });
    attach(ui.localVideo, local);
    ensurePc(); // before accepting: the offer may follow the acceptance at once
    const ack = await client.request("call:accept", { callId: inc.callId })
      .catch(failedAck);
    if (call.id !== inc.callId) return; // ended meanwhile
    if (!ack.success) return finishCall("failed", `Could not answer: ${ack.error}`);
    if (call.status === "answering") setCallState("accepted", `Connecting to ${call.peer}…`);
  } catch (err) {
    if (call.id === null) setCallState("incoming", incomingText(inc));
    showError(`Could not answer: ${/** @type {Error} */ (err).message}`);
  } finally {
    call.busy = false;
    updateCallButtons();
  }
}

async function rejectCall() {
  const inc = call.incoming;
  if (!inc || !state.client) return;
  hideIncoming();
  setCallState("rejected", `You declined the call from ${inc.callerId}.`);
  const ack = await state.client.request("call:reject", { callId: inc.callId })
    .catch(failedAck);
  if (!ack.success) showError(`Could not reject: ${ack.error}`);
}

async function hangUp() {
  const id = call.id;
  if (!id || !state.client) return;
  const ack = await state.client.request("call:end", { callId: id })
    .catch(failedAck);
  if (call.id !== id) return; // call:ended came first
  if (ack.success) {
    return finishCall(
      "ended",
      endText(call.status === "ringing" ? "cancelled" : "hangup", ack.duration),
    );
  }
  showError(`Could not hang up: ${ack.error}`);
  if (ack.code === "CONFLICT" || ack.code === "NOT_FOUND") finishCall("ended", "Call over.");
}

/** @param {{callerId: string, callType: string, visitId?: string}} inc */
function incomingText(inc) {
  const visit = inc.visitId ? ` for visit ${inc.visitId}` : "";
  return `Incoming ${inc.callType} call from ${inc.callerId}${visit}.`;
}

/** @param {any} d */
function onIncoming(d) {
  if (!d || typeof d.callId !== "string") return;
  call.incoming = {
    callId: d.callId,
    callerId: String(d.callerId),
    callType: d.callType === "audio" ? "audio" : "video",
    ...(d.visitId ? { visitId: String(d.visitId) } : {}),
  };
  ui.incomingText.textContent = incomingText(call.incoming);
  ui.incoming.hidden = false;
  if (!call.id && !call.busy) setCallState("incoming", incomingText(call.incoming));
  updateCallButtons();
}

/**
 * call:ended, call:rejected and call:missed, for the current call or the one ringing here.
 * @param {string} status @param {any} d
 */
function onCallOver(status, d) {
  const reason = String(d?.reason ?? status);
  if (d?.callId && d.callId === call.id) {
    return finishCall(status, endText(reason, d.duration));
  }
  if (d?.callId && d.callId === call.incoming?.callId) {
    const from = call.incoming.callerId;
    hideIncoming();
    // Not while starting a call of our own; answering this one stops (acceptCall sees it gone).
    if (!call.id && (!call.busy || call.status === "answering")) {
      setCallState(status, `${endText(reason)} (from ${from})`);
    }
  }
}

/** Signing out: hang up (best effort), drop the ringing call and the media. */
function resetCall() {
  if (call.id) state.client?.emit("call:end", { callId: call.id });
  hideIncoming();
  finishCall("idle", "No call.");
  call.busy = false;
  updateCallButtons();
}

// ---------------------------------------------------------------------------

/** Every (re)connection: subscriptions and counts belong to the socket. */
function onOpen() {
  void subscribePresence([...watched.keys()]);
  void loadNotifications(true);
  void refreshUnread();
  // A new socket takes over a live call (call:signal goes to the call's socket only).
  const id = call.id;
  if (id && (call.status === "accepted" || call.status === "in_progress")) {
    state.client?.request("call:connected", { callId: id }).then((ack) => {
      if (!ack.success && call.id === id) showError(`Could not keep the call: ${ack.error}`);
    }, () => {});
  }
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
    if (s === "open") onOpen();
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
    updateDefaultCallee();
    void watchUsers([p.userId]);
  });
  client.on("room:userLeft", (p) => {
    if (p.roomId !== state.room) return;
    state.participants.delete(p.userId);
    stopTyping(p.userId);
    renderRoomInfo();
    updateDefaultCallee();
  });
  client.on("typing:start", (t) => {
    if (t.roomId !== state.room) return;
    clearTimeout(state.typing.get(t.userId));
    state.typing.set(t.userId, setTimeout(() => stopTyping(t.userId), TYPING_TTL_MS));
    renderTyping();
  });
  client.on("typing:stop", (t) => stopTyping(t.userId));
  client.on("presence:changed", renderPresence);
  client.on("notification:new", (n) => {
    renderNotification(n);
    void refreshUnread();
  });
  client.on("notification:read", (d) => {
    const li = notes.get(d?.notificationId);
    if (li) setNoteRead(li, true);
    setUnread(d?.unreadCount);
  });
  client.on("call:incoming", onIncoming);
  client.on("call:accepted", (d) => {
    if (d?.callId === call.id) onAccepted();
  });
  client.on("call:signal", onSignal);
  client.on("call:rejected", (d) => onCallOver("rejected", d));
  client.on("call:missed", (d) => onCallOver("missed", d));
  client.on("call:ended", (d) => onCallOver("ended", d));
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
    for (const panel of SESSION_PANELS) panel.hidden = false;
    startClient(body.token);
    void watchUsers([body.user.id]);
    ui.roomId.focus();
  } catch (err) {
    showError(`Sign-in failed: ${/** @type {Error} */ (err).message}`);
  } finally {
    ui.loginButton.disabled = false;
  }
});

ui.logout.addEventListener("click", () => {
  sendTypingStop();
  resetCall();
  state.client?.close();
  state.client = null;
  state.user = null;
  state.room = null;
  state.participants.clear();
  clearRoomView();
  setJoined(false);
  renderRoomInfo();
  updateDefaultCallee();
  clearPresence();
  clearNotifications();
  setUnread(0);
  for (const panel of SESSION_PANELS) panel.hidden = true;
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
ui.notificationsMore.addEventListener("click", () => void loadNotifications(false));
ui.callTo.addEventListener("input", () => {
  ui.callTo.dataset.auto = "false";
});
ui.callForm.addEventListener("submit", (/** @type {SubmitEvent} */ e) => {
  e.preventDefault();
  const to = ui.callTo.value.trim();
  const type = /** @type {HTMLButtonElement | null} */ (e.submitter)?.value === "audio"
    ? "audio"
    : "video";
  if (to) void startCall(to, type);
});
ui.acceptCall.addEventListener("click", () => void acceptCall());
ui.rejectCall.addEventListener("click", () => void rejectCall());
ui.hangup.addEventListener("click", () => void hangUp());
