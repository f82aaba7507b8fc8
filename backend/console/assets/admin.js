// Admin console: accounts (list, create, roles, disable/enable, password reset) and
// the audit log viewer, over /api/admin.
import { api, boot, el, formatTime, label, roleName, showMessage, t } from "./console.js";

const $ = (id) => document.getElementById(id);

// -- tabs ------------------------------------------------------------------------
function showTab(name) {
  document.querySelectorAll("#admin-tabs button").forEach((b) => {
    const on = b.dataset.tab === name;
    b.classList.toggle("current", on);
    b.setAttribute("aria-selected", on ? "true" : "false");
  });
  $("tab-accounts").hidden = name !== "accounts";
  $("tab-audit").hidden = name !== "audit";
  if (name === "audit") searchAudit();
}

// -- accounts --------------------------------------------------------------------
let accounts = [];

function checkedRoles(container) {
  return [...container.querySelectorAll("input[name=role]:checked")].map((c) => c.value);
}

function accountRow(a) {
  const state = a.disabled
    ? el("span", { class: "status off", text: t("ui.disabled") })
    : el("span", { class: "status ok", text: t("ui.active") });
  const toggle = el("button", {
    type: "button", class: a.disabled ? "link" : "link danger",
    text: a.disabled ? t("ui.enable") : t("ui.disable"),
    "data-action": "toggle", "data-username": a.username,
  });
  toggle.addEventListener("click", () => setDisabled(a, !a.disabled));
  const edit = el("button", { type: "button", class: "link", text: t("ui.edit"),
    "data-action": "edit", "data-username": a.username });
  edit.addEventListener("click", () => openEdit(a));
  return el("tr", { "data-username": a.username },
    el("td", { class: "mono", text: a.username }),
    el("td", { text: a.display_name || "" }),
    el("td", {}, a.roles.map((r) => el("span", { class: "role-tag", text: roleName(r) }))),
    el("td", {}, state),
    el("td", { class: "nowrap" }, a.last_login_at ? formatTime(a.last_login_at)
      : el("span", { class: "muted", text: t("ui.never") })),
    el("td", { class: "nowrap", text: formatTime(a.created_at) }),
    el("td", { class: "actions" }, edit, toggle));
}

async function loadAccounts() {
  const data = await api("GET", "/api/admin/accounts");
  accounts = data.accounts;
  $("accounts-table").tBodies[0].replaceChildren(...accounts.map(accountRow));
  $("account-count").textContent = String(accounts.length);
}

async function setDisabled(account, disabled) {
  if (disabled && !confirm(t("ui.confirm_disable", { name: account.username }))) return;
  try {
    await api("PATCH", `/api/admin/accounts/${encodeURIComponent(account.username)}`, { disabled });
    showMessage($("accounts-message"), "");
    await loadAccounts();
  } catch (err) {
    showMessage($("accounts-message"), err.message);
  }
}

let editing = null;

function openEdit(account) {
  editing = account;
  $("edit-title").textContent = `${t("ui.edit_account")} · ${account.username}`;
  $("edit-roles").querySelectorAll("input").forEach((c) => { c.checked = account.roles.includes(c.value); });
  $("edit-password").value = "";
  showMessage($("edit-message"), "");
  $("edit-dialog").showModal();
}

async function saveEdit(event) {
  event.preventDefault();
  const body = { roles: checkedRoles($("edit-roles")) };
  const password = $("edit-password").value;
  if (password) body.password = password;
  try {
    await api("PATCH", `/api/admin/accounts/${encodeURIComponent(editing.username)}`, body);
    $("edit-dialog").close();
    showMessage($("accounts-message"),
      password ? t("ui.password_reset_done", { name: editing.username }) : t("ui.saved"), "ok");
    await loadAccounts();
  } catch (err) {
    showMessage($("edit-message"), err.message);
  }
}

async function createAccount(event) {
  event.preventDefault();
  const form = event.target;
  const body = {
    username: form.username.value.trim(),
    display_name: form.display_name.value.trim() || undefined,
    password: form.password.value,
    roles: checkedRoles($("new-roles")),
  };
  $("create-button").disabled = true;
  try {
    await api("POST", "/api/admin/accounts", body);
    form.reset();
    showMessage($("create-message"), t("ui.created"), "ok");
    await loadAccounts();
  } catch (err) {
    showMessage($("create-message"), err.message);
  } finally {
    $("create-button").disabled = false;
  }
}

// -- audit log -------------------------------------------------------------------
let cursor = null;

function describe(detail) {
  if (!detail) return "";
  const names = (list) => list.map(roleName).join("、");
  return Object.entries(detail).map(([k, v]) => {
    const name = label("fields", k);
    if (k === "roles" && v && typeof v === "object" && !Array.isArray(v)) {
      return `${name}：${names(v.from)} → ${names(v.to)}`;
    }
    if (k === "roles" && Array.isArray(v)) return `${name}：${names(v)}`;
    if (k === "outcome") return `${name}：${label("outcomes", v)}`;
    if (k === "action") return `${name}：${label("actions", v)}`;
    if (typeof v === "boolean") return `${name}：${v ? t("ui.answer_yes") : t("ui.answer_no")}`;
    if (typeof v === "string") return `${name}：${label("reasons", v)}`;
    return `${name}：${JSON.stringify(v)}`;
  }).join("；");
}

function auditRow(e) {
  const where = [e.conversation, e.application].filter(Boolean).join(" / ");
  return el("tr", {},
    el("td", { class: "nowrap", text: formatTime(e.at) }),
    el("td", { class: "mono", text: e.actor || "" }),
    el("td", { text: label("actions", e.action), title: e.action }),
    el("td", {}, el("span", { class: `status ${e.outcome}`, text: t(`outcomes.${e.outcome}`) })),
    el("td", { class: "mono", text: e.target || "" }),
    el("td", { class: "mono", text: where }),
    el("td", { class: "mono", text: e.ip || "" }),
    el("td", { class: "detail", text: describe(e.detail) }));
}

function auditQuery() {
  const form = $("audit-filters");
  const params = new URLSearchParams();
  for (const name of ["actor", "action", "outcome", "target", "application", "conversation"]) {
    const value = form[name].value.trim();
    if (value) params.set(name, value);
  }
  for (const name of ["since", "until"]) {
    if (form[name].value) params.set(name, new Date(form[name].value).toISOString());
  }
  return params;
}

async function searchAudit(more = false) {
  const params = auditQuery();
  params.set("limit", "50");
  if (more && cursor) params.set("before", String(cursor));
  const body = $("audit-table").tBodies[0];
  try {
    const data = await api("GET", `/api/admin/audit?${params}`);
    const rows = data.entries.map(auditRow);
    if (more) body.append(...rows); else body.replaceChildren(...rows);
    if (!more && !rows.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: "8", class: "muted", text: t("ui.no_entries") })));
    }
    cursor = data.next;
    $("audit-more").hidden = !cursor;
    $("audit-end").textContent = cursor || (!more && !rows.length) ? "" : t("ui.end_of_list");
  } catch (err) {
    $("audit-end").textContent = err.message;
  }
}

async function fillActionFilter() {
  const select = $("filter-action");
  const { actions } = await api("GET", "/api/admin/audit/actions");
  select.replaceChildren(el("option", { value: "", text: t("ui.all_actions") }),
    ...actions.map((a) => el("option", { value: a, text: label("actions", a) })));
  const outcome = $("filter-outcome");
  outcome.replaceChildren(el("option", { value: "", text: t("ui.all_outcomes") }),
    ...["ok", "failed", "denied"].map((o) => el("option", { value: o, text: t(`outcomes.${o}`) })));
}

// -- start -----------------------------------------------------------------------
async function main() {
  await boot("admin");
  document.querySelectorAll("#admin-tabs button").forEach((b) => {
    b.addEventListener("click", () => { location.hash = b.dataset.tab; });
  });
  window.addEventListener("hashchange", () => showTab(location.hash.slice(1) || "accounts"));
  $("create-form").addEventListener("submit", createAccount);
  $("edit-form").addEventListener("submit", saveEdit);
  $("edit-cancel").addEventListener("click", () => $("edit-dialog").close());
  $("audit-filters").addEventListener("submit", (e) => { e.preventDefault(); searchAudit(); });
  $("audit-filters").addEventListener("reset", () => setTimeout(() => searchAudit(), 0));
  $("audit-more").addEventListener("click", () => searchAudit(true));
  await Promise.all([loadAccounts(), fillActionFilter()]);
  showTab(location.hash.slice(1) === "audit" ? "audit" : "accounts");
}

main();
