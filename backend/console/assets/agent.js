// Hotline agents' workbench. This shell draws the layout and checks the session; the
// queue, conversation and context panels are filled by the agent console (handoff) work
// from /api/agent/… (see the contract's "Agent console API").
import { boot, formatTime, t } from "./console.js";

async function main() {
  const me = await boot("agent");
  document.getElementById("agent-shift").textContent =
    t("ui.session_until", { time: formatTime(me.expires_at) });
  document.querySelectorAll("#queue-tabs button").forEach((b) => {
    b.addEventListener("click", () => {
      document.querySelectorAll("#queue-tabs button").forEach((x) => x.classList.toggle("current", x === b));
    });
  });
}

main();
