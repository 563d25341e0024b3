// The softphone inside the receptionist console. When the receptionist's own phone is a
// browser ("webrtc") phone, the console registers it by itself (the digest comes from
// /api/softphone, for this receptionist's phone only), shows its state, answers and hangs
// up. A console pickup (card "Answer", key A) rings it with answer-after=0: answered at
// once. A queue call that rings it directly is answered with the panel's button or A.
import { autoAnswerRequested, headset, register, restrictCandidates, settings as loadSettings } from "./phone-core.js";

const panel = document.getElementById("softphone");
const $ = (sel) => panel.querySelector(sel);
// data-in-call … on the panel: the translated state names (dataset keys are camelCase).
const text = (key) => panel.dataset[key.replace(/-(\w)/g, (_, c) => c.toUpperCase())] || key;
let user = null;
let state = "idle";

function show(next) {
  state = next;
  panel.dataset.state = next;
  $(".sp-status").textContent = text(next);
  $("[data-sp=answer]").disabled = next !== "ringing";
  $("[data-sp=hangup]").disabled = next !== "ringing" && next !== "in-call";
  $("[data-sp=connect]").hidden = next !== "idle" && next !== "error";
  $("[data-sp=disconnect]").hidden = next === "idle" || next === "error";
}

async function connect(settings) {
  show("connecting");
  try {
    user = await register(settings, { username: settings.phone.name, ha1: settings.phone.ha1 }, $("[data-sp=audio]"), {
      onRegistered: () => show("registered"),
      onUnregistered: () => show("idle"),
      onServerDisconnect: () => { show("error"); setTimeout(() => state === "error" && connect(settings), 5000); },
      onCallReceived: () => {
        show("ringing");
        if (autoAnswerRequested(user)) user.answer();
      },
      onCallAnswered: () => show("in-call"),
      onCallHangup: () => show("registered"),
    });
  } catch (err) {
    show("error");
    $(".sp-status").textContent = `${text("error")}: ${err}`;
  }
}

async function main() {
  if (!panel) return;
  let settings;
  try { settings = await loadSettings(); } catch { return; }
  if (!settings.phone) return; // no browser phone for this receptionist: a desk phone
  panel.hidden = false;
  $(".sp-name").textContent = settings.phone.name;
  restrictCandidates(settings.ice_networks || []);
  headset({ hangup: () => user?.hangup() });
  $("[data-sp=answer]").addEventListener("click", () => user?.answer());
  $("[data-sp=hangup]").addEventListener("click", () => user?.hangup());
  $("[data-sp=connect]").addEventListener("click", () => connect(settings));
  $("[data-sp=disconnect]").addEventListener("click", async () => {
    await user?.unregister();
    await user?.disconnect();
    show("idle");
  });
  // A while the browser phone rings answers it (before the console's own A: pick up).
  document.addEventListener("keydown", (ev) => {
    if (state !== "ringing" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target.closest("input, textarea, select, dialog[open]")) return;
    if (ev.key.toLowerCase() === "a") {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      user?.answer();
    }
  }, true);
  window.ccSoftphone = { get state() { return state; } };
  await connect(settings);
}

main();
