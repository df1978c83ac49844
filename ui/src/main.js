// The shell: navigation, who is signed in, the WebSocket's state, and the router that shows
// one page module at a time.
import "./style.css";
import "uplot/dist/uPlot.min.css";
import * as api from "./lib/api.js";
import { el } from "./lib/dom.js";
import * as router from "./lib/router.js";
import * as state from "./lib/state.js";
import * as ws from "./lib/ws.js";
import overview from "./pages/overview.js";
import topology from "./pages/topology.js";
import databases from "./pages/databases.js";
import streams from "./pages/streams.js";
import migrations from "./pages/migrations.js";
import events from "./pages/events.js";
import alerts from "./pages/alerts.js";
import audit from "./pages/audit.js";
import settings from "./pages/settings.js";

const PAGES = [
  ["overview", overview], ["topology", topology], ["databases", databases], ["streams", streams],
  ["migrations", migrations], ["events", events], ["alerts", alerts], ["audit", audit],
  ["settings", settings],
];

// a link with the key in the fragment: the login page trades it for a session
if (location.hash.startsWith("#key=")) {
  location.replace(`/login${location.hash}`);
} else {
  start();
}

async function start() {
  if (!(await state.loadAuth())) return; // the 401 went to /login
  const who = document.getElementById("who");
  const open = state.auth.method === "none";
  who.textContent = open ? "no sign-in configured: admin" : `${state.auth.user} · ${state.auth.role} (${state.auth.method})`;
  const logout = document.getElementById("logout");
  logout.hidden = open;
  logout.addEventListener("click", async () => {
    const res = await fetch("/auth/logout", { method: "POST", headers: { "Content-Type": "application/json" } });
    const out = await res.json().catch(() => ({}));
    location.assign(out.method ? `/login?signed_out=${encodeURIComponent(out.method)}` : "/login");
  });
  fetch("/healthz").then((r) => r.json()).then((h) => {
    document.getElementById("version").textContent = h.version ? `v${h.version}` : "";
  }).catch(() => {});

  const nav = document.getElementById("nav");
  const links = new Map();
  const list = el("ul", {});
  for (const [name, page] of PAGES) {
    if (page.role && !state.can(page.role)) continue;
    router.register(name, page);
    const a = el("a", { href: `#/${name}` }, page.title);
    links.set(name, a);
    list.append(el("li", {}, a));
  }
  nav.append(list);

  const conn = document.getElementById("conn");
  ws.onStatus((s, detail) => {
    conn.textContent = { connected: "live", connecting: "connecting…", reconnecting: "reconnecting…",
      unauthenticated: "not signed in", error: detail || "error" }[s] || s;
    conn.className = `conn ${s}`;
  });
  ws.connect(() => state.loadAuth());
  state.startLive();
  await state.loadDatabases();
  router.start(document.getElementById("main"), (name) => {
    for (const [n, a] of links) {
      if (n === name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  });
}
