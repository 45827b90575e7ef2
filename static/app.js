/**
 * @module
 * The test client page's entry: sign-in, the connection status, the raw frame
 * log and the wiring of the panels: chat (chat.js, typing.js), presence
 * (presence.js), notifications (notifications.js) and calls (call.js,
 * call_state.js, call_media.js). Every piece of text from the server or a user
 * reaches the DOM through `textContent` only (messages, names and custom
 * statuses are hostile input); the page never builds HTML from strings. The
 * token lives in memory only: a reload signs out.
 */

import { connect } from "./client.js";
import { byId, clearLog, log, showError } from "./dom.js";
import { session } from "./session.js";
import { initChat, listenChat, resetChat } from "./chat.js";
import {
  clearPresence,
  initPresence,
  listenPresence,
  resubscribePresence,
  watchUsers,
} from "./presence.js";
import {
  initNotifications,
  listenNotifications,
  reloadNotifications,
  resetNotifications,
} from "./notifications.js";
import { initCall, listenCall, resetCall, resumeCall, updateDefaultCallee } from "./call.js";

const ui = {
  status: byId("status"),
  loginPanel: byId("login-panel"),
  loginForm: byId("login-form"),
  loginButton: byId("login-button"),
  email: byId("email"),
  password: byId("password"),
  who: byId("who"),
  logout: byId("logout-button"),
  roomId: byId("room-id"),
  clearLog: byId("clear-log"),
};

/** Panels shown only while signed in. */
const SESSION_PANELS = [
  byId("chat-panel"),
  byId("call-panel"),
  byId("presence-panel"),
  byId("notifications-panel"),
];

const STATUS_TEXT = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  unauthorized: "Signed out: token refused or expired",
  stopped: "Disconnected for good (account disabled or too many connections); not retrying",
  closed: "Offline",
};

/** Every (re)connection: subscriptions and counts belong to the socket. */
function onOpen() {
  void resubscribePresence();
  reloadNotifications();
  resumeCall();
}

/** @param {string} token */
function startClient(token) {
  const client = connect("/ws", { token });
  session.client = client;
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
  client.on("halted", (d) => {
    if (d.code !== 4401) showError(`Not reconnecting: ${d.meaning ?? d.reason ?? d.code}`);
  });
  client.on("connect_error", (d) => showError(String(d?.message)));
  client.on("error", (d) => showError(`${d?.event}: ${d?.error}`));
  listenChat(client);
  listenPresence(client);
  listenNotifications(client);
  listenCall(client);
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
    session.user = body.user;
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
  // Chat and call first: their last typing:stop and call:end need the socket.
  resetChat();
  resetCall();
  session.client?.close();
  session.client = null;
  session.user = null;
  clearPresence();
  resetNotifications();
  for (const panel of SESSION_PANELS) panel.hidden = true;
  ui.loginPanel.hidden = false;
  ui.email.focus();
});

ui.clearLog.addEventListener("click", clearLog);

initChat({
  // The default callee and the presence rows follow the room's participants.
  onRoster: (added) => {
    updateDefaultCallee();
    void watchUsers(added);
  },
});
initPresence();
initNotifications();
initCall();
