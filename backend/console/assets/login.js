// The login page: POST /api/staff/login, then on to ?next= (a console path this
// account may open) or to the first console its roles open.
import { api, consolePath, loadTexts, setSession, showMessage, t, whoami } from "./console.js";

const form = document.getElementById("login-form");
const message = document.getElementById("login-message");
const button = document.getElementById("login-button");
const params = new URLSearchParams(location.search);

/** ?next= only ever leads to a console page on this site. */
function nextPath() {
  const next = params.get("next") || "";
  return /^\/console\/[a-z]+\/(#[\w-]*)?$/.test(next) ? next : null;
}

function destination(session) {
  const next = nextPath();
  if (next) {
    const name = next.split("/")[2];
    if (session.consoles.includes(name)) return next;
  }
  return session.consoles.length ? consolePath(session.consoles[0]) : null;
}

async function start() {
  await loadTexts();
  if (params.get("bye")) showMessage(message, t("ui.signed_out"), "ok");
  if (params.get("switch")) return;  // show the form: someone else logs in
  try {
    const session = await whoami();
    const to = destination(session);
    // Already logged in: straight on, unless ?next= names a console this account lacks
    // (then the form lets someone else log in).
    if (to && (!nextPath() || to === nextPath())) { location.replace(to); return; }
  } catch (err) { /* not logged in */ }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) { showMessage(message, t("ui.fill_both")); return; }
  button.disabled = true;
  button.textContent = t("ui.signing_in");
  showMessage(message, "");
  try {
    const session = await api("POST", "/api/staff/login", { username, password },
      { redirectOn401: false });
    setSession(session);
    const to = destination(session);
    if (to) { location.assign(to); return; }
    showMessage(message, t("ui.no_console"));
  } catch (err) {
    showMessage(message, err.message);
    form.password.value = "";
    form.password.focus();
  } finally {
    button.disabled = false;
    button.textContent = t("ui.sign_in");
  }
});

start();
