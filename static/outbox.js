/**
 * @module
 * Sends that have no ack yet. A send shows at once in the list as "Sending…";
 * while the socket is down it waits in the client's queue and goes out after
 * the reconnect (the same clientMessageId, so it is stored once however often
 * it is retried). If it cannot go within SEND_PATIENCE_MS, or the server
 * refuses it, it stays in the list marked "Not sent", with Retry and Discard.
 * The stored message replaces the entry (chat.js renders it).
 */

import { session } from "./session.js";
import { nameElement } from "./names.js";

/** How long a send may wait for a connection and its ack before it shows as failed. */
const SEND_PATIENCE_MS = 30_000;

/** @typedef {{roomId: string, message: string, clientMessageId: string}} Draft */

/** The entries of sends without an ack (or failed), by clientMessageId. */
const pending = new Map();

/**
 * The entry of a send without an ack: the text, "Sending…" (or why it failed) and, once it
 * failed, Retry and Discard.
 * @param {Draft} draft @param {(m: any) => void} onStored
 */
function pendingElement(draft, onStored) {
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
  retry.addEventListener("click", () => void deliver(draft, li, onStored));
  const discard = document.createElement("button");
  discard.type = "button";
  discard.className = "link";
  discard.textContent = "Discard";
  discard.addEventListener("click", () => {
    li.remove();
    pending.delete(draft.clientMessageId);
  });
  actions.append(retry, discard);
  li.append(meta, body, actions);
  return li;
}

/**
 * Sends `draft` and keeps its entry current: waits through a reconnect (the request waits in
 * the client's queue), and shows a refusal or a timeout next to the message with Retry.
 * @param {Draft} draft @param {HTMLElement} li @param {(m: any) => void} onStored
 */
async function deliver(draft, li, onStored) {
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
      li.remove();
      pending.delete(draft.clientMessageId);
      if (draft.roomId === session.room) onStored(ack.message);
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

/**
 * Shows `draft` at the end of `list` and sends it; `onStored` gets the stored message (the
 * entry is gone by then).
 * @param {HTMLElement} list @param {Draft} draft @param {(m: any) => void} onStored
 */
export function queueSend(list, draft, onStored) {
  const li = pendingElement(draft, onStored);
  pending.set(draft.clientMessageId, li);
  list.append(li);
  list.scrollTop = list.scrollHeight;
  void deliver(draft, li, onStored);
}

/** The message of a pending send arrived (echo or resume): its entry goes. @param {string} id */
export function settlePending(id) {
  pending.get(id)?.remove();
  pending.delete(id);
}

/** Another room, or signing out: the entries go (their sends still finish). */
export function clearPending() {
  pending.clear();
}
