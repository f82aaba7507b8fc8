// Hotline agents' workbench over /api/agent (the contract's "Agent console API"):
// the queue with SLA colours, the conversation (live over SSE, polling when the stream
// is down), take over / transfer / release, the composer with the Official Account's
// 48-hour window and 5-message allowance, the context panel, canned replies from the
// knowledge base and the agent's own "/" short-cuts, notes, look-up and 转工单.
// Every text comes from /console/text.json (backend/console/agent.yml); nothing here
// writes HTML from data.
import { api, boot, el, formatTime, label, loadTexts, session, showMessage, t } from "./console.js";

const $ = (id) => document.getElementById(id);
const API = "/api/agent";
const POLL_MS = 4000;           // polling while the live stream is down
const RETRY_MAX_MS = 30000;     // reconnect back-off ceiling
const WECHAT_WINDOW_MS = 48 * 3600 * 1000;
const WECHAT_ALLOWANCE = 5;

const state = {
  tab: "waiting",
  lists: { waiting: [], mine: [], active: [] },
  current: null,          // id of the open conversation
  detail: null,           // its JSON
  failed: [],             // messages WeChat (or the channel) refused, shown with the error
  bundles: {},            // id → name
  leads: {},              // bundle id → its lead department (the 转工单 default)
  replies: [],            // canned replies for the open conversation's bundle
  general: [],            // canned replies for any conversation
  sla: { green: 120, amber: 300 },
  live: false,
};

// -- small helpers ---------------------------------------------------------------
function enc(id) { return encodeURIComponent(id); }

function waitedSeconds(since) {
  if (!since) return 0;
  return Math.max(0, Math.floor((Date.now() - new Date(since).getTime()) / 1000));
}

function duration(seconds) {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  if (m >= 60) return t("agent.hours_minutes", { h: Math.floor(m / 60), m: m % 60 });
  return `${m}:${String(s).padStart(2, "0")}`;
}

function slaClass(seconds) {
  if (seconds < state.sla.green) return "sla-ok";
  if (seconds < state.sla.amber) return "sla-warn";
  return "sla-bad";
}

function bundleName(id) {
  if (!id) return t("agent.no_bundle");
  return state.bundles[id] || id;
}

function channelName(ch) { return label("channels", ch); }

function lastText(conv) {
  const m = conv.last_message;
  if (!m) return "";
  return typeof m === "string" ? m : (m.text || "");
}

function clock(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const today = new Date();
  const hm = d.toLocaleTimeString("zh-CN", { hour12: false, hour: "2-digit", minute: "2-digit" });
  return d.toDateString() === today.toDateString() ? hm : formatTime(iso);
}

function myName() { return (session() || {}).username; }

// -- queue -----------------------------------------------------------------------
async function loadQueues() {
  const results = await Promise.allSettled(["waiting", "mine", "active"].map((s) =>
    api("GET", `${API}/conversations?state=${s}`).then((d) => [s, d.conversations || []])));
  for (const r of results) if (r.status === "fulfilled") state.lists[r.value[0]] = r.value[1];
  for (const s of ["waiting", "mine", "active"]) $(`count-${s}`).textContent = String(state.lists[s].length);
  renderQueue();
  const bad = results.find((r) => r.status === "rejected");
  if (bad) setLive(false, bad.reason.message);
}

function queueItem(conv) {
  const waited = conv.state === "waiting" ? waitedSeconds(conv.waiting_since) : null;
  const timer = waited === null
    ? el("span", { class: "state-tag", text: label("conversation_states", conv.state) })
    : el("span", { class: `sla ${slaClass(waited)}`, "data-since": conv.waiting_since,
      title: t("agent.waited_title"), text: duration(waited) });
  const holder = conv.agent && conv.agent !== myName()
    ? el("span", { class: "muted", text: t("agent.held_by", { agent: conv.agent }) }) : null;
  const item = el("li", {
    class: `queue-item${conv.id === state.current ? " current" : ""}`,
    "data-id": conv.id, "data-state": conv.state, tabindex: "0", role: "button",
  },
  el("div", { class: "line1" },
    el("span", { class: `channel ch-${conv.channel}`, text: channelName(conv.channel) }),
    el("span", { class: "citizen", text: conv.citizen || t("agent.citizen") }),
    el("span", { class: "spacer" }), timer),
  el("div", { class: "line2" },
    el("span", { class: "bundle", text: bundleName(conv.bundle) }), holder),
  el("div", { class: "line3", text: lastText(conv) }));
  item.addEventListener("click", () => openConversation(conv.id));
  item.addEventListener("keydown", (e) => { if (e.key === "Enter") openConversation(conv.id); });
  return item;
}

function renderQueue() {
  const list = state.lists[state.tab];
  const sorted = [...list].sort((a, b) =>
    (a.waiting_since || "9").localeCompare(b.waiting_since || "9"));
  $("queue-list").replaceChildren(...sorted.map(queueItem));
  $("queue-empty").hidden = sorted.length > 0;
  $("queue-empty-title").textContent = t(`agent.empty_${state.tab}`);
  $("queue-empty-hint").textContent = t(`agent.empty_${state.tab}_hint`);
}

function tickTimers() {
  document.querySelectorAll(".sla[data-since]").forEach((node) => {
    const s = waitedSeconds(node.dataset.since);
    node.textContent = duration(s);
    node.className = `sla ${slaClass(s)}`;
  });
  renderWindow();
}

// -- the conversation -------------------------------------------------------------
async function openConversation(id) {
  if (state.current !== id) { state.failed = []; state.replies = []; }
  state.current = id;
  document.querySelectorAll(".queue-item").forEach((n) => n.classList.toggle("current", n.dataset.id === id));
  showMessage($("conversation-message"), "");
  await refreshConversation();
  loadReplies();
}

async function refreshConversation() {
  if (!state.current) return;
  const id = state.current;
  try {
    const detail = await api("GET", `${API}/conversations/${enc(id)}`);
    if (state.current !== id) return;
    state.detail = detail;
  } catch (err) {
    if (err.status === 404) { closeConversation(); return; }
    showMessage($("conversation-message"), err.message);
    return;
  }
  renderConversation();
}

function closeConversation() {
  state.current = null;
  state.detail = null;
  state.failed = [];
  renderConversation();
}

function mineNow() {
  const d = state.detail;
  return !!d && d.state === "agent" && d.agent === myName();
}

function bubble(m, failed = false) {
  const who = failed ? "agent" : m.from;
  const meta = [el("span", { text: label("senders", who) })];
  if (m.agent && who === "agent") meta.push(el("span", { class: "muted", text: m.agent }));
  meta.push(el("time", { text: clock(m.at) }));
  const delivery = failed || m.status === "failed" || m.delivered === false
    ? el("div", { class: "delivery failed", text: t("agent.not_delivered", { reason: m.error || "" }) })
    : null;
  return el("li", { class: `msg from-${who}${delivery ? " failed" : ""}` },
    el("div", { class: "meta" }, meta),
    el("div", { class: "text", text: m.text }),
    delivery);
}

function renderConversation() {
  const d = state.detail;
  const open = !!d;
  $("conversation-empty").hidden = open;
  $("messages").hidden = !open;
  const meta = $("conversation-meta");
  if (!open) {
    $("conversation-title").textContent = t("agent.conversation");
    meta.replaceChildren();
    $("messages").replaceChildren();
  } else {
    $("conversation-title").textContent = d.citizen || t("agent.citizen");
    meta.replaceChildren(
      el("span", { class: `channel ch-${d.channel}`, text: channelName(d.channel) }),
      el("span", { class: "bundle", text: bundleName(d.bundle) }),
      el("span", { class: `state-tag st-${d.state}`, text: d.state === "agent" && d.agent
        ? t("agent.handled_by", { agent: d.agent === myName() ? t("agent.me") : d.agent })
        : label("conversation_states", d.state) }));
    const list = $("messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren(...(d.messages || []).map((m) => bubble(m)),
      ...state.failed.map((m) => bubble(m, true)));
    if (atBottom || list.dataset.for !== d.id) list.scrollTop = list.scrollHeight;
    list.dataset.for = d.id;
  }
  const mine = mineNow();
  $("takeover").disabled = !open || d.state === "agent";
  $("takeover").hidden = open && mine;
  $("release").disabled = !mine;
  $("transfer").disabled = !mine;
  $("composer-text").disabled = !mine;
  $("composer-text").placeholder = mine ? t("agent.composer_ready") : t("agent.composer_locked");
  $("send").disabled = !mine;
  $("note-text").disabled = !open;
  $("note-save").disabled = !open;
  $("ticket-save").disabled = !open;
  renderWindow();
  renderContext();
  renderNotes();
  if (open && $("ticket-form").dataset.for !== d.id) {
    $("ticket-form").dataset.for = d.id;
    $("ticket-summary").value = ticketSummary(d);
    const lead = state.leads[d.bundle];
    if (lead) $("ticket-department").value = lead;
    showMessage($("ticket-message"), "");
  }
}

// The Official Account may send customer-service messages for 48 hours after the
// citizen's last message, at most 5 of them; the backend's numbers win when it sends them.
function windowInfo(d) {
  if (!d || d.channel !== "wechat") return null;
  const w = d.window || d.wechat_window || {};
  let expires = w.expires_at ? new Date(w.expires_at).getTime() : null;
  let remaining = typeof w.remaining === "number" ? w.remaining : null;
  const msgs = d.messages || [];
  if (expires === null || remaining === null) {
    let lastCitizen = -1;
    msgs.forEach((m, i) => { if (m.from === "citizen") lastCitizen = i; });
    if (lastCitizen >= 0) {
      if (expires === null) expires = new Date(msgs[lastCitizen].at).getTime() + WECHAT_WINDOW_MS;
      if (remaining === null) {
        const sent = msgs.slice(lastCitizen + 1)
          .filter((m) => m.from === "agent" && m.status !== "failed" && m.delivered !== false).length;
        remaining = Math.max(0, WECHAT_ALLOWANCE - sent);
      }
    }
  }
  return { expires, remaining };
}

function renderWindow() {
  const info = $("composer-info");
  const d = state.detail;
  const w = windowInfo(d);
  if (!d) { info.replaceChildren(); return; }
  if (!w) {
    info.replaceChildren(el("span", { class: "hint", text: t(`agent.channel_note_${d.channel}`) }));
    return;
  }
  if (w.expires === null) {
    info.replaceChildren(el("span", { class: "window bad", text: t("agent.window_unknown") }));
    return;
  }
  const left = Math.floor((w.expires - Date.now()) / 1000);
  const closed = left <= 0 || w.remaining === 0;
  const cls = closed ? "bad" : (left < 3600 || w.remaining <= 1 ? "warn" : "ok");
  info.replaceChildren(
    el("span", { class: `window ${cls}`, id: "window-state",
      text: left <= 0 ? t("agent.window_closed")
        : t("agent.window_open", { time: duration(left) }) }),
    el("span", { class: `window ${cls}`, id: "window-allowance",
      text: t("agent.allowance", { n: w.remaining ?? WECHAT_ALLOWANCE, max: WECHAT_ALLOWANCE }) }));
  if (mineNow()) $("send").disabled = closed;
}

async function takeover() {
  const id = state.current;
  $("takeover").disabled = true;
  try {
    await api("POST", `${API}/conversations/${enc(id)}/takeover`, {});
    showMessage($("conversation-message"), t("agent.taken_over"), "ok");
    state.tab = "mine";
    selectQueueTab("mine");
  } catch (err) {
    showMessage($("conversation-message"), err.status === 409 ? t("agent.taken_by_other") : err.message);
  }
  await Promise.all([loadQueues(), refreshConversation()]);
  $("composer-text").focus();
}

async function release() {
  if (!confirm(t("agent.confirm_release"))) return;
  const id = state.current;
  $("release").disabled = true;
  try {
    await api("POST", `${API}/conversations/${enc(id)}/release`, {});
    showMessage($("conversation-message"), t("agent.released"), "ok");
  } catch (err) {
    showMessage($("conversation-message"), err.message);
  }
  await Promise.all([loadQueues(), refreshConversation()]);
}

async function send(event) {
  event.preventDefault();
  const box = $("composer-text");
  const text = box.value.trim();
  if (!text || !mineNow()) return;
  $("send").disabled = true;
  box.disabled = true;
  showMessage($("conversation-message"), t("agent.sending"), "ok");
  try {
    await api("POST", `${API}/conversations/${enc(state.current)}/messages`, { text });
    box.value = "";
    showMessage($("conversation-message"), "");
  } catch (err) {
    // Not delivered: say so, keep the text for another try, never show it as sent.
    state.failed.push({ from: "agent", text, at: new Date().toISOString(), error: err.message });
    showMessage($("conversation-message"), t("agent.send_failed", { reason: err.message }));
  }
  box.disabled = false;
  updateCount();
  await refreshConversation();
  box.focus();
}

// -- transfer ---------------------------------------------------------------------
async function openTransfer() {
  const select = $("transfer-to");
  showMessage($("transfer-message"), "");
  select.replaceChildren(el("option", { value: "", text: t("ui.loading") }));
  $("transfer-dialog").showModal();
  try {
    const data = await api("GET", `${API}/agents`);
    const others = (data.agents || []).filter((a) => a.username !== myName());
    select.replaceChildren(...others.map((a) => el("option", { value: a.username,
      text: a.display_name ? `${a.display_name}（${a.username}）` : a.username })));
    if (!others.length) select.replaceChildren(el("option", { value: "", text: t("agent.no_other_agents") }));
  } catch (err) {
    select.replaceChildren();
    showMessage($("transfer-message"), err.message);
  }
}

async function confirmTransfer(event) {
  event.preventDefault();
  const to = $("transfer-to").value;
  if (!to) return;
  try {
    await api("POST", `${API}/conversations/${enc(state.current)}/transfer`,
      { to, note: $("transfer-note").value.trim() || undefined });
    $("transfer-dialog").close();
    $("transfer-note").value = "";
    showMessage($("conversation-message"), t("agent.transferred", { agent: to }), "ok");
  } catch (err) {
    showMessage($("transfer-message"), err.message);
    return;
  }
  await Promise.all([loadQueues(), refreshConversation()]);
}

// -- context ------------------------------------------------------------------------
function dl(rows) {
  return el("dl", {}, rows.filter(Boolean).flatMap(([k, v]) => [el("dt", { text: k }),
    el("dd", {}, v === null || v === undefined || v === "" ? el("span", { class: "muted", text: "—" }) : v)]));
}

function statusTag(s) {
  return el("span", { class: `app-status as-${s}`, text: label("application_states", s) });
}

function historyList(history) {
  if (!history || !history.length) return null;
  return el("ol", { class: "history" }, history.map((h) => el("li", {},
    el("time", { text: clock(h.at) }),
    el("span", { text: [h.item_name || h.item, label("application_states", h.to || h.state), h.note]
      .filter(Boolean).join(" · ") }))));
}

function applicationCard(a) {
  const items = (a.items || a.sub_applications || []).map((it) => el("li", {},
    el("span", { text: it.name || it.item }), statusTag(it.state || it.status)));
  return el("div", { class: "app-card" },
    el("div", { class: "app-head" }, el("span", { class: "mono", text: a.number || a.id || "" }),
      a.state || a.status ? statusTag(a.state || a.status) : null),
    a.bundle ? el("div", { class: "muted", text: bundleName(a.bundle) }) : null,
    items.length ? el("ul", { class: "app-items" }, items) : null,
    historyList(a.history));
}

function renderContext() {
  const body = $("context-body");
  const d = state.detail;
  if (!d) {
    body.replaceChildren(el("p", { class: "muted", text: t("agent.context_empty") }));
    return;
  }
  const c = d.context || {};
  const bundle = c.bundle_name || bundleName(c.bundle || d.bundle);
  const items = (c.items || c.chosen_items || []).map((i) => (typeof i === "string" ? i : i.name || i.key));
  const materials = (c.materials || []).map((m) => (typeof m === "string" ? m : m.name));
  const apps = [...(c.applications || []), ...(c.application ? [c.application] : [])];
  const draft = c.draft;
  const blocks = [dl([
    [t("agent.f_bundle"), (c.bundle || d.bundle) ? bundle : null],
    [t("agent.f_items"), items.length ? el("ul", { class: "chips" }, items.map((n) => el("li", { text: n }))) : null],
    [t("agent.f_channel"), channelName(d.channel)],
    [t("agent.f_citizen"), d.citizen],
    [t("agent.f_waiting"), d.waiting_since ? formatTime(d.waiting_since) : null],
    [t("agent.f_reason"), c.reason ? label("handoff_reasons", c.reason) : null],
  ])];
  if (materials.length) {
    blocks.push(el("h3", { class: "side-title", text: t("agent.materials") }),
      el("ul", { class: "materials" }, materials.map((n) => el("li", { text: n }))));
  }
  if (draft) {
    blocks.push(el("h3", { class: "side-title", text: t("agent.draft") }),
      el("div", { class: "app-card" }, el("div", { class: "app-head" },
        el("span", { text: draft.bundle ? bundleName(draft.bundle) : t("agent.draft") }),
        el("span", { class: "app-status as-draft", text: t("agent.draft_state") })),
      draft.fields_done !== undefined
        ? el("div", { class: "muted", text: t("agent.draft_progress", { done: draft.fields_done, total: draft.fields_total ?? "" }) }) : null));
  }
  if (apps.length) {
    blocks.push(el("h3", { class: "side-title", text: t("agent.applications") }), ...apps.map(applicationCard));
  }
  body.replaceChildren(...blocks);
}

// -- canned replies and short-cuts -----------------------------------------------------
function shortcutKey() { return `yjs.agent.shortcuts.${myName()}`; }

function myShortcuts() {
  try { return JSON.parse(localStorage.getItem(shortcutKey()) || "[]"); } catch (e) { return []; }
}

function saveShortcuts(list) { localStorage.setItem(shortcutKey(), JSON.stringify(list)); }

async function loadReplies() {
  const d = state.detail;
  const params = new URLSearchParams();
  const bundle = d && ((d.context && d.context.bundle) || d.bundle);
  if (bundle) params.set("bundle", bundle);
  const items = d && d.context && (d.context.items || d.context.chosen_items);
  if (items && items.length) params.set("items", items.map((i) => (typeof i === "string" ? i : i.key)).join(","));
  try {
    const data = await api("GET", `${API}/replies?${params}`);
    state.replies = data.replies || [];
    state.general = data.general || [];
  } catch (err) {
    state.replies = [];
  }
  renderReplies();
}

function insertText(text) {
  const box = $("composer-text");
  if (box.disabled) {
    showMessage($("conversation-message"), t("agent.take_over_first"));
    return;
  }
  const slash = box.value.lastIndexOf("/");
  const before = slash >= 0 && /^\/\S*$/.test(box.value.slice(slash)) ? box.value.slice(0, slash) : box.value;
  box.value = (before + text).slice(0, 600);
  hideMenu();
  updateCount();
  box.focus();
}

function replyItem(r, editable = false) {
  const use = el("button", { type: "button", class: "link", text: t("agent.use") });
  use.addEventListener("click", () => insertText(r.text));
  const extra = [];
  if (editable) {
    const edit = el("button", { type: "button", class: "link", text: t("ui.edit") });
    edit.addEventListener("click", () => editShortcut(r));
    const del = el("button", { type: "button", class: "link danger", text: t("agent.delete") });
    del.addEventListener("click", () => { saveShortcuts(myShortcuts().filter((s) => s.key !== r.key)); renderReplies(); });
    extra.push(edit, del);
  }
  return el("li", { class: "reply", "data-key": r.key },
    el("div", { class: "reply-head" }, el("span", { class: "reply-title", text: r.title }),
      el("span", { class: "mono muted", text: `/${r.key}` }), el("span", { class: "spacer" }), use, ...extra),
    el("div", { class: "reply-text", text: r.text }));
}

function renderReplies() {
  const kb = [...state.replies, ...state.general];
  $("kb-replies").replaceChildren(...(kb.length ? kb.map((r) => replyItem(r))
    : [el("li", { class: "muted", text: t("agent.no_replies") })]));
  const mine = myShortcuts().map((s) => ({ ...s, title: s.key }));
  $("my-shortcuts").replaceChildren(...(mine.length ? mine.map((r) => replyItem(r, true))
    : [el("li", { class: "muted", text: t("agent.no_shortcuts") })]));
}

function editShortcut(s) {
  $("shortcut-form").hidden = false;
  $("shortcut-key").value = s ? s.key : "";
  $("shortcut-text").value = s ? s.text : "";
  $("shortcut-form").dataset.editing = s ? s.key : "";
  $("shortcut-key").focus();
}

function saveShortcut(event) {
  event.preventDefault();
  const key = $("shortcut-key").value.trim().replace(/^\/+/, "").replace(/\s+/g, "");
  const text = $("shortcut-text").value.trim();
  if (!key || !text) return;
  const old = $("shortcut-form").dataset.editing;
  const list = myShortcuts().filter((s) => s.key !== key && s.key !== old);
  list.push({ key, text });
  saveShortcuts(list);
  $("shortcut-form").hidden = true;
  renderReplies();
}

// "/" in the composer: the short-cuts whose key or title matches what follows it.
let menuIndex = 0;
function allShortcuts() {
  return [...myShortcuts().map((s) => ({ ...s, title: s.key })), ...state.replies, ...state.general];
}

function menuMatches() {
  const box = $("composer-text");
  const m = /(?:^|\s)\/(\S*)$/.exec(box.value.slice(0, box.selectionStart));
  if (!m) return null;
  const q = m[1].toLowerCase();
  return allShortcuts().filter((s) => s.key.toLowerCase().includes(q) || (s.title || "").includes(q)).slice(0, 8);
}

function showMenu() {
  const matches = menuMatches();
  const menu = $("shortcut-menu");
  if (!matches || !matches.length) { hideMenu(); return; }
  menuIndex = Math.min(menuIndex, matches.length - 1);
  menu.replaceChildren(...matches.map((s, i) => {
    const li = el("li", { role: "option", class: i === menuIndex ? "current" : null, "aria-selected": i === menuIndex ? "true" : "false" },
      el("span", { class: "mono", text: `/${s.key}` }), el("span", { class: "reply-title", text: s.title || "" }),
      el("span", { class: "muted preview", text: s.text }));
    li.addEventListener("mousedown", (e) => { e.preventDefault(); insertText(s.text); });
    return li;
  }));
  menu.hidden = false;
}

function hideMenu() { $("shortcut-menu").hidden = true; menuIndex = 0; }

function composerKeys(e) {
  const menu = $("shortcut-menu");
  if (!menu.hidden) {
    const matches = menuMatches() || [];
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      menuIndex = (menuIndex + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % Math.max(1, matches.length);
      showMenu();
      return;
    }
    if ((e.key === "Enter" || e.key === "Tab") && matches[menuIndex]) {
      e.preventDefault();
      insertText(matches[menuIndex].text);
      return;
    }
    if (e.key === "Escape") { hideMenu(); return; }
  }
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
}

function updateCount() { $("composer-count").textContent = `${$("composer-text").value.length}/600`; }

// -- notes --------------------------------------------------------------------------------
function renderNotes() {
  const notes = (state.detail && state.detail.notes) || [];
  $("note-list").replaceChildren(...(notes.length ? notes.map((n) => el("li", { class: "note" },
    el("div", { class: "meta" }, el("span", { text: n.agent || n.author || "" }), el("time", { text: clock(n.at) })),
    el("div", { class: "text", text: n.text })))
    : [el("li", { class: "muted", text: t("agent.no_notes") })]));
}

async function addNote(event) {
  event.preventDefault();
  const text = $("note-text").value.trim();
  if (!text || !state.current) return;
  try {
    await api("POST", `${API}/conversations/${enc(state.current)}/notes`, { text });
    $("note-text").value = "";
    showMessage($("note-message"), t("agent.note_saved"), "ok");
  } catch (err) {
    showMessage($("note-message"), err.message);
  }
  await refreshConversation();
}

// -- application look-up -------------------------------------------------------------------
async function lookup(event) {
  event.preventDefault();
  const number = $("lookup-number").value.trim().toUpperCase();
  showMessage($("lookup-message"), "");
  $("lookup-result").replaceChildren();
  if (!number) return;
  try {
    const data = await api("GET", `${API}/applications/${enc(number)}`);
    $("lookup-result").replaceChildren(applicationCard(data.application || data));
  } catch (err) {
    showMessage($("lookup-message"), err.status === 404 ? t("agent.no_application") : err.message);
  }
}

// -- 转工单 ---------------------------------------------------------------------------------
function ticketSummary(d) {
  const cit = (d.messages || []).filter((m) => m.from === "citizen").slice(-3).map((m) => m.text);
  return [d.bundle ? `【${bundleName(d.bundle)}】` : "", cit.join(" / ")].join("").slice(0, 1000);
}

function defaultDeadline() {
  const d = new Date(Date.now() + 5 * 86400 * 1000);
  return d.toISOString().slice(0, 10);
}

async function loadTicketOptions() {
  const categories = $("ticket-category");
  const names = Object.keys((await loadTexts()).ticket_categories || {});
  categories.replaceChildren(...names.map((n) => el("option", { value: n, text: label("ticket_categories", n) })));
  $("ticket-deadline").value = defaultDeadline();
  $("ticket-deadline").min = new Date().toISOString().slice(0, 10);
  try {
    const data = await api("GET", `${API}/departments`);
    $("ticket-department").replaceChildren(...(data.departments || []).map((d) =>
      el("option", { value: d.id, text: d.name })));
  } catch (err) {
    $("ticket-department").replaceChildren();
  }
}

async function createTicket(event) {
  event.preventDefault();
  if (!state.current) return;
  const body = {
    category: $("ticket-category").value, department: $("ticket-department").value,
    deadline: $("ticket-deadline").value, summary: $("ticket-summary").value.trim(),
  };
  try {
    const data = await api("POST", `${API}/conversations/${enc(state.current)}/work-orders`, body);
    showMessage($("ticket-message"), t("agent.ticket_created", { number: (data && (data.number || data.id)) || "" }), "ok");
  } catch (err) {
    showMessage($("ticket-message"), err.message);
  }
}

// -- live updates: SSE with reconnect, polling while it is down -----------------------------
let source = null;
let retryMs = 1000;
let pollTimer = null;

function setLive(on, why) {
  state.live = on;
  $("live-dot").className = `dot ${on ? "" : "off"}`;
  $("live-text").textContent = on ? t("agent.live_on") : (why || t("agent.live_polling"));
  if (on && pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  if (!on && !pollTimer) pollTimer = setInterval(() => { loadQueues(); refreshConversation(); }, POLL_MS);
}

function onEvent(raw) {
  let ev = {};
  try { ev = JSON.parse(raw.data || "{}"); } catch (e) { /* a keep-alive */ }
  loadQueues();
  const id = ev.conversation || ev.id || (ev.conversation_id);
  if (state.current && (!id || id === state.current)) refreshConversation();
}

function connect() {
  if (!window.EventSource) { setLive(false); return; }
  source = new EventSource(`${API}/events`, { withCredentials: true });
  source.onopen = () => { retryMs = 1000; setLive(true); loadQueues(); refreshConversation(); };
  source.onmessage = onEvent;
  for (const type of ["queue", "message", "conversation", "state"]) source.addEventListener(type, onEvent);
  source.onerror = () => {
    source.close();
    setLive(false);
    setTimeout(connect, retryMs);
    retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
  };
}

// -- start ---------------------------------------------------------------------------------
function selectQueueTab(name) {
  state.tab = name;
  document.querySelectorAll("#queue-tabs button").forEach((b) => {
    const on = b.dataset.state === name;
    b.classList.toggle("current", on);
    b.setAttribute("aria-selected", on ? "true" : "false");
  });
  renderQueue();
}

function selectSideTab(name) {
  document.querySelectorAll("#side-tabs button").forEach((b) => {
    const on = b.dataset.tab === name;
    b.classList.toggle("current", on);
    b.setAttribute("aria-selected", on ? "true" : "false");
  });
  for (const tab of ["context", "replies", "notes", "lookup", "ticket"]) $(`tab-${tab}`).hidden = tab !== name;
}

async function loadBundles() {
  try {
    const data = await api("GET", `${API}/bundles`);
    for (const b of data.bundles || []) {
      state.bundles[b.id] = b.name;
      state.leads[b.id] = b.lead_department;
    }
  } catch (err) { /* names fall back to ids */ }
}

async function main() {
  const me = await boot("agent");
  $("agent-shift").textContent = t("ui.session_until", { time: formatTime(me.expires_at) });
  const green = Number(t("agent_settings.sla_green_seconds"));
  const amber = Number(t("agent_settings.sla_amber_seconds"));
  if (green > 0 && amber > green) state.sla = { green, amber };
  $("sla-legend").replaceChildren(
    el("span", { class: "sla sla-ok", text: t("agent.sla_under", { m: state.sla.green / 60 }) }),
    el("span", { class: "sla sla-warn", text: t("agent.sla_under", { m: state.sla.amber / 60 }) }),
    el("span", { class: "sla sla-bad", text: t("agent.sla_over") }));
  document.querySelectorAll("#queue-tabs button").forEach((b) =>
    b.addEventListener("click", () => selectQueueTab(b.dataset.state)));
  document.querySelectorAll("#side-tabs button").forEach((b) =>
    b.addEventListener("click", () => selectSideTab(b.dataset.tab)));
  $("takeover").addEventListener("click", takeover);
  $("release").addEventListener("click", release);
  $("transfer").addEventListener("click", openTransfer);
  $("transfer-form").addEventListener("submit", confirmTransfer);
  $("transfer-cancel").addEventListener("click", () => $("transfer-dialog").close());
  $("composer").addEventListener("submit", send);
  const box = $("composer-text");
  box.addEventListener("input", () => { updateCount(); showMenu(); });
  box.addEventListener("keydown", composerKeys);
  box.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== box) hideMenu(); }, 150));
  $("shortcut-add").addEventListener("click", () => editShortcut(null));
  $("shortcut-cancel").addEventListener("click", () => { $("shortcut-form").hidden = true; });
  $("shortcut-form").addEventListener("submit", saveShortcut);
  $("note-form").addEventListener("submit", addNote);
  $("lookup-form").addEventListener("submit", lookup);
  $("ticket-form").addEventListener("submit", createTicket);
  await loadBundles();
  renderReplies();
  loadReplies();
  loadTicketOptions();
  setLive(false, t("agent.live_connecting"));
  await loadQueues();
  connect();
  setInterval(tickTimers, 1000);
}

main();
