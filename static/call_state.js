/**
 * @module
 * The call panel's elements and state: one call at a time (plus one ringing
 * here), its status text, which buttons are enabled and the media caption.
 * It holds the media handles but never opens or closes them (call_media.js)
 * and never talks to the server (call.js).
 */

import { byId } from "./dom.js";

export const callUi = {
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
export const call = {
  ...perCall(),
  type: "video",
  status: "idle",
  busy: false,
  pc: null,
  incoming: null,
};

/** The fields that belong to one call: reset when it finishes. */
export function perCall() {
  return {
    id: null,
    role: null,
    peer: "",
    local: null,
    remote: null,
    candidates: [],
    offered: false,
    connectedSent: false,
    signals: Promise.resolve(),
  };
}

/** @param {string} status @param {string} text */
export function setCallState(status, text) {
  call.status = status;
  callUi.callState.dataset.state = status;
  callUi.callPanel.dataset.callState = status;
  callUi.callState.textContent = text;
  updateCallButtons();
}

export function updateCallButtons() {
  const active = call.busy || call.id !== null;
  callUi.videoCall.disabled = active;
  callUi.audioCall.disabled = active;
  callUi.hangup.disabled = call.id === null;
  callUi.acceptCall.disabled = active;
  callUi.rejectCall.disabled = call.busy;
}

export function renderRtc() {
  const rtc = call.pc?.connectionState ?? "none";
  callUi.callPanel.dataset.rtc = rtc;
  const who = call.peer ? `Remote: ${call.peer}` : "Remote";
  callUi.remoteCaption.textContent = call.pc ? `${who} · media ${rtc}` : who;
}

export function hideIncoming() {
  call.incoming = null;
  callUi.incoming.hidden = true;
  callUi.incomingText.textContent = "";
}

/** @param {string} reason @param {number} [duration] */
export function endText(reason, duration) {
  const what = END_TEXT[/** @type {keyof END_TEXT} */ (reason)] ?? `Call ended (${reason})`;
  return duration ? `${what} after ${duration} s.` : `${what}.`;
}

/** @param {{callerId: string, callType: string, visitId?: string}} inc */
export function incomingText(inc) {
  const visit = inc.visitId ? ` for visit ${inc.visitId}` : "";
  return `Incoming ${inc.callType} call from ${inc.callerId}${visit}.`;
}
