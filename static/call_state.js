/**
 * @module
 * The call panel's elements and state: one call at a time (plus one ringing
 * here), its status text, which buttons are enabled and the media caption.
 * It holds the media handles but never opens or closes them (call_media.js)
 * and never talks to the server (call.js).
 */

import { byId } from "./dom.js";
import { nameOf } from "./names.js";

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
  mute: byId("mute"),
  camera: byId("camera"),
  timer: byId("call-timer"),
  allowAlerts: byId("allow-alerts"),
  remoteVideo: byId("remote-video"),
  remoteCaption: byId("remote-caption"),
  localVideo: byId("local-video"),
  localCaption: byId("local-caption"),
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
 *   startedAt: number | null,
 *   muted: boolean,
 *   cameraOff: boolean,
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
    startedAt: null,
    muted: false,
    cameraOff: false,
  };
}

/** @type {ReturnType<typeof setInterval> | undefined} */
let ticking;

/** "m:ss" (or "h:mm:ss") since the call was answered. */
function renderTimer() {
  const s = call.startedAt === null ? 0 : Math.floor((Date.now() - call.startedAt) / 1000);
  const mmss = `${Math.floor(s / 60) % 60}:${String(s % 60).padStart(2, "0")}`;
  callUi.timer.textContent = s >= 3600 ? `${Math.floor(s / 3600)}:${mmss.padStart(5, "0")}` : mmss;
}

/** The live timer runs from the answer to the end of the call. */
function updateTimer() {
  const live = call.id !== null && (call.status === "accepted" || call.status === "in_progress");
  if (live && call.startedAt === null) call.startedAt = Date.now();
  if (live && ticking === undefined) ticking = setInterval(renderTimer, 1000);
  if (!live) {
    clearInterval(ticking);
    ticking = undefined;
  }
  callUi.timer.hidden = !live;
  renderTimer();
}

/** @param {string} status @param {string} text */
export function setCallState(status, text) {
  call.status = status;
  callUi.callState.dataset.state = status;
  callUi.callPanel.dataset.callState = status;
  callUi.callState.textContent = text;
  updateCallButtons();
  updateTimer();
}

export function updateCallButtons() {
  const active = call.busy || call.id !== null;
  callUi.videoCall.disabled = active;
  callUi.audioCall.disabled = active;
  callUi.hangup.disabled = call.id === null;
  callUi.acceptCall.disabled = active;
  callUi.rejectCall.disabled = call.busy;
  const local = call.id !== null ? call.local : null;
  callUi.mute.disabled = !local;
  callUi.camera.disabled = !local?.getVideoTracks().length;
  callUi.mute.setAttribute("aria-pressed", String(call.muted));
  callUi.mute.textContent = call.muted ? "Unmute" : "Mute";
  callUi.camera.setAttribute("aria-pressed", String(call.cameraOff));
  callUi.camera.textContent = call.cameraOff ? "Turn camera on" : "Turn camera off";
  const off = [call.muted ? "muted" : "", call.cameraOff ? "camera off" : ""].filter(Boolean);
  callUi.localCaption.textContent = off.length ? `You (${off.join(", ")})` : "You";
}

export function renderRtc() {
  const rtc = call.pc?.connectionState ?? "none";
  callUi.callPanel.dataset.rtc = rtc;
  const who = call.peer ? nameOf(call.peer) : "Them";
  callUi.remoteCaption.textContent = call.pc ? `${who} · media ${rtc}` : who;
}

/** What an incoming call changed to be noticed: the tab title, the ring, a notification. */
const alerting = {
  /** @type {string | null} */ title: null,
  /** @type {AudioContext | null} */ audio: null,
  /** @type {ReturnType<typeof setInterval> | undefined} */ ring: undefined,
  /** @type {Notification | null} */ note: null,
};

/**
 * Makes a ringing call hard to miss: the overlay (fixed on screen, styles), the tab title, a
 * ring tone (Web Audio, no file; silent where the browser blocks sound before a click) and a
 * system notification when the user allowed them.
 * @param {string} text
 */
export function alertIncoming(text) {
  alerting.title ??= document.title;
  document.title = `📞 ${text}`;
  try {
    alerting.audio ??= new AudioContext();
    const ctx = alerting.audio;
    void ctx.resume().catch(() => {});
    const beep = () => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 440;
      gain.gain.setValueAtTime(0.15, ctx.currentTime);
      gain.gain.setValueAtTime(0, ctx.currentTime + 0.4);
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.45);
    };
    clearInterval(alerting.ring);
    beep();
    alerting.ring = setInterval(beep, 1500);
  } catch {
    // No Web Audio: the overlay and the title still show it.
  }
  if (globalThis.Notification?.permission === "granted" && document.visibilityState !== "visible") {
    alerting.note?.close();
    alerting.note = new Notification("Incoming call", { body: text, tag: "incoming-call" });
  }
}

function stopAlerting() {
  clearInterval(alerting.ring);
  alerting.ring = undefined;
  if (alerting.title !== null) document.title = alerting.title;
  alerting.title = null;
  alerting.note?.close();
  alerting.note = null;
}

export function hideIncoming() {
  call.incoming = null;
  callUi.incoming.hidden = true;
  callUi.incomingText.textContent = "";
  stopAlerting();
}

/** @param {string} reason @param {number} [duration] */
export function endText(reason, duration) {
  const what = END_TEXT[/** @type {keyof END_TEXT} */ (reason)] ?? `Call ended (${reason})`;
  return duration ? `${what} after ${duration} s.` : `${what}.`;
}

/** @param {{callerId: string, callType: string, visitId?: string}} inc */
export function incomingText(inc) {
  const visit = inc.visitId ? ` for visit ${inc.visitId}` : "";
  return `Incoming ${inc.callType} call from ${nameOf(inc.callerId)}${visit}.`;
}
