/**
 * @module
 * Audio and video calls, the lifecycle: placing, answering, declining and
 * ending a call, the ringing dialog and the server's call events. The server
 * keeps the call state; this page keeps the media (call_media.js), which is
 * released whenever the call ends. What the panel shows lives in call_state.js.
 */

import { showError } from "./dom.js";
import { failedAck, session } from "./session.js";
import { nameOf, onNames, resolveNames } from "./names.js";
import { showTab } from "./tabs.js";
import {
  alertIncoming,
  call,
  callUi,
  endText,
  hideIncoming,
  incomingText,
  perCall,
  renderRtc,
  setCallState,
  updateCallButtons,
} from "./call_state.js";
import {
  attach,
  ensurePc,
  getMedia,
  onSignal,
  releaseMedia,
  sendOffer,
  stopStream,
} from "./call_media.js";

/**
 * Releases media and the peer connection and shows how the call ended.
 * @param {string} status @param {string} text
 */
function finishCall(status, text) {
  releaseMedia();
  Object.assign(call, perCall());
  setCallState(status, text);
  renderRtc();
}

function onAccepted() {
  if (call.status !== "in_progress") {
    setCallState("accepted", `Connecting to ${nameOf(call.peer)}…`);
  }
  if (call.role !== "caller" || call.offered) return;
  call.offered = true;
  const id = call.id;
  call.signals = call.signals.then(sendOffer).catch((err) => {
    if (call.id === id) showError(`WebRTC offer: ${err.message}`);
  });
}

/**
 * The people of the joined room one may call, by name: its members (or, in a topic, those
 * present). The default is someone present; a choice the user made stays while it is listed.
 */
export function updateDefaultCallee() {
  const select = /** @type {HTMLSelectElement} */ (callUi.callTo);
  const me = session.user?.id;
  const people = new Map([...session.members, ...session.participants]);
  people.delete(String(me));
  const chosen = select.dataset.auto === "false" ? select.value : "";
  const present = [...session.participants.keys()].find((id) => id !== me);
  const options = [...people].map(([id, role]) => {
    const here = session.participants.has(id) ? ", here now" : "";
    return new Option(`${nameOf(id)} (${role}${here})`, id);
  });
  if (options.length === 0) options.push(new Option("Join a visit first", ""));
  select.replaceChildren(...options);
  select.value = people.has(chosen)
    ? chosen
    : present ?? (people.size ? [...people.keys()][0] : "");
  if (!people.has(chosen)) select.dataset.auto = "true";
}

/** @param {string} to @param {string} type */
async function startCall(to, type) {
  const client = session.client;
  if (!client || call.busy || call.id) return;
  showError("");
  call.busy = true;
  call.peer = to;
  call.type = type;
  showTab("call");
  setCallState("starting", `Calling ${nameOf(to)} (${type}): starting camera and microphone…`);
  /** @type {MediaStream | null} */
  let local = null;
  try {
    local = await getMedia(type);
    if (client !== session.client) return stopStream(local);
    attach(callUi.localVideo, local);
    const visitId = session.room?.startsWith("visit:") ? session.room.slice("visit:".length) : "";
    const ack = await client.request("call:initiate", {
      recipientId: to,
      callType: type,
      ...(visitId ? { visitId } : {}),
    });
    if (client !== session.client) return stopStream(local);
    if (!ack.success) {
      stopStream(local);
      attach(callUi.localVideo, null);
      setCallState("idle", `Could not call ${nameOf(to)}: ${ack.error}`);
      return showError(`Could not call ${nameOf(to)}: ${ack.error}`);
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
      setCallState("ringing", `Calling ${nameOf(to)} (${type}): ringing…`);
    } else {
      finishCall(String(ack.status), `Call ${ack.status}.`);
    }
  } catch (err) {
    stopStream(local);
    if (call.id === null) {
      attach(callUi.localVideo, null);
      call.peer = "";
      setCallState("idle", `Could not call ${nameOf(to)}.`);
    }
    showError(`Could not call ${nameOf(to)}: ${/** @type {Error} */ (err).message}`);
  } finally {
    call.busy = false;
    updateCallButtons();
  }
}

async function acceptCall() {
  const inc = call.incoming;
  const client = session.client;
  if (!inc || !client || call.busy || call.id) return;
  showError("");
  call.busy = true;
  showTab("call");
  setCallState("answering", `Answering ${nameOf(inc.callerId)}: starting camera and microphone…`);
  try {
    const local = await getMedia(inc.callType);
    if (call.incoming !== inc || client !== session.client) return stopStream(local);
    hideIncoming();
    Object.assign(call, {
      id: inc.callId,
      role: "callee",
      peer: inc.callerId,
      type: inc.callType,
      local,
    });
    attach(callUi.localVideo, local);
    ensurePc(); // before accepting: the offer may follow the acceptance at once
    const ack = await client.request("call:accept", { callId: inc.callId })
      .catch(failedAck);
    if (call.id !== inc.callId) return; // ended meanwhile
    if (!ack.success) return finishCall("failed", `Could not answer: ${ack.error}`);
    if (call.status === "answering") {
      setCallState("accepted", `Connecting to ${nameOf(call.peer)}…`);
    }
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
  if (!inc || !session.client) return;
  hideIncoming();
  setCallState("rejected", `You declined the call from ${nameOf(inc.callerId)}.`);
  const ack = await session.client.request("call:reject", { callId: inc.callId })
    .catch(failedAck);
  if (!ack.success) showError(`Could not reject: ${ack.error}`);
}

async function hangUp() {
  const id = call.id;
  if (!id || !session.client) return;
  const ack = await session.client.request("call:end", { callId: id })
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

/** Calls that ended lately: a ring still on its way for one of them is not shown. */
const over = new Set();

/** @param {any} d */
async function onIncoming(d) {
  if (!d || typeof d.callId !== "string") return;
  const inc = {
    callId: d.callId,
    callerId: String(d.callerId),
    callType: d.callType === "audio" ? "audio" : "video",
    ...(d.visitId ? { visitId: String(d.visitId) } : {}),
  };
  // Who is calling, by name (one round trip at most; the id if the server does not say).
  await resolveNames([inc.callerId]);
  // Over while the name came, or rung twice (a late socket).
  if (over.has(inc.callId) || call.incoming?.callId === inc.callId) return;
  call.incoming = inc;
  callUi.incomingText.textContent = incomingText(call.incoming);
  callUi.incoming.hidden = false;
  // Keyboard users land on Accept, unless they are typing something.
  const typing = document.activeElement?.matches("input, textarea, select");
  if (!typing) callUi.acceptCall.focus({ preventScroll: true });
  alertIncoming(incomingText(call.incoming));
  if (!call.id && !call.busy) setCallState("incoming", incomingText(call.incoming));
  updateCallButtons();
}

/**
 * call:ended, call:rejected and call:missed, for the current call or the one ringing here.
 * @param {string} status @param {any} d
 */
function onCallOver(status, d) {
  const reason = String(d?.reason ?? status);
  if (typeof d?.callId === "string") {
    over.add(d.callId);
    if (over.size > 50) over.delete(String(over.values().next().value));
  }
  if (d?.callId && d.callId === call.id) {
    return finishCall(status, endText(reason, d.duration));
  }
  if (d?.callId && d.callId === call.incoming?.callId) {
    const from = nameOf(call.incoming.callerId);
    hideIncoming();
    // Not while starting a call of our own; answering this one stops (acceptCall sees it gone).
    if (!call.id && (!call.busy || call.status === "answering")) {
      setCallState(status, `${endText(reason)} (from ${from})`);
    }
  }
}

/** Signing out: hang up (best effort), drop the ringing call and the media. */
export function resetCall() {
  if (call.id) session.client?.emit("call:end", { callId: call.id });
  hideIncoming();
  finishCall("idle", "No call.");
  call.busy = false;
  updateCallButtons();
}

/** A new socket takes over a live call (call:signal goes to the call's socket only). */
export function resumeCall() {
  const id = call.id;
  if (id && (call.status === "accepted" || call.status === "in_progress")) {
    session.client?.request("call:connected", { callId: id }).then((ack) => {
      if (!ack.success && call.id === id) showError(`Could not keep the call: ${ack.error}`);
    }, () => {});
  }
}

/** Mutes or unmutes the microphone, or turns the camera off or on (the call goes on). */
function toggle(/** @type {"muted" | "cameraOff"} */ what) {
  if (!call.local) return;
  call[what] = !call[what];
  const tracks = what === "muted" ? call.local.getAudioTracks() : call.local.getVideoTracks();
  for (const t of tracks) t.enabled = !call[what];
  updateCallButtons();
}

/** The "Allow call alerts" button shows while the browser has not been asked yet. */
function renderAlertsButton() {
  callUi.allowAlerts.hidden = globalThis.Notification?.permission !== "default";
}

/** @param {import("./client.js").RealtimeClient} client */
export function listenCall(client) {
  client.on("call:incoming", (d) => void onIncoming(d));
  client.on("call:accepted", (d) => {
    if (d?.callId === call.id) onAccepted();
  });
  client.on("call:signal", onSignal);
  client.on("call:rejected", (d) => onCallOver("rejected", d));
  client.on("call:missed", (d) => onCallOver("missed", d));
  client.on("call:ended", (d) => onCallOver("ended", d));
}

/** Wires the call form and the ringing dialog's buttons; once, at start-up. */
export function initCall() {
  callUi.callTo.addEventListener("change", () => {
    callUi.callTo.dataset.auto = "false";
  });
  callUi.mute.addEventListener("click", () => toggle("muted"));
  callUi.camera.addEventListener("click", () => toggle("cameraOff"));
  callUi.allowAlerts.addEventListener("click", async () => {
    await globalThis.Notification?.requestPermission().catch(() => {});
    renderAlertsButton();
  });
  renderAlertsButton();
  onNames(() => {
    updateDefaultCallee();
    renderRtc();
    if (call.incoming) callUi.incomingText.textContent = incomingText(call.incoming);
  });
  callUi.callForm.addEventListener("submit", (/** @type {SubmitEvent} */ e) => {
    e.preventDefault();
    const to = callUi.callTo.value.trim();
    const type = /** @type {HTMLButtonElement | null} */ (e.submitter)?.value === "audio"
      ? "audio"
      : "video";
    if (to) void startCall(to, type);
  });
  callUi.acceptCall.addEventListener("click", () => void acceptCall());
  callUi.rejectCall.addEventListener("click", () => void rejectCall());
  callUi.hangup.addEventListener("click", () => void hangUp());
}
