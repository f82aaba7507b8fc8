// Hotline agents' workbench over /api/agent (the contract's "Agent console API"):
// the queue with SLA colours, the conversation (live over SSE, polling when the stream
// is down), take over / transfer / release, the composer with the Official Account's
// 48-hour window and 5-message allowance, the context panel, canned replies from the
// knowledge base and the agent's own "/" short-cuts, notes, look-up and 转工单.
// Every text comes from /console/text.json (backend/console/text.agent.yml); nothing here
// writes HTML from data.
import { api, boot, el, formatTime, label, session, showMessage, t } from "./console.js";

const $ = (id) => document.getElementById(id);
const API = "/api/agent";
const POLL_MS = 4000;           // polling while the live stream is down
const RETRY_MAX_MS = 30000;     // reconnect back-off ceiling
const WECHAT_WINDOW_MS = 48 * 3600 * 1000;
const WECHAT_ALLOWANCE = 5;

const state = {
  tab: "waiting",
  lists: { waiting: [], mine: [], agent: [], callback: [] },  // agent: held by any agent
  current: null,          // id of the open conversation
  detail: null,           // its JSON
  bundles: {},            // id → name
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

function bundleName(id, known) {
  if (!id) return t("agent.no_bundle");
  if (known) state.bundles[id] = known;
  return state.bundles[id] || "";  // never the bare id (an English word) on screen
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
// Call-back requests left outside staffed hours: the conversation, answered by taking it over.
function callbackItem(cb) {
  return { id: cb.conversation, channel: cb.channel, citizen: cb.citizen, bundle: cb.bundle,
    state: "callback", requested_at: cb.created_at, last_message: "" };
}

async function loadQueues() {
  const results = await Promise.allSettled([
    ...["waiting", "mine", "agent"].map((s) =>
      api("GET", `${API}/conversations?state=${s}`).then((d) => [s, d.conversations || []])),
    api("GET", `${API}/callbacks?state=open`).then((d) => ["callback", (d.callbacks || []).map(callbackItem)]),
  ]);
  for (const r of results) if (r.status === "fulfilled") state.lists[r.value[0]] = r.value[1];
  for (const s of Object.keys(state.lists)) $(`count-${s}`).textContent = String(state.lists[s].length);
  renderQueue();
  const bad = results.find((r) => r.status === "rejected");
  if (bad) setLive(false, bad.reason.message);
}

function queueItem(conv) {
  const waited = conv.state === "waiting" ? waitedSeconds(conv.waiting_since) : null;
  let timer = waited === null
    ? el("span", { class: "state-tag", text: label("conversation_states", conv.state) })
    : el("span", { class: `sla ${slaClass(waited)}`, "data-since": conv.waiting_since,
      title: t("agent.waited_title"), text: duration(waited) });
  if (conv.state === "callback") {
    timer = el("span", { class: "state-tag", text: t("agent.callback_at", { time: clock(conv.requested_at) }) });
  }
  let flag = conv.callback && conv.state !== "callback"
    ? el("span", { class: "flag", text: t("agent.callback_flag") }) : null;
  if (conv.state === "waiting" && conv.paused) {
    // its agent's console went away: the bot is still silent, so someone must take it
    flag = el("span", { class: "flag", title: t("agent.orphaned_hint"), text: t("agent.orphaned_flag") });
  }
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
    el("span", { class: "bundle", text: bundleName(conv.bundle, conv.bundle_name) }), flag, holder),
  el("div", { class: "line3", text: lastText(conv) }));
  item.addEventListener("click", () => openConversation(conv.id));
  item.addEventListener("keydown", (e) => { if (e.key === "Enter") openConversation(conv.id); });
  return item;
}

// Until the list items carry bundle_name, learn a bundle's name from one conversation's
// context (once per bundle), so the queue never shows a bare id.
const askedNames = new Set();
function learnBundleNames(list) {
  for (const c of list) {
    if (!c.bundle || c.bundle_name || state.bundles[c.bundle] || askedNames.has(c.bundle)) continue;
    askedNames.add(c.bundle);
    api("GET", `${API}/conversations/${enc(c.id)}`).then((d) => {
      if (d.context && d.context.bundle_name) {
        bundleName(c.bundle, d.context.bundle_name);
        renderQueue();
      } else askedNames.delete(c.bundle);
    }).catch(() => askedNames.delete(c.bundle));
  }
}

function renderQueue() {
  const list = state.lists[state.tab];
  const sorted = [...list].sort((a, b) =>
    (a.waiting_since || "9").localeCompare(b.waiting_since || "9"));
  $("queue-list").replaceChildren(...sorted.map(queueItem));
  learnBundleNames(sorted);
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
  if (state.current !== id) state.replies = [];
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
  renderConversation();
}

function mineNow() {
  const d = state.detail;
  return !!d && d.state === "agent" && (d.mine === undefined ? d.agent === myName() : d.mine);
}

function deliveryError(code) {
  if (!code) return "";
  const known = label("delivery_errors", code);
  return known !== code ? known : t("agent.delivery_error_other", { code });
}

function bubble(m) {
  const who = m.from;
  const meta = [el("span", { text: label("senders", who) })];
  if (m.agent && who === "agent") meta.push(el("span", { class: "muted", text: m.agent }));
  meta.push(el("time", { text: clock(m.at) }));
  const failed = who === "agent" && m.status === "failed";
  let delivery = null;
  if (failed) {
    delivery = el("div", { class: "delivery failed",
      text: t("agent.not_delivered", { reason: deliveryError(m.error) }) });
  } else if (who === "agent" && m.status) {
    delivery = el("div", { class: `delivery st-${m.status}`, text: label("delivery_states", m.status) });
  }
  return el("li", { class: `msg from-${who}${failed ? " failed" : ""}`, "data-status": m.status || null },
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
      el("span", { class: "bundle", text: bundleName(d.bundle, d.context && d.context.bundle_name) }),
      el("span", { class: `state-tag st-${d.state}`, text: mineNow() ? t("agent.handled_by_me")
        : d.state === "agent" && d.agent ? t("agent.handled_by", { agent: d.agent })
          : label("conversation_states", d.state) }));
    const list = $("messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren(...(d.messages || []).map((m) => bubble(m)));
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
  renderWorkOrders();
  if (open && $("ticket-form").dataset.for !== d.id) {
    $("ticket-form").dataset.for = d.id;
    $("ticket-summary").value = ticketSummary(d);
    showMessage($("ticket-message"), "");
  }
}

// The Official Account may send customer-service messages for 48 hours after the
// citizen's last message, at most 5 of them; the backend's numbers win when it sends them.
function windowInfo(d) {
  if (!d || d.channel !== "wechat") return null;
  const w = d.wechat || {};
  let expires = w.closes_at ? new Date(w.closes_at).getTime() : null;
  let remaining = typeof w.allowance === "number" ? w.allowance : null;
  if (d.wechat && !w.closes_at) return { expires: null, remaining: 0 };
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
      text: t("agent.allowance", { n: w.remaining ?? WECHAT_ALLOWANCE,
        max: (d.wechat && d.wechat.limit) || WECHAT_ALLOWANCE }) }));
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
    showMessage($("conversation-message"), err.message || t("agent.taken_by_other"));
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
    // Not delivered: say so and keep the text for another try. A refusal by WeChat is
    // stored by the backend as a failed message (shown as 未送达), never as sent.
    const reason = err.body && err.body.sent ? deliveryError(err.body.sent.error) : err.message;
    showMessage($("conversation-message"), t("agent.send_failed", { reason }));
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
    const note = $("transfer-note").value.trim();
    if (note) {
      await api("POST", `${API}/conversations/${enc(state.current)}/notes`,
        { text: t("agent.transfer_note", { agent: to, note }) });
    }
    await api("POST", `${API}/conversations/${enc(state.current)}/transfer`, { to });
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

function statusTag(code, name, section = "item_states") {
  return el("span", { class: `app-status as-${code}`, text: name || label(section, code) });
}

function historyList(history) {
  if (!history || !history.length) return null;
  return el("ol", { class: "history" }, [...history].reverse().slice(0, 8).map((h) => el("li", {},
    el("time", { text: clock(h.at) }),
    el("span", { text: [h.item_name || h.item, h.state_name || label("item_states", h.to_state), h.detail]
      .filter((x) => x && typeof x === "string").join(" · ") }))));
}

function applicationCard(a) {
  const items = (a.items || []).map((it) => el("li", {},
    el("span", { class: "item-name", text: it.name }), statusTag(it.state, it.state_name)));
  const fields = (a.fields || []).map((f) => [f.label, f.display]);
  return el("div", { class: "app-card", "data-number": a.number },
    el("div", { class: "app-head" }, el("span", { class: "mono", text: a.number || "" }),
      a.status ? statusTag(a.status, a.status_name, "application_states") : null),
    el("div", { class: "muted", text: [a.bundle_name, a.submitted_at ? formatTime(a.submitted_at) : ""]
      .filter(Boolean).join(" · ") }),
    items.length ? el("ul", { class: "app-items" }, items) : null,
    fields.length ? dl(fields) : null,
    historyList(a.history));
}

function draftCard(draft) {
  const fields = draft.fields || [];
  const done = fields.filter((f) => f.filled).length;
  return el("div", { class: "app-card" },
    el("div", { class: "app-head" }, el("span", { text: draft.bundle_name || "" }),
      el("span", { class: "app-status as-draft", text: t("agent.draft_state") })),
    fields.length ? el("div", { class: "muted", text: t("agent.draft_progress", { done, total: fields.length }) }) : null,
    fields.length ? dl(fields.filter((f) => f.filled).slice(0, 8).map((f) => [f.label, f.display])) : null);
}

function renderContext() {
  const body = $("context-body");
  const d = state.detail;
  if (!d) {
    body.replaceChildren(el("p", { class: "muted", text: t("agent.context_empty") }));
    return;
  }
  const c = d.context || {};
  const bundleId = c.bundle || d.bundle;
  const items = (c.items || []).map((i) => (typeof i === "string" ? i : i.name || i.key));
  const draft = c.draft;
  const materials = ((draft && draft.materials) || c.materials || [])
    .filter((m) => typeof m === "string" || !m.produced_by)  // made by the items themselves
    .map((m) => (typeof m === "string" ? m : (m.holder ? `${m.name}（${m.holder}）` : m.name)))
    .filter(Boolean);
  const apps = c.applications || [];
  const blocks = [dl([
    [t("agent.f_bundle"), bundleId ? bundleName(bundleId, c.bundle_name) : null],
    [t("agent.f_items"), items.length ? el("ul", { class: "chips" }, items.map((n) => el("li", { text: n }))) : null],
    [t("agent.f_channel"), channelName(d.channel)],
    [t("agent.f_citizen"), d.citizen],
    [t("agent.f_waiting"), d.waiting_since ? formatTime(d.waiting_since) : null],
    [t("agent.f_reason"), c.reason || d.reason ? label("handoff_reasons", c.reason || d.reason) : null],
  ])];
  if (draft) blocks.push(el("h3", { class: "side-title", text: t("agent.draft") }), draftCard(draft));
  if (materials.length) {
    blocks.push(el("h3", { class: "side-title", text: t("agent.materials") }),
      el("ul", { class: "materials" }, materials.map((n) => el("li", { text: n }))));
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
  if (d) params.set("conversation", d.id);
  if (bundle) params.set("bundle", bundle);
  const items = d && d.context && d.context.items;
  if (items && items.length) params.set("items", items.map((i) => (typeof i === "string" ? i : i.key)).join(","));
  const keyed = (r) => ({ ...r, key: r.key || r.id });
  try {
    const data = await api("GET", `${API}/canned-replies?${params}`);
    state.replies = (data.replies || []).map(keyed);
    state.general = (data.general || []).map(keyed);
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
    const q = state.current ? `?conversation=${enc(state.current)}` : "";
    const data = await api("GET", `${API}/applications/${enc(number)}${q}`);
    $("lookup-result").replaceChildren(applicationCard(data.application || data));
  } catch (err) {
    showMessage($("lookup-message"), err.status === 404 ? t("agent.no_application")
      : err.status === 400 ? t("agent.bad_number") : err.message);
  }
}

// -- 转工单 ---------------------------------------------------------------------------------
function ticketSummary(d) {
  const cit = (d.messages || []).filter((m) => m.from === "citizen").slice(-3).map((m) => m.text);
  const name = d.bundle ? bundleName(d.bundle, d.context && d.context.bundle_name) : "";
  return [name ? `【${name}】` : "", cit.join(" / ")].join("").slice(0, 1000);
}

function localDate(days) {
  const d = new Date(Date.now() + days * 86400 * 1000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

let defaultDays = 5;
const departmentNames = {};
async function loadTicketOptions() {
  try {
    const data = await api("GET", `${API}/work-orders/options`);
    $("ticket-category").replaceChildren(...(data.categories || []).map((c) =>
      el("option", { value: c.id, text: c.name })));
    $("ticket-department").replaceChildren(...(data.departments || []).map((d) =>
      el("option", { value: d.id, text: d.name })));
    for (const d of data.departments || []) departmentNames[d.id] = d.name;
    if (data.default_days > 0) defaultDays = data.default_days;
  } catch (err) {
    showMessage($("ticket-message"), err.message);
  }
  $("ticket-deadline").value = localDate(defaultDays);
  $("ticket-deadline").min = localDate(0);
}

function renderWorkOrders() {
  const orders = (state.detail && state.detail.work_orders) || [];
  $("ticket-list").replaceChildren(...orders.map((o) => el("li", { class: "app-card" },
    el("div", { class: "app-head" }, el("span", { class: "mono", text: o.number }),
      el("span", { class: "app-status", text: o.category_name || o.category })),
    el("div", { class: "muted", text: t("agent.ticket_line", {
      department: o.department_name || departmentNames[o.department] || "", deadline: o.deadline ? formatTime(o.deadline).split(" ")[0] : "" }) }),
    el("div", { class: "reply-text", text: o.summary }))));
  $("ticket-list-title").hidden = orders.length === 0;
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
  await refreshConversation();
}

// -- live updates: SSE with reconnect, polling while it is down -----------------------------
// The open stream is also the agent's heartbeat (held conversations go back to the queue
// without one); while it is down the page polls and sends the heartbeat itself.
let source = null;
let retryMs = 1000;
let pollTimer = null;
let queueTimer = null;

function setLive(on, why) {
  state.live = on;
  $("live-dot").className = `dot ${on ? "" : "off"}`;
  $("live-text").textContent = on ? t("agent.live_on") : (why || t("agent.live_polling"));
  if (on && pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  if (!on && !pollTimer) {
    pollTimer = setInterval(() => {
      loadQueues();
      refreshConversation();
      api("POST", `${API}/heartbeat`, {}).catch(() => {});
    }, POLL_MS);
  }
}

function soonReloadQueues() {
  if (queueTimer) return;
  queueTimer = setTimeout(() => { queueTimer = null; loadQueues(); }, 250);
}

function onConversationEvent(raw) {
  let ev = {};
  try { ev = JSON.parse(raw.data || "{}"); } catch (e) { return; }
  if (ev.id && ev.bundle) bundleName(ev.bundle, ev.bundle_name);
  soonReloadQueues();
  if (state.current && ev.id === state.current) refreshConversation();
}

function onMessageEvent(raw) {
  let ev = {};
  try { ev = JSON.parse(raw.data || "{}"); } catch (e) { return; }
  soonReloadQueues();
  if (state.current && ev.conversation === state.current) refreshConversation();
}

function connect() {
  if (!window.EventSource) { setLive(false); return; }
  source = new EventSource(`${API}/stream`, { withCredentials: true });
  source.addEventListener("hello", () => {
    retryMs = 1000;
    setLive(true);
    loadQueues();
    refreshConversation();
  });
  source.addEventListener("conversation", onConversationEvent);
  source.addEventListener("message", onMessageEvent);
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
  renderReplies();
  loadReplies();
  loadTicketOptions();
  setLive(false, t("agent.live_connecting"));
  await loadQueues();
  connect();
  setInterval(tickTimers, 1000);
}

main();
