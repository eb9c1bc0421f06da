// The router: one hash route per page; a page may return a function that stops its timers.

import { session } from "./api.js";
import { clear, h, toast } from "./dom.js";
import { renderConnections } from "./connections.js";
import { renderAnalysis, renderProjects } from "./projects.js";
import { renderCodegen } from "./codegen.js";
import { renderMapping } from "./mapping.js";
import { renderJob, renderMigration } from "./migration.js";

const view = document.getElementById("view");
const routes = [
  [/^#\/connections$/, () => renderConnections(view)],
  [/^#\/projects$/, () => renderProjects(view)],
  [/^#\/projects\/([^/]+)\/mapping$/, (id) => renderMapping(view, id)],
  [/^#\/projects\/([^/]+)\/migration$/, (id) => renderMigration(view, id)],
  [/^#\/projects\/([^/]+)\/analysis$/, (id) => renderAnalysis(view, id)],
  [/^#\/projects\/([^/]+)\/codegen$/, (id) => renderCodegen(view, id)],
  [/^#\/jobs\/([^/]+)$/, (id) => renderJob(view, id)],
];

let stop = null;

async function route() {
  if (stop) stop();
  stop = null;
  const hash = location.hash || "#/projects";
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", hash.startsWith(`#/${a.dataset.nav}`) ||
      (a.dataset.nav === "projects" && hash.startsWith("#/jobs")));
  }
  for (const [pattern, render] of routes) {
    const match = pattern.exec(hash);
    if (match) {
      try {
        stop = (await render(...match.slice(1).map(decodeURIComponent))) || null;
      } catch (err) {
        if (err.status !== 401) clear(view, h("div", { class: "notice error" }, err.message));
      }
      return;
    }
  }
  location.hash = "#/projects";
}

function login() {
  if (stop) stop();
  stop = null;
  document.title = "Sign in · relmig";
  const input = h("input", { type: "password", name: "token", autocomplete: "off", required: true });
  clear(view, h("form", {
    class: "card login",
    onsubmit: async (e) => {
      e.preventDefault();
      if (await session.signIn(input.value.trim())) route();
      else login();
    },
  },
  h("h2", {}, "Sign in"),
  h("p", { class: "muted" }, session.rejected ? "The token was not accepted." :
    "This server requires its auth token: open the sign-in URL relmig serve printed, or " +
    "enter the token (its file server.token in RELMIG_HOME, RELMIG_SERVER_TOKEN or --token-file)."),
  h("label", {}, "Token", input),
  h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Sign in"))));
  input.focus();
}

const logout = document.getElementById("logout");
logout.addEventListener("click", async () => { await session.signOut(); login(); });
window.addEventListener("relmig:login", login);
window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (e) => {
  if (e.reason && e.reason.status !== 401) toast(e.reason.message || String(e.reason), "error");
});

// The sign-in URL relmig serve prints (/?token=…): sign in, then take the token out of the
// address bar and the history.
async function start() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token !== null) {
    await session.signIn(token);
    history.replaceState(null, "", location.pathname + location.hash);
  }
  const about = await fetch("/api/v1/about").then((r) => (r.ok ? r.json() : { auth: true }));
  logout.hidden = !about.auth;
  route();
}

start();
