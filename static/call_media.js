/**
 * @module
 * The media half of a call: camera and microphone, one RTCPeerConnection and
 * its signalling. The caller sends the offer once the call is accepted; offer,
 * answer and ICE candidates travel as call:signal (RTCSessionDescriptionInit
 * and RTCIceCandidateInit JSON). No ICE servers: host candidates only, enough
 * on one machine or network. Once media connects the page sends
 * call:connected (the server's "in_progress"). Call lifecycle (who calls whom,
 * when it ends) is call.js's.
 */

import { log, showError } from "./dom.js";
import { failedAck, session } from "./session.js";
import { nameOf } from "./names.js";
import { call, callUi, renderRtc, setCallState } from "./call_state.js";

/**
 * The microphone, plus the camera for a video call; without a usable camera
 * a video call goes on with sound only.
 * @param {string} type "audio" | "video"
 */
export async function getMedia(type) {
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
export function stopStream(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}

/** @param {HTMLVideoElement} video @param {MediaStream | null} stream */
export function attach(video, stream) {
  if (video.srcObject === stream) return;
  video.srcObject = stream;
  // The autoplay attribute normally suffices; a refused play() only means no picture yet.
  if (stream) video.play().catch(() => {});
}

/** Closes the peer connection, stops the camera and microphone, empties both videos. */
export function releaseMedia() {
  const pc = call.pc;
  call.pc = null;
  pc?.close();
  stopStream(call.local);
  attach(callUi.localVideo, null);
  attach(callUi.remoteVideo, null);
}

/** @param {string} type @param {unknown} payload */
function sendSignal(type, payload) {
  const id = call.id;
  if (!id || !session.client) return;
  session.client.request("call:signal", { callId: id, type, payload }).then((ack) => {
    if (!ack.success && call.id === id) showError(`call:signal ${type}: ${ack.error}`);
  }, () => {}); // dropped with the socket: the call's grace period decides
}

/** The call's peer connection, created on first use with the local tracks. */
export function ensurePc() {
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
    attach(callUi.remoteVideo, stream);
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
  if (!id || !session.client || call.connectedSent) return;
  call.connectedSent = true;
  const ack = await session.client.request("call:connected", { callId: id })
    .catch(failedAck);
  if (call.id !== id) return;
  if (!ack.success) return showError(`call:connected: ${ack.error}`);
  setCallState(String(ack.status), `In a ${call.type} call with ${nameOf(call.peer)}.`);
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
export function onSignal(s) {
  if (!s || s.callId !== call.id) return;
  const id = call.id;
  call.signals = call.signals.then(() => handleSignal(id, s)).catch((err) => {
    if (call.id === id) showError(`WebRTC ${s.type}: ${err.message}`);
  });
}

/** The caller's half of the handshake, once the callee accepted. */
export async function sendOffer() {
  const id = call.id;
  const pc = ensurePc();
  await pc.setLocalDescription(await pc.createOffer());
  if (call.id === id) sendSignal("offer", pc.localDescription?.toJSON());
}
