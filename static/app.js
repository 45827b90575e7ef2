/**
 * @module
 * The test client page's entry: sign-in, the connection status, the raw frame
 * log and the wiring of the panels: chat (chat.js, typing.js), presence
 * (presence.js), notifications (notifications.js) and calls (call.js,
 * call_state.js, call_media.js). Every piece of text from the server or a user
 * reaches the DOM through `textContent` only (messages, names and custom
 * statuses are hostile input); the page never builds HTML from strings. The
 * access token lives in memory only; the session is the refresh cookie
 * (HttpOnly, never readable here): a reload signs back in with it, and the
 * client renews the access token before it expires (client.js `refresh`), on
 * the live socket too (`auth:refresh`), so calls and chats do not drop. Tabs
 * of one browser share the cookie, and a refresh token is single use, so
 * they take turns (a Web Lock). When renewing finally fails, the page says so
 * and signs out: no live control is left running.
 *
 * Modes: in demo mode (`<html data-demo>`, set by the server) the page shows
 * the demo accounts and the raw event log; `?debug` shows the log anywhere.
 */

import { connect } from "./client.js";
import { byId, clearLog, log, showError } from "./dom.js";
import { session } from "./session.js";
import { forgetNames, rememberUser } from "./names.js";
import { initTabs, showTab } from "./tabs.js";
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
  whoLine: byId("who-line"),
  logout: byId("logout-button"),
  tabs: byId("tabs"),
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
  unauthorized: "Signed out: the session has ended",
  stopped: "Disconnected for good; not retrying",
  closed: "Offline",
};

/** Every (re)connection: subscriptions and counts belong to the socket. */
function onOpen() {
  void resubscribePresence();
  reloadNotifications();
  resumeCall();
}

/**
 * A new access token from the refresh cookie: the body ({token, expiresAt, user}), or null when
 * there is no session (any refusal). Throws when the server could not be reached or failed
 * (a restart, say): the session may well live on.
 * @returns {Promise<{token: string, expiresAt: string, user: any} | null>}
 */
function refreshSession() {
  const run = async () => {
    const res = await fetch("/api/v1/auth/refresh", { method: "POST" });
    if (res.status >= 500) throw new Error(`refresh: HTTP ${res.status}`);
    const body = await res.json().catch(() => ({}));
    log("http", `POST /api/v1/auth/refresh ${res.status}`, res.ok ? { user: body.user } : body);
    return res.ok && body.token ? body : null;
  };
  // One refresh at a time across this browser's tabs: each spends the cookie the last one set.
  const locks = globalThis.navigator?.locks;
  return locks ? locks.request("telehealth-refresh", run) : run();
}

/**
 * Shows the signed-in page for `body` ({token, expiresAt, user}) and connects.
 * @param {{token: string, expiresAt: string, user: any}} body
 */
function signedIn(body) {
  session.user = body.user;
  rememberUser(body.user);
  ui.who.textContent = `${body.user.name} (${body.user.role})`;
  ui.whoLine.hidden = false;
  ui.logout.hidden = false;
  ui.tabs.hidden = false;
  ui.loginPanel.hidden = true;
  for (const panel of SESSION_PANELS) panel.hidden = false;
  showTab("chat");
  startClient(body.token);
  void watchUsers([body.user.id]);
}

/** Why the session ended, when the page knows better than "it ended". @type {string | null} */
let endedBecause = null;

/** @param {string} token */
function startClient(token) {
  const client = connect("/ws", {
    token,
    refresh: async () => {
      const body = await refreshSession();
      // The tabs of one browser share one session (the cookie). Someone else signed in in
      // another tab: this one ends rather than turning into them.
      if (body && body.user?.id !== session.user?.id) {
        endedBecause = "Someone else signed in in another window of this browser, which shares " +
          "one session: sign in again here, or use a private window for a second person.";
        return null;
      }
      return body?.token ?? null;
    },
  });
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
    if (s === "open") onOpen();
  });
  // Renewing failed for good (signed out elsewhere, the session expired): nothing stays live.
  client.on("session:ended", () => {
    if (client !== session.client) return;
    signOut();
    showError(endedBecause ?? "Your session has ended: sign in again.");
    endedBecause = null;
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
    signedIn(body);
    ui.roomId.focus();
  } catch (err) {
    showError(`Sign-in failed: ${/** @type {Error} */ (err).message}`);
  } finally {
    ui.loginButton.disabled = false;
  }
});

/** Ends everything live: chat, call, socket, renewals. */
function signOut() {
  // Chat and call first: their last typing:stop and call:end need the socket.
  resetChat();
  resetCall();
  session.client?.close();
  session.client = null;
  session.user = null;
  clearPresence();
  resetNotifications();
  forgetNames();
  for (const panel of SESSION_PANELS) panel.hidden = true;
  ui.whoLine.hidden = true;
  ui.logout.hidden = true;
  ui.tabs.hidden = true;
  ui.who.textContent = "";
  ui.loginPanel.hidden = false;
  ui.email.focus();
}

ui.logout.addEventListener("click", () => {
  signOut();
  // The session itself ends too: a reload must not sign back in.
  void fetch("/api/v1/auth/refresh", { method: "DELETE" }).catch(() => {});
});

// A reload keeps the session: sign back in with the refresh cookie, if there is one.
// `data-session-checked` tells scripts (and tests) the page has decided.
void refreshSession().then((body) => {
  if (body && !session.client) signedIn(body);
}, () => {}).finally(() => document.documentElement.dataset.sessionChecked = "true");

if (new URLSearchParams(location.search).has("debug")) {
  document.documentElement.dataset.debug = "true";
}
initTabs();

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
