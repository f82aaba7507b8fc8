// Shared by every console page: wording (text.json), the session (who am I, CSRF),
// JSON calls, the top bar with its navigation and logout, and safe DOM building.
// Nothing here writes HTML from data: every text goes in as textContent.

const CONSOLE_PATHS = { agent: "/console/agent/", editor: "/console/editor/", admin: "/console/admin/" };

let texts = null;
let me = null;

export async function loadTexts() {
  if (!texts) {
    const resp = await fetch("/console/text.json", { credentials: "same-origin" });
    texts = await resp.json();
  }
  return texts;
}

/** A text from text.yml: t("ui.loading"), t("ui.confirm_disable", {name}). */
export function t(path, values = {}) {
  let node = texts;
  for (const part of path.split(".")) node = node == null ? undefined : node[part];
  if (typeof node !== "string") return path.split(".").pop();
  return node.replace(/\{(\w+)\}/g, (_, k) => (k in values ? String(values[k]) : ""));
}

/** A name from a section of text.yml (roles, actions …), or the key itself when none. */
export function label(section, key) {
  const names = (texts && texts[section]) || {};
  return typeof names[key] === "string" ? names[key] : key;
}

export function roleName(role) { return label("roles", role); }
export function consolePath(name) { return CONSOLE_PATHS[name]; }

/** el("td", {class: "mono", text: "…"}, child, …): an element, safely. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || t("ui.server_error"));
    this.status = status;
    this.code = body && body.error;
    this.body = body;
  }
}

function toLogin() {
  const next = encodeURIComponent(location.pathname + location.hash);
  location.assign(`/console/?next=${next}`);
}

/** A JSON call with the session's CSRF token; a 401 sends the browser to the login page. */
export async function api(method, path, body, { redirectOn401 = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (me && method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = me.csrf;
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, { message: t("ui.network_error") });
  }
  let data = null;
  if ((resp.headers.get("Content-Type") || "").includes("application/json")) {
    data = await resp.json();
  }
  if (resp.status === 401 && redirectOn401) {
    toLogin();
    throw new ApiError(401, data);
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

export async function whoami() {
  me = await api("GET", "/api/staff/me", undefined, { redirectOn401: false });
  return me;
}

export function session() { return me; }
export function setSession(value) { me = value; }

export function formatTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString("zh-CN", { hour12: false });
}

/** The top bar: brand, the consoles this account may open, who is logged in, logout. */
function topbar(current) {
  const nav = el("nav", { "aria-label": t("ui.product") },
    me.consoles.map((name) => el("a", {
      href: CONSOLE_PATHS[name], class: name === current ? "current" : null,
      "aria-current": name === current ? "page" : null, text: t(`consoles.${name}`),
    })));
  const logout = el("button", { type: "button", id: "logout", text: t("ui.logout") });
  logout.addEventListener("click", async () => {
    logout.disabled = true;
    try { await api("POST", "/api/staff/logout", {}); } catch (err) { /* gone anyway */ }
    location.assign("/console/?bye=1");
  });
  const who = el("div", { class: "who" },
    el("span", {}, el("span", { class: "name", id: "whoami", text: me.display_name || me.username }),
      me.roles.map((r) => el("span", { class: "role-tag", text: roleName(r) }))),
    logout);
  return el("header", { class: "topbar" },
    el("div", { class: "brand" }, el("span", { class: "mark", text: t("ui.mark") }),
      el("span", { text: t("ui.product") })),
    nav, who);
}

/**
 * Start a console page: load wording and session (401 → login page), draw the top bar
 * into <div id="topbar">, reveal <main>. Returns the session for the page's own script.
 */
export async function boot(current) {
  await loadTexts();
  try {
    await whoami();
  } catch (err) {
    if (err.status === 401) { toLogin(); return new Promise(() => {}); }
    throw err;
  }
  const slot = document.getElementById("topbar");
  slot.replaceWith(topbar(current));
  document.querySelectorAll("[data-requires-session]").forEach((n) => { n.hidden = false; });
  // Keep the idle clock of a page left open honest: a hidden tab does not ping.
  setInterval(() => { if (!document.hidden) whoami().catch(() => {}); }, 5 * 60 * 1000);
  return me;
}

export function showMessage(node, text, kind = "error") {
  node.textContent = text || "";
  node.className = `message ${text ? kind : ""}`;
}
