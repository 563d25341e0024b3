// Browser softphone: SIP.js (vendored, ES modules) over the app's wss:// relay, DTLS-SRTP
// media straight to Asterisk. Registers as a "webrtc" phone from /api/phones; answers,
// holds and hangs up calls that queues or console pickups send to it (pickups, which ask
// with answer-after=0, are answered at once).
import { autoAnswerRequested, headset, register as registerUser, restrictCandidates, settings as loadSettings } from "./phone-core.js";

const $ = (id) => document.getElementById(id);
const status = (state, text) => {
  const el = $("status");
  el.dataset.state = state;
  el.textContent = text;
};
let user = null;
let held = false;

function buttons(state) {
  $("answer").disabled = state !== "ringing";
  $("hold").disabled = state !== "in-call";
  $("hangup").disabled = state !== "ringing" && state !== "in-call";
  $("unregister").disabled = state === "idle";
}

async function toggleHold() {
  if (!user) return;
  held ? await user.unhold() : await user.hold();
  held = !held;
  $("hold").textContent = held ? "Fortsetzen / Resume" : "Halten / Hold";
}

async function register(settings, username, password) {
  user = await registerUser(settings, { username, password }, $("remote"), {
    onRegistered: () => { status("registered", "angemeldet / registered"); buttons("registered"); },
    onUnregistered: () => { status("idle", "nicht angemeldet / not registered"); buttons("idle"); },
    onServerDisconnect: () => { status("error", "Verbindung getrennt / disconnected"); buttons("idle"); },
    onCallReceived: () => {
      status("ringing", "es klingelt / ringing");
      buttons("ringing");
      if (autoAnswerRequested(user)) user.answer(); // a console pickup: answer-after=0
    },
    onCallAnswered: () => { status("in-call", "im Gespräch / in call"); buttons("in-call"); },
    onCallHangup: () => { held = false; status("registered", "angemeldet / registered"); buttons("registered"); },
  });
}

async function main() {
  const settings = await loadSettings();
  restrictCandidates(settings.ice_networks || []);
  headset({ hangup: () => user?.hangup(), togglemicrophone: toggleHold });
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
