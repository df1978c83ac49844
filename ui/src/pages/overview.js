// Overview: the fleet at a glance (health, replication, alerts) and the graph, small.
import * as api from "../lib/api.js";
import { badge, el, loading, table } from "../lib/dom.js";
import { bytes, errorText, when } from "../lib/format.js";
import { createGraph, elements } from "../lib/graph.js";
import * as router from "../lib/router.js";
import * as state from "../lib/state.js";
import { subscribe } from "../lib/ws.js";

let off = [];
let graph = null;

function tile(label, value, kind, href) {
  return el("a", { class: `tile ${kind || ""}`, href }, el("span", { class: "tile-value" }, String(value)),
    el("span", { class: "tile-label" }, label));
}

export default {
  title: "Overview",
  async mount(root) {
    const tiles = el("div", { class: "tiles", "aria-label": "Fleet summary" });
    const graphBox = el("div", { class: "graph small", id: "overview-graph", role: "img",
      "aria-label": "replication graph" });
    const firing = el("div", { id: "overview-alerts" }, loading());
    const health = el("div", { id: "overview-health" }, loading());
    root.append(el("h1", { tabindex: "-1" }, "Overview"), tiles,
      el("section", { "aria-label": "Replication" }, el("h2", {}, "Replication"), graphBox,
        el("p", {}, el("a", { href: "#/topology" }, "Open the topology for details →"))),
      el("div", { class: "cols" },
        el("section", { "aria-label": "Alerts firing" }, el("h2", {}, "Alerts"), firing),
        el("section", { "aria-label": "Health" }, el("h2", {}, "Health"), health)));
    graph = createGraph(graphBox, (sel) => router.go("topology", sel.id));

    const render = async () => {
      const t = state.topology;
      const dbs = [...state.databases.values()];
      const ok = dbs.filter((d) => d.health && d.health.state === "ok").length;
      const edges = t ? t.edges : [];
      const streaming = edges.filter((e) => e.state === "streaming").length;
      const retained = t ? t.slots.reduce((s, x) => s + (x.retained_wal_bytes || 0), 0) : 0;
      const a = await api.get("/api/alerts");
      const alerts = a.status === 200 ? a.body.alerts : [];
      const nf = alerts.filter((x) => x.state === "firing").length;
      tiles.replaceChildren(
        tile("databases ok", `${ok}/${dbs.length}`, ok === dbs.length ? "ok" : "bad", "#/databases"),
        tile("edges streaming", `${streaming}/${edges.length}`, streaming === edges.length ? "ok" : "bad", "#/topology"),
        tile("WAL held by slots", bytes(retained), "", "#/topology"),
        tile("alerts firing", nf, nf ? "bad" : "ok", "#/alerts"));
      if (!graph) return; // the page was left while the alerts were read
      if (t) graph.update(elements(t));
      firing.replaceChildren(table(
        [{ label: "Rule", cell: (x) => x.rule }, { label: "State", cell: (x) => badge(x.state, x.state === "firing" ? "bad" : "warn") },
         { label: "What", cell: (x) => x.text || "" }, { label: "Since", cell: (x) => when(x.since) }],
        alerts, "Nothing is firing."));
      if (!dbs.length) {
        health.replaceChildren(el("p", { class: "empty" }, "No database is registered yet. ",
          el("a", { href: "#/databases" }, "Register one"), " to see its health and replication."));
      } else {
        health.replaceChildren(table(
          [{ label: "Database", cell: (d) => d.name }, { label: "Where", cell: (d) => `${d.host}:${d.port}/${d.dbname}` },
           { label: "Health", cell: (d) => badge(d.health ? d.health.state : "unknown",
             d.health && d.health.state === "ok" ? "ok" : "bad") }],
          dbs.sort((x, y) => x.name.localeCompare(y.name)), ""));
      }
    };
    off = [state.onTopology(render), state.onDatabases(render), subscribe("alerts", render)];
    state.loadDatabases();
    const r = await state.loadTopology();
    if (r.status !== 200) tiles.after(el("p", { class: "error" }, errorText(r)));
    render();
  },
  unmount() {
    off.forEach((f) => f());
    off = [];
    if (graph) graph.destroy();
    graph = null;
  },
};
