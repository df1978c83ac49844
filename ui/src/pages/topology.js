// Topology: the graph (zoom, pan, fit, filter by tag or cluster) and a side panel for the
// selected node or edge: its lag chart (the last hour, live), slots, initial-copy tables,
// log events, and the actions the role allows.
import * as api from "../lib/api.js";
import { badge, el, setStatus, statusLine, table } from "../lib/dom.js";
import { bytes, errorText, seconds, when } from "../lib/format.js";
import { lagChart } from "../lib/chart.js";
import { createGraph, edgeId, elements } from "../lib/graph.js";
import * as router from "../lib/router.js";
import * as state from "../lib/state.js";

let off = [];
let graph = null;
let chart = null;
let selected = null;
let panel = null;
let filterSel = null;

function filterFn() {
  const v = filterSel ? filterSel.value : "";
  if (!v) return null;
  const [kind, value] = v.split(":");
  return (n, db) => (kind === "tag" ? db && (db.tags || []).includes(value) : (n.cluster_id || "") === value);
}

function edgeById(id) {
  return state.topology ? state.topology.edges.find((e) => edgeId(e) === id) : null;
}

function nodeById(id) {
  return state.topology ? (state.topology.nodes || []).find((n) => n.id === id) : null;
}

async function drawChart(box, e) {
  if (chart) chart.destroy();
  chart = lagChart(box, `lag ${e.from} → ${e.to}`);
  const name = e.subscription || e.slot || null;
  const r = await api.get("/api/replication/history?minutes=60");
  if (r.status !== 200) return;
  const pts = [];
  for (const s of r.body.samples || []) {
    const x = (s.edges || []).find((y) => y.from === e.from && y.to === e.to && (y.name || null) === name);
    if (x) pts.push([s.epoch, x.lag_bytes, x.lag_seconds]);
  }
  if (chart) chart.set(pts);
}

function nodePanel(id) {
  const n = nodeById(id) || { id };
  const db = state.databaseAt(id);
  const t = state.topology || { slots: [], edges: [] };
  const status = statusLine("panel-status");
  const actions = el("div", { class: "actions" });
  if (db && state.can("operator")) {
    actions.append(el("button", { type: "button", onclick: async () => {
      setStatus(status, "connecting…");
      const r = await api.post(`/api/databases/${encodeURIComponent(db.id)}/test`);
      if (r.status === 200 && r.body.ok) setStatus(status, `ok: ${r.body.server_version || ""} in ${r.body.latency_ms?.toFixed(1)} ms`, "ok");
      else setStatus(status, r.body.error ? `${r.body.error.message}${r.body.error.hint ? " — " + r.body.error.hint : ""}` : errorText(r), "bad");
    } }, "Test the connection"));
  }
  const slots = t.slots.filter((s) => s.node === id);
  const into = t.edges.filter((e) => e.to === id);
  const events = el("div", {}, el("p", { class: "muted" }, "loading…"));
  api.get(`/api/replication/events?limit=10&node=${encodeURIComponent(id)}`).then((r) => {
    const list = r.status === 200 ? r.body.events : [];
    events.replaceChildren(table([{ label: "Time", cell: (x) => x.time || x.received_at },
      { label: "Severity", cell: (x) => badge(x.severity, x.severity === "info" ? "muted" : "bad") },
      { label: "What", cell: (x) => `${x.kind}: ${x.message}` }], list, "No replication event in its log."));
  });
  const chartBox = el("div", { class: "chart", id: "panel-chart" });
  panel.replaceChildren(el("div", {},
    el("h2", {}, db ? db.name : id),
    el("dl", {},
      el("dt", {}, "Server"), el("dd", {}, id),
      el("dt", {}, "Role"), el("dd", {}, n.role || (n.reachable === false ? "unreachable" : "unknown")),
      el("dt", {}, "Version"), el("dd", {}, n.server_version ? String(n.server_version) : "unknown"),
      el("dt", {}, "Health"), el("dd", {}, badge(db && db.health ? db.health.state : n.reachable === false ? "unreachable" : "unknown",
        db && db.health && db.health.state === "ok" ? "ok" : "bad")),
      db ? [el("dt", {}, "Database"), el("dd", {}, `${db.dbname} (id ${db.id}${(db.tags || []).length ? ", tags " + db.tags.join(", ") : ""})`)] : null),
    actions, status,
    into.length ? [el("h3", {}, "Lag into this server"), chartBox] : null,
    el("h3", {}, "Slots"),
    table([{ label: "Slot", cell: (s) => s.name }, { label: "Type", cell: (s) => s.type },
      { label: "Active", cell: (s) => badge(s.active ? "active" : "inactive", s.active ? "ok" : "warn") },
      { label: "Retained", cell: (s) => bytes(s.retained_wal_bytes) }, { label: "wal_status", cell: (s) => s.wal_status || "" }],
    slots, "No replication slot on this server."),
    el("h3", {}, "Log events"), events));
  if (into.length) drawChart(chartBox, into[0]);
}

async function edgePanel(id) {
  const e = edgeById(id);
  if (!e) { panel.replaceChildren(el("p", { class: "empty" }, "This edge is gone from the topology.")); return; }
  const status = statusLine("panel-status");
  const chartBox = el("div", { class: "chart", id: "panel-chart" });
  const actions = el("div", { class: "actions" });
  const sync = e.sync;
  panel.replaceChildren(el("div", {},
    el("h2", {}, `${e.kind} ${e.subscription || e.slot || ""}`),
    el("dl", {},
      el("dt", {}, "From"), el("dd", {}, e.from || "unknown"),
      el("dt", {}, "To"), el("dd", {}, e.to),
      el("dt", {}, "State"), el("dd", {}, badge(e.state || "unknown", e.state === "streaming" ? "ok" : "bad")),
      el("dt", {}, "Lag"), el("dd", { id: "panel-lag" }, `${bytes(e.lag_bytes)}${typeof e.lag_seconds === "number" ? " / " + seconds(e.lag_seconds) : ""}`)),
    actions, status,
    el("h3", {}, "Lag, last hour"), chartBox,
    sync ? [el("h3", {}, "Initial copy"),
      el("p", {}, `${sync.ready}/${sync.tables} tables ready`),
      table([{ label: "Table", cell: (x) => x.table || String(x) }, { label: "State", cell: (x) => x.state || "" }],
        sync.not_ready || [], "Every table is ready.")] : null));
  drawChart(chartBox, e);
  if (e.kind === "logical" && state.can("operator")) {
    const r = await api.get("/api/replication/streams");
    const s = r.status === 200 ? r.body.streams.find((x) => x.managed && x.subscription === e.subscription) : null;
    if (s) {
      for (const a of ["pause", "resume"]) {
        actions.append(el("button", { type: "button", onclick: async () => {
          const x = await api.post(`/api/replication/streams/${encodeURIComponent(s.id)}/${a}`);
          setStatus(status, x.status === 200 ? `stream ${s.id}: ${x.body.state}` : errorText(x), x.status === 200 ? "ok" : "bad");
        } }, `${a[0].toUpperCase()}${a.slice(1)} stream ${s.id}`));
      }
    }
  }
}

// the graph as tables: what a screen reader reads, and selection from the keyboard
function renderList(t) {
  const box = document.getElementById("topo-list");
  if (!box) return;
  const pick = (id, what) => el("button", { type: "button", "aria-label": `Show ${what}`, onclick: () => router.go("topology", id) }, "Show");
  box.replaceChildren(
    table([{ label: "Server", cell: (n) => { const name = state.serverName(n); return name ? `${name} (${n.id})` : n.id; } },
      { label: "Role", cell: (n) => n.role || (n.reachable === false ? "unreachable" : "") },
      { label: "Version", cell: (n) => (n.server_version ? String(n.server_version).split(" ")[0] : "") },
      { label: "RDS", cell: (n) => (n.rds ? n.rds.instance_id + (n.rds.cluster_id ? ` (cluster ${n.rds.cluster_id})` : "") : "") },
      { label: "", cell: (n) => pick(n.id, n.id) }], t.nodes || [], "No server.", { id: "topo-nodes" }),
    table([{ label: "Edge", cell: (e) => `${e.kind} ${e.from || "?"} → ${e.to}${e.subscription ? " (" + e.subscription + ")" : ""}` },
      { label: "State", cell: (e) => e.state || "" }, { label: "Lag", cell: (e) => bytes(e.lag_bytes) },
      { label: "", cell: (e) => pick(edgeId(e), `edge ${e.from} to ${e.to}`) }], t.edges || [], "No edge.", { id: "topo-edges" }));
}

function showPanel(detail) {
  selected = detail || null;
  if (!panel) return;
  if (!selected) {
    panel.replaceChildren(el("p", { class: "empty" }, "Select a server or an edge to see its lag, slots and events."));
    return;
  }
  if (graph) graph.select(selected);
  if (selected.includes("|")) edgePanel(selected);
  else nodePanel(selected);
}

export default {
  title: "Topology",
  async mount(root, detail) {
    const box = el("div", { class: "graph", id: "topology-graph", role: "img", "aria-label": "replication graph" });
    panel = el("aside", { class: "panel", id: "panel", "aria-label": "Selection", "aria-live": "polite" });
    filterSel = el("select", { id: "topo-filter", onchange: () => render(true) });
    const summary = el("p", { id: "topo-summary", class: "muted", role: "status" });
    root.append(el("h1", { tabindex: "-1" }, "Topology"),
      el("div", { class: "toolbar" },
        el("label", {}, "Show ", filterSel),
        el("button", { type: "button", onclick: () => graph && graph.fit() }, "Fit"),
        summary),
      el("div", { class: "split" }, box, panel),
      el("details", { id: "topo-list-box" }, el("summary", {}, "Servers and edges as a list (keyboard, screen readers)"),
        el("div", { id: "topo-list" })));
    graph = createGraph(box, (sel) => router.go("topology", sel.id));
    const render = (force) => {
      const t = state.topology;
      if (!t || !graph) return;
      const keep = filterSel.value;
      const opts = [el("option", { value: "" }, "everything")];
      const tags = new Set();
      for (const db of state.databases.values()) for (const tg of db.tags || []) tags.add(tg);
      for (const tg of [...tags].sort()) opts.push(el("option", { value: `tag:${tg}` }, `tag ${tg}`));
      const clusters = new Set((t.nodes || []).map((n) => n.cluster_id).filter(Boolean));
      for (const c of [...clusters].sort()) opts.push(el("option", { value: `cluster:${c}` }, `cluster ${c}`));
      filterSel.replaceChildren(...opts);
      filterSel.value = keep;
      const relaid = graph.update(elements(t, filterFn())) || force;
      if (relaid && selected) graph.select(selected);
      renderList(t);
      const down = (t.nodes || []).filter((n) => n.reachable === false).length;
      summary.textContent = `${(t.nodes || []).length} servers, ${t.edges.length} edges, ${t.slots.length} slots` +
        (down ? `, ${down} unreachable` : "") + (t.collected_at ? ` — collected ${when(t.collected_at)}` : "");
      // the selected edge's chart and lag follow the metrics
      const e = selected && selected.includes("|") ? edgeById(selected) : null;
      if (e && chart) {
        chart.add(Date.now() / 1000, e.lag_bytes, e.lag_seconds);
        const lag = document.getElementById("panel-lag");
        if (lag) lag.textContent = `${bytes(e.lag_bytes)}${typeof e.lag_seconds === "number" ? " / " + seconds(e.lag_seconds) : ""}`;
      }
    };
    off = [state.onTopology(() => render(false)), state.onDatabases(() => render(false))];
    state.loadDatabases();
    const r = await state.loadTopology();
    if (r.status !== 200) summary.textContent = errorText(r);
    else if (!state.topology.nodes.length && !state.databases.size)
      panel.before(el("p", { class: "empty" }, "Nothing to draw yet: ", el("a", { href: "#/databases" }, "register a database"), "."));
    render(true);
    showPanel(detail);
  },
  update(detail) {
    showPanel(detail);
  },
  unmount() {
    off.forEach((f) => f());
    off = [];
    if (chart) chart.destroy();
    if (graph) graph.destroy();
    chart = graph = panel = filterSel = null;
    selected = null;
  },
};
