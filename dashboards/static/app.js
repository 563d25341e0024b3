// The web application's own script: live connection state, timers, actions through the
// REST API, dialogs and keyboard shortcuts. No build step; loaded after htmx (defer).
"use strict";

(function () {
  // Receptionists keep the console in a background tab while they type elsewhere: never
  // pause the live connection, and never give up reconnecting (kiosk screens run for days).
  if (window.htmx) {
    htmx.config.ws = { pauseOnBackground: false, reconnectDelay: 300, reconnectMaxDelay: 5000 };
  }

  const live = (window.ccLive = { connected: false, messages: 0, lastMessageAt: 0, opens: 0 });
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  let texts = null;
  const T = (key) => {
    if (texts === null) {
      const el = document.getElementById("cc-text");
      try { texts = el ? JSON.parse(el.textContent) : {}; } catch (err) { texts = {}; }
    }
    return texts[key] || key;
  };

  // ------------------------------------------------------------------ formatting

  function duration(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  }

  // Runs every second and after every live message: writing a timer's text even when it
  // reads the same dirties every card and costs a layout of the whole list per message.
  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }
  function tick() {
    const now = Date.now() / 1000;
    for (const el of $$("[data-since]")) {
      const since = parseFloat(el.dataset.since);
      if (since > 0) setText(el, duration(now - since));
    }
    for (const el of $$("[data-until]")) setText(el, duration(parseFloat(el.dataset.until) - now));
    waitLevels(now);
  }
  setInterval(tick, 1000);

  // A tile's longest wait grows without events: its level follows the queue's thresholds
  // (data-amber / data-red from the tenant file) between server renders.
  const RANK = { ok: 0, amber: 1, red: 2 };
  function waitLevels(now) {
    for (const tile of $$(".tile")) {
      const timer = tile.querySelector(".metric[data-amber] > .timer[data-since]");
      if (timer) {
        const metric = timer.parentElement;
        const wait = now - parseFloat(timer.dataset.since);
        const level = wait >= parseFloat(metric.dataset.red) ? "red"
          : wait >= parseFloat(metric.dataset.amber) ? "amber" : "ok";
        if (!metric.classList.contains(`level-${level}`)) {
          metric.classList.remove("level-ok", "level-amber", "level-red");
          metric.classList.add(`level-${level}`);
        }
      }
      let worst = "ok";
      for (const m of tile.querySelectorAll(".metric")) {
        const l = ["red", "amber", "ok"].find((x) => m.classList.contains(`level-${x}`)) || "ok";
        if (RANK[l] > RANK[worst]) worst = l;
      }
      if (tile.dataset.level !== worst) {
        tile.dataset.level = worst;
        tile.classList.remove("level-ok", "level-amber", "level-red");
        tile.classList.add(`level-${worst}`);
        raiseAlerts();
      }
    }
  }

  // ------------------------------------------------------------------ REST API

  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (err) {
      return { ok: false, status: 0, body: { detail: T("The server cannot be reached.") } };
    }
    let data = {};
    try { data = await resp.json(); } catch (err) { data = {}; }
    if (resp.status === 401 && !path.startsWith("/api/auth/")) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    }
    return { ok: resp.ok, status: resp.status, body: data };
  }
  window.ccApi = api;

  function explain(result) {
    const b = result.body || {};
    if (typeof b.detail === "string") return b.detail;
    if (b.field) return `${b.field}: ${b.reason || b.detail || ""}`;
    if (Array.isArray(b.detail)) return b.detail.map((d) => `${d.path || d.field}: ${d.reason}`).join("; ");
    return `${T("Refused")} (${result.status})`;
  }

  function toast(text) {
    const el = $("#toast");
    if (!el) return;
    el.textContent = text;
    el.classList.add("show");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => el.classList.remove("show"), 4000);
  }

  function showError(container, text) {
    const el = container && $(".error", container);
    if (el) { el.textContent = text || ""; el.hidden = !text; }
  }

  // ------------------------------------------------------------------ live connection

  document.addEventListener("htmx:ws:after:connection", () => {
    live.connected = true;
    live.opens += 1;
    const banner = $("#conn-banner");
    if (banner) banner.hidden = true;
  });
  document.addEventListener("htmx:ws:close", () => {
    live.connected = false;
    const banner = $("#conn-banner");
    if (banner) banner.hidden = false;
  });
  document.addEventListener("htmx:ws:after:message:incoming", () => {
    live.messages += 1;
    live.lastMessageAt = performance.now();
    afterUpdate();
    document.dispatchEvent(new CustomEvent("cc:updated"));
  });

  function afterUpdate() {
    const me = document.body.dataset.meInterface || "";
    const name = document.body.dataset.meName || "";
    for (const el of $$(".me-name")) if (!el.textContent) el.textContent = name;
    for (const card of $$("article.call")) card.classList.toggle("mine", !!me && card.dataset.agent === me);
    const calls = $("#calls");
    if (calls) document.body.classList.toggle("has-calls", calls.children.length > 0);
    if (calls && !selected()) {
      const first = firstWaiting();
      if (first) select(first);
    }
    const current = selected();
    if (current) current.classList.add("selected");
    raiseAlerts();
    tick();
  }

  // ------------------------------------------------------------------ selection (console)

  let selectedId = null;
  function selected() {
    return selectedId ? document.querySelector(`article.call[data-linkedid="${CSS.escape(selectedId)}"]`) : null;
  }
  function firstWaiting() {
    const waiting = $$("article.call").filter((c) => c.dataset.phase === "queued" || c.dataset.phase === "ringing");
    waiting.sort((a, b) => parseInt(a.style.order || 0) - parseInt(b.style.order || 0));
    return waiting[0] || null;
  }
  function ordered() {
    return $$("article.call").sort((a, b) => parseInt(a.style.order || 0) - parseInt(b.style.order || 0));
  }
  function select(card) {
    for (const c of $$("article.call.selected")) c.classList.remove("selected");
    if (!card) { selectedId = null; return; }
    card.classList.add("selected");
    if (selectedId === card.dataset.linkedid) return;
    selectedId = card.dataset.linkedid;
    loadDetail(card);
  }
  async function loadDetail(card) {
    const body = $("#detail-body");
    if (!body) return;
    const params = new URLSearchParams({ linkedid: card.dataset.linkedid });
    const resp = await fetch("/ui/parts/caller?" + params, { credentials: "same-origin" });
    if (resp.ok && selectedId === card.dataset.linkedid) body.innerHTML = await resp.text();
  }

  // ------------------------------------------------------------------ call actions

  async function callAction(card, action, body) {
    showError(card, "");
    const result = await api("POST", `/api/calls/${encodeURIComponent(card.dataset.linkedid)}/${action}`, body || {});
    if (!result.ok) { showError(card, explain(result)); return result; }
    if (action === "park" && result.body.slot) toast(`${T("Parked on slot")} ${result.body.slot}`);
    else toast(T("Done") + ": " + (T(action)));
    return result;
  }

  async function agentOp(op) {
    const panel = $("#me-state");
    let body = {};
    if (op === "pause") body = { reason: ($("#pause-reason") || {}).value || "break" };
    if (op === "wrapup") { op = "pause"; body = { reason: "wrapup" }; }
    showError(panel, "");
    const result = await api("POST", `/api/agents/me/${op}`, body);
    if (!result.ok) showError(panel, explain(result));
    return result;
  }

  // ------------------------------------------------------------------ dialogs

  let dialogCard = null;
  const tenantCache = {};
  async function tenantInfo(slug) {
    if (!slug) return null;
    if (!tenantCache[slug]) {
      const r = await api("GET", `/api/ivr/tenants/${encodeURIComponent(slug)}`);
      tenantCache[slug] = r.ok ? r.body : null;
    }
    return tenantCache[slug];
  }

  async function openDialog(name, card) {
    dialogCard = card || selected();
    const dlg = $(`#dlg-${name}`);
    if (!dlg) return;
    showError(dlg, "");
    if (name === "transfer") await prepareTransfer(dlg);
    if (name === "move") await prepareMove(dlg);
    if (name === "note") await prepareNote(dlg);
    if (name === "callback") prepareCallback(dlg);
    dlg.showModal();
    const first = $("input:not([type=hidden]):not([type=radio]), select", dlg);
    if (first) first.focus();
  }

  // Staff directory: searched as you type, Enter takes the first match.
  let staff = [];
  let staffChoice = null;
  function renderStaff(query) {
    const list = $("#staff-list");
    const q = (query || "").trim().toLowerCase();
    const hits = staff.filter((m) => !q || m.name.toLowerCase().includes(q) || m.id.toLowerCase().includes(q));
    list.innerHTML = "";
    hits.forEach((m, i) => {
      const li = document.createElement("li");
      li.setAttribute("role", "option");
      li.dataset.staff = m.id;
      li.tabIndex = -1;
      li.textContent = m.name;
      if (m.note) { const s = document.createElement("small"); s.textContent = " – " + m.note; li.append(s); }
      if ((staffChoice === null && i === 0) || staffChoice === m.id) li.setAttribute("aria-selected", "true");
      list.append(li);
    });
    const chosen = $("[aria-selected=true]", list);
    staffChoice = chosen ? chosen.dataset.staff : null;
  }
  async function prepareTransfer(dlg) {
    const info = await tenantInfo(dialogCard && dialogCard.dataset.tenant);
    staff = (info && info.staff) || [];
    staffChoice = null;
    $("#staff-search").value = "";
    $("#transfer-number").value = "";
    renderStaff("");
  }
  async function prepareMove(dlg) {
    const info = await tenantInfo(dialogCard && dialogCard.dataset.tenant);
    const select = $("#move-queue");
    select.innerHTML = "";
    for (const q of (info && info.queues) || []) {
      const o = document.createElement("option");
      o.value = q.name; o.textContent = `${q.name} (${q.language})`;
      select.append(o);
    }
  }
  async function prepareNote(dlg) {
    const form = $("#note-form");
    form.reset();
    if (dialogCard) {
      $("#note-caller").value = dialogCard.dataset.callerName || "";
      $("#note-number").value = dialogCard.dataset.caller || "";
    }
    const info = await tenantInfo(dialogCard && dialogCard.dataset.tenant);
    const list = $("#note-staff");
    list.innerHTML = "";
    for (const m of (info && info.staff) || []) {
      const o = document.createElement("option"); o.value = m.name; list.append(o);
    }
  }
  function prepareCallback(dlg) {
    $("#callback-form").reset();
    if (dialogCard) {
      $("#callback-number").value = dialogCard.dataset.caller || "";
      $("#callback-name").value = dialogCard.dataset.callerName || "";
    }
  }

  async function submitTransfer(dlg) {
    const mode = ($("input[name=mode]:checked", dlg) || {}).value || "transfer";
    const number = $("#transfer-number").value.trim();
    const body = number ? { number } : staffChoice ? { staff: staffChoice } : null;
    if (!body) { showError(dlg, T("Choose a staff member or type a number.")); return false; }
    const result = await callAction(dialogCard, mode, body);
    if (!result.ok) { showError(dlg, explain(result)); return false; }
    return true;
  }
  async function submitMove(dlg) {
    const result = await callAction(dialogCard, "move", { queue: $("#move-queue").value });
    if (!result.ok) { showError(dlg, explain(result)); return false; }
    return true;
  }
  async function submitNote(dlg) {
    const form = $("#note-form");
    if (!form.reportValidity()) return false;
    const data = Object.fromEntries(new FormData(form).entries());
    data.callback_wanted = $("#note-callback").checked;
    const pane = dialogCard && document.querySelector(`.caller-pane[data-linkedid="${CSS.escape(dialogCard.dataset.linkedid)}"]`);
    const tenantId = (dialogCard && dialogCard.dataset.tenantId) || (pane && pane.dataset.tenantId) || "";
    if (!tenantId) { showError(dlg, T("Refused")); return false; }
    if (dialogCard && /^\d+$/.test(dialogCard.dataset.contact || "")) data.contact_id = parseInt(dialogCard.dataset.contact);
    const path = `/api/crm/tenants/${tenantId}/notes`;
    const result = await api("POST", path, data);
    if (!result.ok) { showError(dlg, explain(result)); return false; }
    toast(T("Note sent"));
    return true;
  }
  async function submitCallback(dlg) {
    const form = $("#callback-form");
    if (!form.reportValidity()) return false;
    const data = Object.fromEntries(new FormData(form).entries());
    const card = dialogCard || {};
    const ds = card.dataset || {};
    const note = [data.name, data.note].filter(Boolean).join(": ");
    const result = await api("POST", "/api/callbacks", {
      tenant: ds.tenant || "", queue: ds.queue || "", language: ds.language || undefined,
      number: data.number, note: note || undefined,
    });
    if (!result.ok) { showError(dlg, explain(result)); return false; }
    toast(T("Callback created"));
    callbacksChanged();
    return true;
  }

  const submitters = { transfer: submitTransfer, move: submitMove, note: submitNote, callback: submitCallback };

  document.addEventListener("submit", async (ev) => {
    const dlg = ev.target.closest("dialog");
    if (dlg) {
      const name = dlg.id.replace("dlg-", "");
      if (ev.submitter && ev.submitter.value === "cancel") return;
      const submit = submitters[name];
      if (!submit) return;
      ev.preventDefault();
      if (await submit(dlg)) dlg.close();
      return;
    }
    if (ev.target.id === "login-form") { ev.preventDefault(); login(ev.target); }
    if (ev.target.id === "password-form") { ev.preventDefault(); changePassword(ev.target); }
  });

  document.addEventListener("input", (ev) => {
    if (ev.target.id === "staff-search") { staffChoice = null; renderStaff(ev.target.value); }
  });

  // ------------------------------------------------------------------ clicks

  document.addEventListener("click", async (ev) => {
    const el = ev.target.closest("button, li[data-staff], article.call");
    if (!el) return;
    const card = el.closest("article.call");
    if (el.matches("li[data-staff]")) {
      staffChoice = el.dataset.staff;
      renderStaff($("#staff-search").value);
      return;
    }
    if (el.matches("article.call")) { select(el); return; }
    if (card) select(card);
    if (el.dataset.call) { el.disabled = true; try { await callAction(card, el.dataset.call); } finally { el.disabled = false; } }
    else if (el.dataset.dialog) openDialog(el.dataset.dialog, card);
    else if (el.dataset.agentOp) agentOp(el.dataset.agentOp);
    else if (el.dataset.action === "logout") logout();
    else if (el.dataset.supervise) supervise(el);
    else if (el.hasAttribute("data-agent-logout")) logoutAgent(el);
    else if (el.hasAttribute("data-abandoned-callback")) abandonedCallback(el);
    else if (el.dataset.post) {
      const result = await api("POST", el.dataset.post, {});
      if (result.ok) { const item = el.closest("li"); if (item) item.remove(); } else toast(explain(result));
    }
  });

  // ------------------------------------------------------------------ wallboard

  let agentIds = null;
  async function agentId(interfaceName) {
    if (!agentIds || !(interfaceName in agentIds)) {
      const r = await api("GET", "/api/agents");
      agentIds = {};
      if (r.ok) for (const a of r.body.agents) agentIds[a.interface] = a.id;
    }
    return agentIds[interfaceName];
  }
  async function supervise(button) {
    const row = button.closest("[data-interface]");
    const id = await agentId(row.dataset.interface);
    const result = await api("POST", `/api/supervision/${id}/${button.dataset.supervise}`);
    toast(result.ok ? T("Your phone rings: ") + T(button.dataset.supervise) : explain(result));
  }
  async function logoutAgent(button) {
    const row = button.closest("[data-interface]");
    const id = await agentId(row.dataset.interface);
    const result = await api("POST", `/api/agents/${id}/logout`);
    toast(result.ok ? T("Logged out") : explain(result));
  }
  async function abandonedCallback(button) {
    const li = button.closest("li");
    const result = await api("POST", "/api/callbacks", {
      tenant: li.dataset.tenant, queue: li.dataset.queue, number: li.dataset.caller,
      language: li.dataset.language || undefined,
    });
    toast(result.ok ? T("Callback created") : explain(result));
    if (result.ok) { button.disabled = true; callbacksChanged(); }
  }

  // Worklists: pending callbacks with their virtual positions, from the callbacks API.
  let callbacksLoading = false;
  async function loadCallbacks() {
    const table = $("#callback-rows");
    if (!table || callbacksLoading) return;
    callbacksLoading = true;
    let r;
    try {
      r = await api("GET", `/api/callbacks?tenant=${encodeURIComponent(table.dataset.tenant)}`);
    } finally {
      callbacksLoading = false;
    }
    const rows = r.ok ? r.body.callbacks : [];
    table.innerHTML = "";
    for (const cb of rows) {
      const tr = document.createElement("tr");
      for (const value of [cb.position ?? "–", cb.number, cb.queue, cb.language, (cb.requested_at || "").slice(0, 16).replace("T", " "), cb.status]) {
        const td = document.createElement("td"); td.textContent = value; tr.append(td);
      }
      table.append(tr);
    }
    const count = $("#callback-count");
    if (count) count.textContent = `(${rows.length})`;
    const empty = $("#callbacks-empty");
    if (empty) empty.hidden = rows.length > 0;
  }
  document.addEventListener("DOMContentLoaded", loadCallbacks);
  // The worklist stays current: at once when this browser created a callback (another tab,
  // e.g. the console), otherwise every 10 s while visible (other receptionists, the
  // dialler's progress) and when the page comes back into view.
  const callbackNews = "BroadcastChannel" in window ? new BroadcastChannel("cc-callbacks") : null;
  if (callbackNews) callbackNews.onmessage = () => loadCallbacks();
  function callbacksChanged() {
    if (callbackNews) callbackNews.postMessage("changed");
    loadCallbacks();
  }
  setInterval(() => { if (document.visibilityState === "visible") loadCallbacks(); }, 10000);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") loadCallbacks();
  });

  const alerted = new Set();
  function raiseAlerts() {
    const box = $("#wb-alert");
    if (!box) return;
    const red = $$(".tile[data-level=red]").map((t) => t.dataset.queue);
    for (const q of Array.from(alerted)) if (!red.includes(q)) alerted.delete(q);
    const fresh = red.filter((q) => !alerted.has(q));
    fresh.forEach((q) => alerted.add(q));
    box.hidden = red.length === 0;
    if (red.length) box.textContent = T("Threshold exceeded: ") + red.join(", ");
  }

  // ------------------------------------------------------------------ account

  async function login(form) {
    const err = $("#login-error");
    const result = await api("POST", "/api/auth/login", {
      username: form.username.value, password: form.password.value,
    });
    if (!result.ok) { err.textContent = explain(result); err.hidden = false; form.password.select(); return; }
    location.href = form.dataset.next || "/";
  }
  async function logout() {
    await api("POST", "/api/auth/logout");
    location.href = "/login";
  }
  async function changePassword(form) {
    const err = $("#password-error"), ok = $("#password-ok");
    err.hidden = true; ok.hidden = true;
    if (form.new.value !== form.repeat.value) { err.textContent = T("The two new passwords differ."); err.hidden = false; return; }
    const result = await api("POST", "/api/account/password", { current: form.current.value, new: form.new.value });
    if (!result.ok) { err.textContent = explain(result); err.hidden = false; return; }
    form.reset(); ok.hidden = false;
  }

  // ------------------------------------------------------------------ keyboard

  const keys = {
    a: () => { const c = selected() && ["queued", "ringing"].includes(selected().dataset.phase) ? selected() : firstWaiting(); if (c) { select(c); callAction(c, "pickup"); } },
    h: () => { const c = selected(); if (c) callAction(c, c.classList.contains("held") ? "retrieve" : "hold"); },
    t: () => openDialog("transfer"),
    p: () => { const c = selected(); if (c) callAction(c, "park"); },
    v: () => { const c = selected(); if (c) callAction(c, "voicemail"); },
    x: () => { const c = selected(); if (c) callAction(c, "hangup"); },
    n: () => openDialog("note"),
    c: () => openDialog("callback"),
    r: () => agentOp("unpause"),
    b: () => agentOp("pause"),
    w: () => agentOp("wrapup"),
    j: () => move(1),
    k: () => move(-1),
    arrowdown: () => move(1),
    arrowup: () => move(-1),
    "?": () => openDialog("shortcuts"),
  };
  function move(step) {
    const cards = ordered();
    if (!cards.length) return;
    const i = cards.indexOf(selected());
    const next = cards[Math.max(0, Math.min(cards.length - 1, i + step))];
    select(next); next.focus();
  }
  document.addEventListener("keydown", (ev) => {
    if (!document.body.classList.contains("console-page")) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target.closest("input, textarea, select, dialog[open]")) {
      // Enter in the staff search takes the highlighted entry.
      if (ev.key === "Enter" && ev.target.id === "staff-search") {
        ev.preventDefault();
        $("#transfer-go").click();
      }
      return;
    }
    const fn = keys[ev.key.toLowerCase()] || keys[ev.key];
    if (fn) { ev.preventDefault(); fn(); }
  });

  // A first connection attempt that never opens (nor closes) would leave the page silently
  // stale: after a few seconds without an open socket, process the live element again
  // (forced: htmx drops its connection state and connects anew).
  function watchdog() {
    const root = document.getElementById("live-root");
    if (!root || live.connected || !window.htmx) return;
    htmx.process(root, true);
    live.restarts = (live.restarts || 0) + 1;
  }
  setInterval(() => { if (!live.connected && live.opens === 0) watchdog(); }, 5000);

  document.addEventListener("DOMContentLoaded", afterUpdate);
})();
