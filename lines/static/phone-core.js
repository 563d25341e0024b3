// What the softphone page and the console's embedded softphone share: SIP.js (vendored,
// ES modules) over the app's wss:// relay, DTLS-SRTP media straight to Asterisk, ICE
// candidates limited to the configured networks, headset buttons.
import { SimpleUser } from "./vendor/sip.js/platform/web/index.js";

// Only ICE candidates in the configured networks go into our SDP (e.g. the office LAN, or
// loopback for a demo on one machine): the browser's other addresses stay private.
function inNetworks(ip, networks) {
  const toInt = (a) => a.split(".").reduce((n, part) => (n << 8) + Number(part), 0) >>> 0;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
  return networks.some((net) => {
    const [base, bits = "32"] = net.split("/");
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(base)) return false;
    const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
    return (toInt(ip) & mask) === (toInt(base) & mask);
  });
}

export function restrictCandidates(networks) {
  if (!networks.length || window.RTCPeerConnection.ccRestricted) return;
  const keep = (line) =>
    !line.startsWith("a=candidate:") || inNetworks(line.split(" ")[4], networks);
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    static ccRestricted = true;
    get localDescription() {
      const d = super.localDescription;
      if (!d) return d;
      return new RTCSessionDescription({ type: d.type, sdp: d.sdp.split("\r\n").filter(keep).join("\r\n") });
    }
  };
}

// Headset buttons, where the browser offers them (Media Session API call actions).
export function headset(actions) {
  if (!("mediaSession" in navigator)) return;
  for (const [action, fn] of Object.entries(actions)) {
    try { navigator.mediaSession.setActionHandler(action, fn); } catch { /* not offered */ }
  }
}

export async function settings() {
  const resp = await fetch("/api/softphone", { credentials: "same-origin" });
  if (!resp.ok) throw new Error(`/api/softphone: ${resp.status}`);
  return resp.json();
}

// A registered SimpleUser. ``credentials``: {username, password} (typed on the softphone
// page) or {username, ha1} (the console's own phone: the digest the server keeps).
export async function register(settings, credentials, remoteAudio, delegate) {
  const user = new SimpleUser(settings.websocket, {
    aor: `sip:${credentials.username}@${settings.domain}`,
    media: { remote: { audio: remoteAudio } },
    userAgentOptions: {
      authorizationUsername: credentials.username,
      authorizationPassword: credentials.password || "",
      authorizationHa1: credentials.ha1 || "",
      sessionDescriptionHandlerFactoryOptions: {
        peerConnectionConfiguration: { iceServers: [] },
        iceGatheringTimeout: 1000,
      },
    },
    delegate,
  });
  await user.connect();
  await user.register();
  return user;
}

// The console's pickups ring the phone with "Call-Info: ...;answer-after=0" (cc-pickup):
// such a call is answered at once, as a desk phone with auto-answer would.
export function autoAnswerRequested(user) {
  const request = user && user.session && user.session.request;
  if (!request) return false;
  const info = request.getHeader("Call-Info") || "";
  return /answer-after=0/.test(info);
}
