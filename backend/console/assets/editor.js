// Content editors' workbench over /api/editor/… (the contract's "Content editor API"):
// bundles (edit, field-level problems, draft-vs-live diff), NLU examples, training with
// a live progress bar, evaluation against the live model, models and publish/roll back,
// and the inbox of real conversations. Wording: text.editor.yml (t("editor.…")) and
// editor.html. Nothing here writes HTML from data: every text goes in as textContent.
import { api, boot, el, formatTime, label, loadTexts, showMessage, t } from "./console.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 700;
let me = null;
let bundles = [];          // [{id, name, …}] from GET /api/editor/bundles
let departments = {};      // id → {name, …}
let materials = {};        // id → {name, …}
let current = null;        // the bundle being edited: {id, raw (as loaded), work (being edited)}
let polling = null;

const canPublish = () => me.roles.includes("publisher");
const bundleName = (id) => (bundles.find((b) => b.id === id) || {}).name || id;
const intentName = (id) => (id ? label("intents", id) : "—");
const pct = (x) => (typeof x === "number" ? `${(x * 100).toFixed(1)}%` : "—");
const clone = (x) => JSON.parse(JSON.stringify(x));

// -- sections ------------------------------------------------------------------------------
const loaders = {};

function showSection(name) {
  if (!document.querySelector(`[data-view="${name}"]`)) name = "overview";
  document.querySelectorAll(".sidenav a").forEach((a) => {
    const on = a.dataset.section === name;
    a.classList.toggle("current", on);
    a.setAttribute("aria-current", on ? "page" : "false");
  });
  document.querySelectorAll("[data-view]").forEach((v) => { v.hidden = v.dataset.view !== name; });
  if (loaders[name]) loaders[name]().catch(showFatal);
}

function showFatal(err) {
  const box = document.querySelector("[data-view]:not([hidden]) .message") || $("train-message");
  showMessage(box, err.message || t("ui.server_error"));
}

// -- problems next to their fields -------------------------------------------------------
function clearProblems(root) {
  root.querySelectorAll(".field-error").forEach((n) => n.remove());
  root.querySelectorAll(".invalid").forEach((n) => n.classList.remove("invalid"));
}

/** Put each problem next to the field its path names (or the nearest enclosing one). */
function showProblems(root, problems, messageBox) {
  clearProblems(root);
  const unplaced = [];
  for (const p of problems || []) {
    const text = problemText(p);
    let path = String(p.field || "");
    let target = null;
    while (path && !(target = root.querySelector(`[data-path="${CSS.escape(path)}"]`))) {
      path = path.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
      if (!/[.[]/.test(path) && !root.querySelector(`[data-path="${CSS.escape(path)}"]`)) {
        target = root.querySelector(`[data-path="${CSS.escape(path)}"]`);
        break;
      }
    }
    if (!target) { unplaced.push(text); continue; }
    target.classList.add("invalid");
    const note = el("div", { class: "field-error", role: "alert", text });
    const holder = target.closest("label.field, td, .chips, fieldset") || target;
    if (holder === target) target.after(note); else holder.append(note);
    const card = target.closest("details");
    if (card) card.open = true;
  }
  const first = root.querySelector(".invalid");
  if (first) first.scrollIntoView({ block: "center" });
  showMessage(messageBox, unplaced.length ? unplaced.join("；")
    : t("editor.problems", { n: (problems || []).length }));
}

// The validators' (English) messages, in the editors' words (text.editor.yml problem_*).
const PROBLEMS = [
  [/unknown material '([^']*)'/, (m) => (m[1] ? "problem_unknown_material" : "problem_choose_material")],
  [/unknown department '([^']*)'/, () => "problem_unknown_department"],
  [/synonym '([^']*)' names both '([^']*)' and '([^']*)'/, () => "problem_synonym_clash"],
  [/'([^']*)' already names this bundle/, () => "problem_synonym_known"],
  [/has no materials/, () => "problem_no_materials"],
  [/has no items/, () => "problem_no_items"],
  [/each material needs a 'doc'/, () => "problem_choose_material"],
  [/missing '([^']*)'/, () => "problem_missing"],
  [/'([^']*)' must be text/, () => "problem_text"],
  [/'([^']*)' is not an item of this bundle/, () => "problem_not_an_item"],
  [/unknown intent/, () => "problem_unknown_intent"],
  [/unknown entity '([^']*)'/, () => "problem_unknown_entity"],
  [/the example is empty/, () => "problem_empty_example"],
  [/this example is already there/, () => "problem_example_exists"],
  [/one line of at most (\d+)/, () => "problem_example_long"],
  [/a synonym is one short phrase/, () => "problem_synonym_long"],
];

function problemWords(message) {
  for (const [re, key] of PROBLEMS) {
    const m = String(message || "").match(re);
    if (m) {
      const a = m[1] || "";
      return t(`editor.${key(m)}`, { a: label("editor_fields", a), b: bundleName(m[2] || ""), n: a });
    }
  }
  return message;
}

function problemText(p) {
  const words = p.message_zh || problemWords(p.message) || t("editor.invalid_field");
  const last = String(p.field || "").split(".").pop().replace(/\[\d+\]$/, "");
  const name = last ? label("editor_fields", last) : "";
  return name && name !== last ? `${name}：${words}` : words;
}

// -- bundles ------------------------------------------------------------------------------
async function loadCatalogues() {
  const [d, m] = await Promise.all([
    api("GET", "/api/editor/documents/departments").catch(() => ({})),
    api("GET", "/api/editor/documents/materials").catch(() => ({})),
  ]);
  departments = unwrap(d, "departments");
  materials = unwrap(m, "materials");
}

function unwrap(data, key) {
  if (!data) return {};
  if (data[key] && typeof data[key] === "object") return data[key];
  if (data.document && typeof data.document === "object") return data.document;
  return data;
}

let changedBundles = new Set();

async function loadBundles() {
  const [data, diff] = await Promise.all([api("GET", "/api/editor/bundles"),
    api("GET", "/api/editor/diff").catch(() => ({ files: [] }))]);
  bundles = data.bundles || [];
  changedBundles = new Set((diff.files || []).map((f) => f.bundle).filter(Boolean));
  $("bundle-count").textContent = String(bundles.length);
  $("bundle-list").replaceChildren(...bundles.map((b) => el("li", {},
    el("button", {
      type: "button", "data-bundle": b.id, class: current && current.id === b.id ? "current" : null,
      onclick: () => openBundle(b.id),
    }, el("span", { class: "name", text: b.name || b.id }),
    changedBundles.has(b.id) ? el("span", { class: "tag", text: t("editor.changed") }) : null))));
}

async function openBundle(id) {
  const raw = await api("GET", `/api/editor/bundles/${encodeURIComponent(id)}`);
  const bundle = raw.bundle && raw.bundle.id ? raw.bundle : raw;
  current = { id, raw: clone(bundle), work: clone(bundle) };
  document.querySelectorAll("#bundle-list button").forEach((b) => {
    b.classList.toggle("current", b.dataset.bundle === id);
  });
  $("bundle-title").textContent = bundle.name || id;
  $("bundle-empty").hidden = true;
  showBundleTab("form");
  renderBundleForm();
  showMessage($("bundle-message"), "");
}

function deptOptions(selected) {
  const ids = Object.keys(departments);
  if (selected && !ids.includes(selected)) ids.unshift(selected);
  return ids.map((id) => el("option", { value: id, selected: id === selected,
    text: (departments[id] && departments[id].name) || id }));
}

function materialOptions(selected) {
  const ids = Object.keys(materials);
  if (selected && !ids.includes(selected)) ids.unshift(selected);
  return [el("option", { value: "", text: t("editor.choose_material") }),
    ...ids.map((id) => el("option", { value: id, selected: id === selected,
      text: (materials[id] && materials[id].name) || id }))];
}

function renderBundleForm() {
  const form = $("bundle-form");
  const b = current.work;
  form.hidden = false;
  clearProblems(form);
  form.elements.name.value = b.name || "";
  form.elements.description.value = b.description || "";
  $("lead-department").replaceChildren(...deptOptions(b.lead_department));
  renderSynonyms();
  $("items").replaceChildren(...(b.items || []).map((it, n) => itemCard(it, n)));
}

function renderSynonyms() {
  const before = new Set(current.raw.synonyms || []);
  $("synonyms").replaceChildren(...(current.work.synonyms || []).map((s, n) => el("span", {
    class: before.has(s) ? "chip" : "chip new", "data-path": `synonyms[${n}]` }, s,
  el("button", { type: "button", "aria-label": t("editor.remove"), text: "×",
    onclick: () => { current.work.synonyms.splice(n, 1); renderSynonyms(); } }))));
}

function addSynonym() {
  const input = $("synonym-input");
  const text = input.value.trim();
  if (!text) return;
  current.work.synonyms = current.work.synonyms || [];
  if (!current.work.synonyms.includes(text)) current.work.synonyms.push(text);
  input.value = "";
  renderSynonyms();
}

function field(caption, path, value, attrs = {}) {
  return el("label", { class: "field" }, caption,
    el("input", { "data-path": path, value: value ?? "", ...attrs }));
}

function itemCard(it, n) {
  const base = `items[${n}]`;
  const tl = it.time_limit || {};
  const online = el("select", { "data-path": `${base}.online` },
    ["yes", "partial", "no"].map((v) => el("option", { value: v, selected: String(it.online) === v,
      text: t(`editor.online_${v}`) })));
  const rows = (it.materials || []).map((m, k) => materialRow(base, m, k));
  const table = el("table", { class: "materials", "data-path": `${base}.materials` },
    el("thead", {}, el("tr", {}, el("th", { text: t("editor.material") }),
      el("th", { text: t("editor.holder") }), el("th", { text: t("editor.note") }),
      el("th", { text: t("editor.conditional") }), el("th", {}))),
    el("tbody", {}, rows));
  const add = el("button", { type: "button", class: "link", text: t("editor.add_material"),
    onclick: () => {
      collectBundle();
      current.work.items[n].materials = [...(current.work.items[n].materials || []), { doc: "" }];
      const card = $("items").children[n];
      card.replaceWith(itemCard(current.work.items[n], n));
      $("items").children[n].open = true;
    } });
  return el("details", { class: "item-card", "data-item": n },
    el("summary", {}, el("strong", { text: it.name || it.id }),
      el("span", { class: "muted", text: (departments[it.department] || {}).name || it.department || "" })),
    el("div", { class: "item-body" },
      el("div", { class: "grid-2" },
        field(t("editor.item_name"), `${base}.name`, it.name, { maxlength: 80 }),
        el("label", { class: "field" }, t("editor.department"),
          el("select", { "data-path": `${base}.department` }, deptOptions(it.department)))),
      el("div", { class: "grid-4" },
        field(t("editor.working_days"), `${base}.time_limit.working_days`, tl.working_days,
          { inputmode: "numeric" }),
        field(t("editor.committed"), `${base}.time_limit.committed`, tl.committed),
        field(t("editor.fee"), `${base}.fee`, it.fee),
        el("label", { class: "field" }, t("editor.online"), online)),
      field(t("editor.statutory"), `${base}.time_limit.statutory`, tl.statutory),
      table, el("div", {}, add)));
}

function materialRow(base, m, k) {
  const path = `${base}.materials[${k}]`;
  return el("tr", { "data-path": path },
    el("td", {}, el("select", { "data-path": `${path}.doc`, "data-k": k }, materialOptions(m.doc))),
    el("td", {}, el("input", { "data-path": `${path}.holder`, value: m.holder || "" })),
    el("td", {}, el("input", { "data-path": `${path}.note`, value: m.note || "" })),
    el("td", { class: "narrow" }, el("input", { type: "checkbox", "data-path": `${path}.conditional`,
      checked: !!m.conditional, "aria-label": t("editor.conditional") })),
    el("td", { class: "actions" }, el("button", { type: "button", class: "link danger",
      text: t("editor.remove"), onclick: (e) => { e.target.closest("tr").dataset.removed = "1";
        e.target.closest("tr").hidden = true; } })));
}

function setOrDrop(obj, key, value) {
  if (value === "" || value === undefined) delete obj[key]; else obj[key] = value;
}

/** Read the form into current.work, keeping every field the form does not show. */
function collectBundle() {
  const form = $("bundle-form");
  const b = current.work;
  b.name = form.elements.name.value.trim();
  setOrDrop(b, "description", form.elements.description.value.trim());
  b.lead_department = $("lead-department").value;
  [...$("items").children].forEach((card) => {
    const n = Number(card.dataset.item);
    const it = b.items[n];
    const val = (p) => card.querySelector(`[data-path="items[${n}].${p}"]`);
    it.name = val("name").value.trim();
    it.department = val("department").value;
    const tl = { ...(it.time_limit || {}) };
    const days = val("time_limit.working_days").value.trim();
    setOrDrop(tl, "working_days", /^\d+$/.test(days) ? Number(days) : days);
    setOrDrop(tl, "committed", val("time_limit.committed").value.trim());
    setOrDrop(tl, "statutory", val("time_limit.statutory").value.trim());
    if (Object.keys(tl).length) it.time_limit = tl; else delete it.time_limit;
    setOrDrop(it, "fee", val("fee").value.trim());
    it.online = val("online").value;
    const rows = [...card.querySelectorAll("table.materials tbody tr")];
    it.materials = rows.map((row, k) => {
      if (row.dataset.removed) return null;
      const m = { ...((it.materials || [])[k] || {}) };
      const v = (p) => row.querySelector(`[data-path="items[${n}].materials[${k}].${p}"]`);
      m.doc = v("doc").value;
      setOrDrop(m, "holder", v("holder").value.trim());
      setOrDrop(m, "note", v("note").value.trim());
      if (v("conditional").checked) m.conditional = true; else delete m.conditional;
      return m;
    }).filter(Boolean);
  });
  return b;
}

async function saveBundle(event) {
  event.preventDefault();
  const form = $("bundle-form");
  const body = collectBundle();
  $("bundle-save").disabled = true;
  try {
    await api("PUT", `/api/editor/bundles/${encodeURIComponent(current.id)}`, body);
    current.raw = clone(body);
    clearProblems(form);
    renderBundleForm();
    showMessage($("bundle-message"), t("editor.saved_draft"), "ok");
    loadBundles().catch(() => {});
  } catch (err) {
    if (err.status === 422) {
      renderBundleForm();  // numbering as saved, then mark the problems
      showProblems(form, (err.body && err.body.problems) || [], $("bundle-message"));
    } else {
      showMessage($("bundle-message"), err.message);
    }
  } finally {
    $("bundle-save").disabled = false;
  }
}

function showBundleTab(tab) {
  document.querySelectorAll("#bundle-tabs button").forEach((b) => {
    b.classList.toggle("current", b.dataset.tab === tab);
    b.setAttribute("aria-selected", b.dataset.tab === tab ? "true" : "false");
  });
  if (!current) return;
  $("bundle-form").hidden = tab !== "form";
  $("bundle-diff").hidden = tab !== "diff";
  if (tab === "diff") loadDiff($("bundle-diff"), current.id).catch(showFatal);
}

// -- the draft-vs-live diff, in words -------------------------------------------------------
async function loadDiff(box, bundleId) {
  box.replaceChildren(el("div", { class: "muted", text: t("ui.loading") }));
  const data = await api("GET", bundleId
    ? `/api/editor/diff?bundle=${encodeURIComponent(bundleId)}` : "/api/editor/diff");
  const files = Array.isArray(data) ? data : (data.files || data.diff || []);
  const shown = bundleId ? files.filter((f) => !f.bundle || f.bundle === bundleId) : files;
  if (!shown.length) {
    box.replaceChildren(el("div", { class: "empty" }, el("span", { text: t("editor.no_changes") })));
    return shown;
  }
  box.replaceChildren(...shown.map(diffFile));
  return shown;
}

function fileTitle(f) {
  if (f.bundle) return t("editor.diff_bundle", { name: bundleName(f.bundle) });
  const known = label("editor_files", f.file);
  return known !== f.file ? known : f.file;
}

function diffFile(f) {
  const changes = f.changes || [];
  return el("div", { class: "diff-file", "data-file": f.file },
    el("h3", {}, el("span", { class: `change-tag ${f.change}`, text: t(`editor.change_${f.change}`) }),
      fileTitle(f)),
    el("ul", {}, changes.length ? changes.map((c) => diffLine(c, f)) : el("li", { text: t("editor.text_changed") })));
}

// One line in words (item name, field name, added/removed values) from {path, change, before, after}.
function diffLine(c, f) {
  const bundle = f.bundle && (current && current.id === f.bundle ? current.work : null);
  const parts = String(c.path || "").split(".").filter(Boolean);
  const words = [];
  for (let i = 0; i < parts.length; i++) {
    const key = parts[i];
    if (key === "items" && parts[i + 1] !== undefined) {
      const id = parts[++i];
      const item = bundle && (bundle.items || []).find((x) => x.id === id);
      words.push(t("editor.diff_item", { name: (item && item.name) || id }));
    } else {
      words.push(label("editor_fields", key));
    }
  }
  const what = words.join(" · ") || t("editor.whole");
  const kids = [el("span", { class: "what", text: `${what}：` }),
    el("span", { class: `change-tag ${c.change}`, text: t(`editor.change_${c.change}`) }), " "];
  if (c.change === "changed") {
    kids.push(el("span", { class: "before", text: valueText(c.before) }), " → ",
      el("span", { class: "after", text: valueText(c.after) }));
  } else if (c.change === "added") {
    kids.push(el("span", { class: "after", text: valueText(c.after) }));
  } else if (c.change === "removed") {
    kids.push(el("span", { class: "before", text: valueText(c.before) }));
  }
  return el("li", {}, kids);
}

function valueText(v) {
  if (v === null || v === undefined || v === "") return t("editor.empty_value");
  if (Array.isArray(v)) return v.map(valueText).join("、");
  if (typeof v === "object") {
    if (v.doc) {
      const name = (materials[v.doc] && materials[v.doc].name) || v.doc;
      return v.holder ? `${name}（${v.holder}）` : name;
    }
    if (v.name) return v.name;
    return Object.entries(v).map(([k, x]) => `${label("editor_fields", k)} ${valueText(x)}`).join("，");
  }
  if (v === true) return t("ui.answer_yes");
  if (v === false) return t("ui.answer_no");
  return String(v);
}

// -- NLU examples -----------------------------------------------------------------------------
let INTENTS = {};  // intent → its name (text.editor.yml, section intents)

function intentOptions(selected, withId = true) {
  return Object.keys(INTENTS).map((id) => el("option", { value: id, selected: id === selected,
    text: withId ? `${intentName(id)}（${id}）` : intentName(id) }));
}

async function loadExamples() {
  if (!$("nlu-intent").options.length) $("nlu-intent").replaceChildren(...intentOptions("ask_bundle"));
  const data = await api("GET", "/api/editor/nlu/examples").catch(() => ({ examples: [] }));
  const rows = data.examples || [];
  $("nlu-count").textContent = String(rows.length);
  $("nlu-empty").hidden = rows.length > 0;
  $("nlu-table").tBodies[0].replaceChildren(...rows.map((e) => el("tr", {},
    el("td", { text: intentName(e.intent) }), el("td", { class: "mono", text: e.text }))));
}

async function addExample(event) {
  event.preventDefault();
  const form = $("nlu-form");
  const body = { intent: $("nlu-intent").value, text: $("nlu-text").value.trim() };
  try {
    await api("POST", "/api/editor/nlu/examples", body);
    clearProblems(form);
    $("nlu-text").value = "";
    showMessage($("nlu-message"), t("editor.example_added"), "ok");
    await loadExamples();
  } catch (err) {
    if (err.status === 422) showProblems(form, err.body && err.body.problems, $("nlu-message"));
    else showMessage($("nlu-message"), err.message);
  }
}

// -- training ---------------------------------------------------------------------------------
const STAGES = ["data", "components", "epochs", "evaluation"];

// The worker's stage strings: "queued", "data: …", "training X", "trained X",
// "from cache X", "epochs N%", "evaluation: …", "done", "failed: …".
function stageOf(job) {
  const s = String(job.stage || "").toLowerCase();
  if (job.state === "evaluating" || s.startsWith("evaluat")) return "evaluation";
  if (s.startsWith("epoch")) return "epochs";
  if (/^(training|trained|from cache) /.test(s)) return "components";
  if (s === "done") return "evaluation";
  return "data";
}

function stageDetail(job) {
  const s = String(job.stage || "");
  let m = s.match(/^epochs\s+(\d+)%/i);
  if (m) return t("editor.stage_epoch_pct", { n: m[1] });
  m = s.match(/^(training|trained|from cache)\s+(\S+)/i);
  if (m) return t(`editor.stage_${m[1].replace(" ", "_").toLowerCase()}`, { name: m[2] });
  if (job.state === "queued" && job.queue_position) return t("editor.queue_position", { n: job.queue_position });
  return "";
}

function renderTraining(job) {
  $("train-box").hidden = false;
  const bar = $("train-progress");
  const p = Math.max(0, Math.min(1, Number(job.progress) || 0));
  bar.value = p;
  bar.textContent = `${Math.round(p * 100)}%`;
  bar.className = job.state === "succeeded" ? "ok" : job.state === "failed" ? "bad" : "";
  $("train-percent").textContent = `${Math.round(p * 100)}%`;
  const state = $("train-state");
  state.className = `status ${job.state}`;
  state.textContent = t(`editor.state_${job.state}`);
  const now = stageOf(job);
  const at = STAGES.indexOf(now);
  document.querySelectorAll("#train-stages li").forEach((li, n) => {
    const done = job.state === "succeeded" || n < at;
    li.classList.toggle("done", done);
    li.classList.toggle("now", !done && n === at && job.state !== "failed");
  });
  const words = job.state === "succeeded" ? t("editor.train_done")
    : job.state === "failed" ? t("editor.train_failed_short")
      : [t(`editor.stage_${now}`), stageDetail(job)].filter(Boolean).join(" · ");
  $("train-stage-text").textContent = words;
  const error = $("train-error");
  error.hidden = job.state !== "failed";
  if (job.state === "failed") {
    error.textContent = t("editor.train_failed", { reason: job.error_zh || job.error || t("editor.unknown_reason") });
  }
  $("train-box").dataset.state = job.state;
  $("train-box").dataset.progress = String(p);
}

async function startTraining() {
  $("train-start").disabled = true;
  showMessage($("train-message"), "");
  try {
    const { id } = await api("POST", "/api/editor/trainings", {});
    renderTraining({ state: "queued", progress: 0, stage: "" });
    follow(id);
  } catch (err) {
    $("train-start").disabled = false;
    showMessage($("train-message"), err.message);
  }
}

let stream = null;

/** Follow a training: server-sent events (/events), else polling. */
function follow(id) {
  clearTimeout(polling);
  if (stream) stream.close();
  const done = async (job) => {
    $("train-start").disabled = false;
    const full = await api("GET", `/api/editor/trainings/${encodeURIComponent(id)}`).catch(() => job);
    renderTraining(full);
    if (full.evaluation) renderEvaluation(full.evaluation, full.model);
    loadTrainings().catch(() => {});
    loadModels().catch(() => {});
  };
  if (window.EventSource) {
    stream = new EventSource(`/api/editor/trainings/${encodeURIComponent(id)}/events`);
    polling = true;
    stream.onmessage = (e) => {
      const job = JSON.parse(e.data);
      renderTraining(job);
      if (job.state === "succeeded" || job.state === "failed") {
        stream.close(); stream = null; polling = null;
        done(job);
      }
    };
    stream.onerror = () => { if (stream) { stream.close(); stream = null; poll(id, done); } };
    return;
  }
  poll(id, done);
}

function poll(id, done) {
  const tick = async () => {
    let job;
    try {
      job = await api("GET", `/api/editor/trainings/${encodeURIComponent(id)}`);
    } catch (err) {
      showMessage($("train-message"), err.message);
      polling = setTimeout(tick, POLL_MS * 3);
      return;
    }
    renderTraining(job);
    if (job.state === "succeeded" || job.state === "failed") {
      polling = null;
      done(job);
      return;
    }
    polling = setTimeout(tick, POLL_MS);
  };
  tick();
}

async function loadTrainings() {
  const data = await api("GET", "/api/editor/trainings").catch(() => ({ trainings: [] }));
  const rows = data.trainings || [];
  $("trainings-table").tBodies[0].replaceChildren(...rows.map((j) => el("tr", { "data-training": j.id },
    el("td", { class: "mono", text: String(j.id) }),
    el("td", { class: "nowrap", text: formatTime(j.created || j.created_at) }),
    el("td", { text: j.requested_by || "" }),
    el("td", {}, el("span", { class: `status ${j.state}`, text: t(`editor.state_${j.state}`) })),
    el("td", { class: "mono", text: j.model || "" }),
    el("td", { class: "actions" }, j.evaluation ? el("button", { type: "button", class: "link",
      text: t("editor.show_evaluation"), onclick: () => renderEvaluation(j.evaluation, j.model) }) : null,
    j.state === "running" || j.state === "queued" || j.state === "evaluating"
      ? el("button", { type: "button", class: "link", text: t("editor.follow"), onclick: () => follow(j.id) })
      : null))));
  const running = rows.find((j) => ["queued", "running", "evaluating"].includes(j.state));
  if (running && !polling) follow(running.id);
  return rows;
}

// -- evaluation -------------------------------------------------------------------------------
function metric(caption, value, live) {
  const delta = typeof value === "number" && typeof live === "number" ? value - live : null;
  return el("div", { class: "metric" }, el("div", { class: "label", text: caption }),
    el("div", { class: "pair" }, el("span", { class: "new", text: pct(value) }),
      el("span", { class: "old", text: t("editor.live_value", { value: pct(live) }) }),
      delta === null ? null : el("span", { class: `delta ${delta >= 0 ? "up" : "down"}`,
        text: `${delta >= 0 ? "+" : ""}${(delta * 100).toFixed(1)}` })));
}

function renderEvaluation(record, model) {
  const ev = (record && record.result) || record || {};
  const live = ev.live || {};
  const box = $("eval-body");
  const why = ev.why || [];
  const verdict = ev.passed
    ? el("div", { class: "verdict pass", text: ev.live ? t("editor.eval_passed", { model: model || "" })
      : t("editor.eval_first", { model: model || "" }) })
    : el("div", { class: "verdict block", id: "eval-blocked" }, t("editor.eval_blocked"),
      el("ul", {}, (why.length ? why : [t("editor.eval_worse_than_live")]).map((r) => el("li", { text: r }))));
  const f1 = ev.per_intent_f1 || {};
  const liveF1 = live.per_intent_f1 || {};
  const f1Rows = Object.keys({ ...f1, ...liveF1 }).sort().map((intent) => {
    const a = f1[intent];
    const b = liveF1[intent];
    const d = typeof a === "number" && typeof b === "number" ? a - b : null;
    return el("tr", { class: d !== null && d < 0 ? "worse" : null }, el("td", { text: intentName(intent) }),
      el("td", { class: "num", text: pct(a) }), el("td", { class: "num", text: pct(b) }),
      el("td", { class: `num delta ${d !== null && d < 0 ? "down" : "up"}`,
        text: d === null ? "" : `${d >= 0 ? "+" : ""}${(d * 100).toFixed(1)}` }));
  });
  const understood = (u) => (u ? [intentName(u.intent), u.bundle ? bundleName(u.bundle) : null]
    .filter(Boolean).join(" · ") : "—");
  const worse = ev.worse || [];
  const worseRows = worse.map((w) => el("tr", {}, el("td", { text: w.text }),
    el("td", { text: understood(w.expected) }),
    el("td", { class: "bad-text", text: understood(w.understood) })));
  box.replaceChildren(verdict,
    el("div", { class: "compare" },
      metric(t("editor.intent_accuracy"), ev.intent_accuracy, live.intent_accuracy),
      metric(t("editor.bundle_accuracy"), ev.bundle_accuracy, live.bundle_accuracy)),
    el("p", { class: "hint", text: t("editor.eval_set", { n: ev.n || 0, tolerance: pct(ev.tolerance) }) }),
    el("div", { class: "eval-grid" },
      el("div", {}, el("h3", { text: t("editor.per_intent_f1") }), el("div", { class: "table-wrap" },
        el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: t("editor.intent") }),
          el("th", { class: "num", text: t("editor.new_model") }), el("th", { class: "num", text: t("editor.live_model") }),
          el("th", { class: "num", text: t("editor.delta") }))), el("tbody", {}, f1Rows)))),
      el("div", {}, el("h3", { text: t("editor.got_worse", { n: worse.length }) }), el("div", { class: "table-wrap" },
        worse.length ? el("table", { id: "worse-table" }, el("thead", {}, el("tr", {}, el("th", { text: t("editor.message") }),
          el("th", { text: t("editor.expected") }), el("th", { text: t("editor.new_said") }))),
        el("tbody", {}, worseRows))
          : el("div", { class: "empty", text: t("editor.none_worse") })))));
}

// -- models and publishing --------------------------------------------------------------------
function publishBlocker(m) {
  if (!canPublish()) return t("editor.need_publisher");
  if (m.live) return t("editor.already_live");
  if (m.ever_live) return null;  // a rollback needs no new evaluation
  if (!m.evaluation) return t("editor.not_evaluated");
  if (!m.evaluation.passed) return t("editor.eval_not_passed");
  return null;
}

async function loadModels() {
  const data = await api("GET", "/api/editor/models");
  const models = data.models || [];
  $("publish-role-hint").textContent = canPublish() ? t("editor.you_can_publish") : t("editor.need_publisher");
  $("models-table").tBodies[0].replaceChildren(...models.map((m) => {
    const ev = m.evaluation || {};
    const blocker = publishBlocker(m);
    const rollback = m.ever_live && !m.live;
    const button = el("button", { type: "button", class: rollback ? "" : "primary",
      "data-action": rollback ? "rollback" : "publish", "data-model": m.id, disabled: !!blocker,
      title: blocker || null, text: rollback ? t("editor.rollback") : t("editor.publish"),
      onclick: () => publish(m, rollback) });
    return el("tr", { "data-model": m.id },
      el("td", { class: "mono", text: m.id }),
      el("td", { class: "nowrap", text: formatTime(m.created) }),
      el("td", { class: "num", text: pct(ev.intent_accuracy) }),
      el("td", { class: "num", text: pct(ev.bundle_accuracy) }),
      el("td", {}, m.live ? el("span", { class: "status live", text: t("editor.live") })
        : ev.passed === false ? el("span", { class: "status failed", text: t("editor.eval_not_passed_short") })
          : el("span", { class: "muted", text: m.ever_live ? t("editor.was_live") : t("editor.not_live") })),
      el("td", { class: "actions" }, button, blocker && !m.live ? el("span", { class: "reason", text: blocker }) : null));
  }));
  const live = models.find((m) => m.live);
  $("card-live").textContent = live ? live.id : "—";
  $("card-live").classList.toggle("none", !live);
  return models;
}

async function publish(m, rollback) {
  const ask = rollback ? t("editor.confirm_rollback", { model: m.id }) : t("editor.confirm_publish", { model: m.id });
  if (!confirm(ask)) return;
  showMessage($("models-message"), "");
  try {
    await api("POST", `/api/editor/models/${encodeURIComponent(m.id)}/publish`, {});
    showMessage($("models-message"), t("editor.publishing", { model: m.id }), "ok");
    setTimeout(() => { loadModels().catch(() => {}); loadServers().catch(() => {}); }, 1500);
  } catch (err) {
    showMessage($("models-message"), err.message);
  }
}

async function loadServers() {
  const data = await api("GET", "/api/editor/servers").catch(() => ({ servers: [] }));
  const rows = data.servers || [];
  $("servers-table").tBodies[0].replaceChildren(...(rows.length ? rows.map((s) => el("tr", { "data-server": s.url },
    el("td", { class: "mono", text: s.url }),
    el("td", { class: "mono", text: s.model || s.rasa_model_id || "—" }),
    el("td", {}, el("span", { class: `status ${!s.up ? "failed" : s.live ? "ok" : "draft"}`,
      text: !s.up ? t("editor.server_down") : s.live ? t("editor.server_ok") : t("editor.server_behind") }))))
    : [el("tr", {}, el("td", { colspan: 3, class: "muted", text: t("editor.no_servers") }))]));
}

// -- inbox --------------------------------------------------------------------------------------
let inboxFlag = "";

function bundleOptions(selected) {
  return [el("option", { value: "", text: t("editor.no_bundle") }),
    ...bundles.map((b) => el("option", { value: b.id, selected: b.id === selected, text: b.name || b.id }))];
}

async function loadInbox() {
  if (!bundles.length) await loadBundles().catch(() => {});
  const review = inboxFlag === "review";
  const data = review ? await api("GET", "/api/editor/inbox/review")
    : await api("GET", `/api/editor/inbox${inboxFlag ? `?flag=${inboxFlag}` : ""}`);
  const rows = data.messages || [];
  $("inbox-empty").hidden = rows.length > 0;
  $("inbox-table").tBodies[0].replaceChildren(...rows.map((m) => inboxRow(m, review)));
}

function meantIntent(m) {
  if (m.intent && m.intent !== "nlu_fallback") return m.intent;
  const alt = (m.alternatives || []).find((a) => a.intent && a.intent !== "nlu_fallback");
  return alt ? alt.intent : "ask_bundle";
}

function inboxRow(m, review) {
  const intent = el("select", { "aria-label": t("editor.intent") }, intentOptions(meantIntent(m), false));
  const bundle = el("select", { "aria-label": t("editor.bundle") }, bundleOptions(m.bundle || m.later_bundle));
  const msg = el("span", { class: "message" });
  const add = el("button", { type: "button", class: "link", "data-action": "example",
    disabled: !!m.personal_data, title: m.personal_data ? t("editor.has_personal_data") : null,
    text: t("editor.add_example"), onclick: () => inboxExample(m, intent.value, bundle.value, msg) });
  const keep = el("button", { type: "button", class: "link", "data-action": "review", text: t("editor.to_review"),
    onclick: () => inboxReview(m, msg) });
  return el("tr", { "data-message": m.id },
    el("td", { class: "msg" }, m.text, review && m.note ? el("div", { class: "muted", text: m.note }) : null, msg),
    el("td", { text: intentName(m.intent) }),
    el("td", { text: m.bundle ? bundleName(m.bundle) : "—" }),
    el("td", { class: "num", text: review ? "" : pct(m.confidence) }),
    el("td", {}, review ? el("span", { class: "muted", text: `${m.by || ""} ${formatTime(m.at)}` })
      : (m.flags || []).map((f) => el("span", { class: `flag ${f}`, text: t(`editor.flag_${f}`) }))),
    el("td", {}, review ? null : [intent, " ", bundle]),
    el("td", { class: "actions" }, review ? null : [add, " ", keep]));
}

async function inboxExample(m, intent, bundle, msg, phrase) {
  const body = { intent };
  if (bundle) body.bundle = bundle;
  if (phrase) body.phrase = phrase;
  try {
    const r = await api("POST", `/api/editor/inbox/${m.id}/example`, body);
    showMessage(msg, t("editor.example_added_as", { intent: intentName(r.example.intent) }), "ok");
    return true;
  } catch (err) {
    const problems = (err.body && err.body.problems) || [];
    if (err.status === 422 && problems.some((p) => p.field === "phrase" && p.error === "phrase_needed")) {
      const words = prompt(t("editor.which_words", { bundle: bundleName(bundle) }), "");
      if (words) return inboxExample(m, intent, bundle, msg, words.trim());
      return false;
    }
    showMessage(msg, problems.length ? problems.map(problemText).join("；") : err.message);
    return false;
  }
}

async function inboxReview(m, msg) {
  try {
    await api("POST", `/api/editor/inbox/${m.id}/review`, {});
    showMessage(msg, t("editor.kept_for_review"), "ok");
  } catch (err) {
    showMessage(msg, err.message);
  }
}

async function loadSuggestions() {
  const box = $("suggestions");
  const data = await api("GET", "/api/editor/inbox/suggestions");
  const found = data.suggestions || [];
  if (!found.length) {
    box.replaceChildren(el("div", { class: "empty" }, el("span", { text: t("editor.no_suggestions") })));
    return;
  }
  box.replaceChildren(...found.map((s) => {
    const msg = el("div", { class: "message" });
    const why = s.kind === "synonym"
      ? t("editor.suggest_synonym", { word: s.word, n: s.count, bundle: bundleName(s.bundle) })
      : t("editor.suggest_examples", { word: s.word, n: s.count, intent: intentName(s.intent) });
    const act = s.kind === "synonym"
      ? el("button", { type: "button", class: "primary", text: t("editor.add_synonym_to", { word: s.word, bundle: bundleName(s.bundle) }),
        onclick: async (e) => {
          e.target.disabled = true;
          try {
            await api("POST", `/api/editor/bundles/${encodeURIComponent(s.bundle)}/synonyms`, { text: s.word });
            showMessage(msg, t("editor.synonym_added"), "ok");
          } catch (err) { e.target.disabled = false; showMessage(msg, problemsOr(err)); }
        } })
      : el("button", { type: "button", class: "primary", disabled: !s.intent,
        text: t("editor.add_all_examples", { n: s.count }),
        onclick: async (e) => {
          e.target.disabled = true;
          let ok = 0;
          for (const id of s.messages) {
            if (await inboxExample({ id }, s.intent, "", msg)) ok += 1;
          }
          showMessage(msg, t("editor.examples_added", { n: ok }), ok ? "ok" : "error");
        } });
    return el("div", { class: "suggestion", "data-word": s.word },
      el("div", {}, el("span", { class: "word", text: `「${s.word}」` }), " ", why),
      el("ul", {}, (s.texts || []).map((x) => el("li", { text: x }))),
      el("div", { class: "buttons" }, act), msg);
  }));
}

function problemsOr(err) {
  const problems = (err.body && err.body.problems) || [];
  return problems.length ? problems.map(problemText).join("；") : err.message;
}

// -- overview ---------------------------------------------------------------------------------
async function loadOverview() {
  if (!bundles.length) await loadBundles().catch(() => {});
  const shown = await loadDiff($("diff-all"), null).catch((err) => {
    $("diff-all").replaceChildren(el("div", { class: "message error", text: err.message }));
    return [];
  });
  $("card-draft").textContent = shown.length ? t("editor.draft_changes", { n: shown.length }) : t("editor.no_draft");
  $("card-draft").classList.toggle("none", !shown.length);
  const models = await loadModels().catch(() => []);
  const trainings = await loadTrainings().catch(() => []);
  const last = trainings[0];
  $("card-training").textContent = last ? t(`editor.state_${last.state}`) : "—";
  $("card-training").classList.toggle("none", !last);
  return models;
}

// -- start --------------------------------------------------------------------------------------
async function main() {
  me = await boot("editor");
  INTENTS = (await loadTexts()).intents || {};
  loaders.overview = loadOverview;
  loaders.bundles = async () => { await Promise.all([loadCatalogues(), loadBundles()]); };
  loaders.nlu = loadExamples;
  loaders.trainings = loadTrainings;
  loaders.models = async () => { await Promise.all([loadModels(), loadServers()]); };
  loaders.inbox = async () => { await Promise.all([loadInbox(), loadSuggestions()]); };
  $("bundle-form").addEventListener("submit", saveBundle);
  $("bundle-reset").addEventListener("click", () => { current.work = clone(current.raw); renderBundleForm(); });
  $("synonym-add").addEventListener("click", addSynonym);
  $("synonym-input").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); addSynonym(); } });
  document.querySelectorAll("#bundle-tabs button").forEach((b) => b.addEventListener("click", () => {
    if (b.dataset.tab === "diff" && current) collectBundle();
    showBundleTab(b.dataset.tab);
  }));
  $("nlu-form").addEventListener("submit", addExample);
  $("train-start").addEventListener("click", startTraining);
  $("diff-refresh").addEventListener("click", () => loadOverview().catch(showFatal));
  $("servers-refresh").addEventListener("click", () => loadServers().catch(showFatal));
  $("suggest-refresh").addEventListener("click", () => loadSuggestions().catch(showFatal));
  document.querySelectorAll("#inbox-tabs button").forEach((b) => b.addEventListener("click", () => {
    inboxFlag = b.dataset.flag;
    document.querySelectorAll("#inbox-tabs button").forEach((x) => x.classList.toggle("current", x === b));
    loadInbox().catch(showFatal);
  }));
  window.addEventListener("hashchange", () => showSection(location.hash.slice(1) || "overview"));
  showSection(location.hash.slice(1) || "overview");
}

main();
