/**
 * @module
 * Audio and video calls, the lifecycle: placing, answering, declining and
 * ending a call, the ringing dialog and the server's call events. The server
 * keeps the call state; this page keeps the media (call_media.js), which is
 * released whenever the call ends. What the panel shows lives in call_state.js.
 */

import { showError } from "./dom.js";
import { failedAck, session } from "./session.js";
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
  if (call.status !== "in_progress") setCallState("accepted", `Connecting to ${call.peer}…`);
  if (call.role !== "caller" || call.offered) return;
  call.offered = true;
  const id = call.id;
  call.signals = call.signals.then(sendOffer).catch((err) => {
    if (call.id === id) showError(`WebRTC offer: ${err.message}`);
  });
}

/** The other participants of the joined room; the first one is the default callee. */
export function updateDefaultCallee() {
  const input = callUi.callTo;
  if (input.dataset.auto === "false" && input.value.trim() !== "") return;
  const other = [...session.participants.keys()].find((id) => id !== session.user?.id);
  input.value = other ?? "";
  input.dataset.auto = "true";
}

/** @param {string} to @param {string} type */
async function startCall(to, type) {
  const client = session.client;
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
      attach(callUi.localVideo, null);
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
  const client = session.client;
  if (!inc || !client || call.busy || call.id) return;
  showError("");
  call.busy = true;
  setCallState("answering", `Answering ${inc.callerId}: starting camera and microphone…`);
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
  if (!inc || !session.client) return;
  hideIncoming();
  setCallState("rejected", `You declined the call from ${inc.callerId}.`);
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

/** @param {any} d */
function onIncoming(d) {
  if (!d || typeof d.callId !== "string") return;
  call.incoming = {
    callId: d.callId,
    callerId: String(d.callerId),
    callType: d.callType === "audio" ? "audio" : "video",
    ...(d.visitId ? { visitId: String(d.visitId) } : {}),
  };
  callUi.incomingText.textContent = incomingText(call.incoming);
  callUi.incoming.hidden = false;
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

/** @param {import("./client.js").RealtimeClient} client */
export function listenCall(client) {
  client.on("call:incoming", onIncoming);
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
  callUi.callTo.addEventListener("input", () => {
    callUi.callTo.dataset.auto = "false";
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
