// Content editors' workbench. This shell draws the layout and checks the session; the
// sections are filled by the editor console work from /api/editor/… (see the contract's
// "Content editor API").
import { boot } from "./console.js";

function showSection(name) {
  document.querySelectorAll(".sidenav a").forEach((a) => {
    const on = a.dataset.section === name;
    a.classList.toggle("current", on);
    if (on) document.getElementById("editor-section-title").textContent = a.textContent;
  });
}

async function main() {
  await boot("editor");
  window.addEventListener("hashchange", () => showSection(location.hash.slice(1) || "overview"));
  showSection(location.hash.slice(1) || "overview");
}

main();
