// Browser softphone: SIP.js (vendored, ES modules) over the app's wss:// relay, DTLS-SRTP
// media straight to Asterisk. Registers as a "webrtc" phone from /api/phones; answers,
// holds and hangs up calls that queues or console pickups send to it.
import { SimpleUser } from "./vendor/sip.js/platform/web/index.js";

const $ = (id) => document.getElementById(id);
const status = (state, text) => {
  const el = $("status");
  el.dataset.state = state;
  el.textContent = text;
};
let user = null;
let held = false;

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

function restrictCandidates(networks) {
  if (!networks.length) return;
  const keep = (line) =>
    !line.startsWith("a=candidate:") || inNetworks(line.split(" ")[4], networks);
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    get localDescription() {
      const d = super.localDescription;
      if (!d) return d;
      return new RTCSessionDescription({ type: d.type, sdp: d.sdp.split("\r\n").filter(keep).join("\r\n") });
    }
  };
}

function buttons(state) {
  $("answer").disabled = state !== "ringing";
  $("hold").disabled = state !== "in-call";
  $("hangup").disabled = state !== "ringing" && state !== "in-call";
  $("unregister").disabled = state === "idle";
}

// Headset buttons, where the browser offers them (Media Session API call actions).
function headset() {
  if (!("mediaSession" in navigator)) return;
  for (const [action, fn] of [["hangup", () => user?.hangup()], ["togglemicrophone", toggleHold]]) {
    try { navigator.mediaSession.setActionHandler(action, fn); } catch { /* not offered */ }
  }
}

async function toggleHold() {
  if (!user) return;
  held ? await user.unhold() : await user.hold();
  held = !held;
  $("hold").textContent = held ? "Fortsetzen / Resume" : "Halten / Hold";
}

async function register(settings, username, password) {
  const aor = `sip:${username}@${settings.domain}`;
  user = new SimpleUser(settings.websocket, {
    aor,
    media: { remote: { audio: $("remote") } },
    userAgentOptions: {
      authorizationUsername: username,
      authorizationPassword: password,
      sessionDescriptionHandlerFactoryOptions: {
        peerConnectionConfiguration: { iceServers: [] },
        iceGatheringTimeout: 1000,
      },
    },
    delegate: {
      onRegistered: () => { status("registered", "angemeldet / registered"); buttons("registered"); },
      onUnregistered: () => { status("idle", "nicht angemeldet / not registered"); buttons("idle"); },
      onServerDisconnect: () => { status("error", "Verbindung getrennt / disconnected"); buttons("idle"); },
      onCallReceived: () => { status("ringing", "es klingelt / ringing"); buttons("ringing"); },
      onCallAnswered: () => { status("in-call", "im Gespräch / in call"); buttons("in-call"); },
      onCallHangup: () => { held = false; status("registered", "angemeldet / registered"); buttons("registered"); },
    },
  });
  await user.connect();
  await user.register();
}

async function main() {
  const settings = await (await fetch("/api/softphone", { credentials: "same-origin" })).json();
  restrictCandidates(settings.ice_networks || []);
  headset();
  const saved = JSON.parse(localStorage.getItem("softphone") || "null");
  if (saved) { $("sip-user").value = saved.username; $("sip-password").value = saved.password; }
  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = $("sip-user").value.trim();
    const password = $("sip-password").value;
    if ($("remember").checked) localStorage.setItem("softphone", JSON.stringify({ username, password }));
    status("connecting", "verbinde / connecting");
    try {
      await register(settings, username, password);
    } catch (err) {
      status("error", `Fehler / error: ${err}`);
    }
  });
  $("answer").addEventListener("click", () => user?.answer());
  $("hangup").addEventListener("click", () => user?.hangup());
  $("hold").addEventListener("click", toggleHold);
  $("unregister").addEventListener("click", async () => { await user?.unregister(); await user?.disconnect(); });
}

main();
