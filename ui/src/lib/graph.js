// The replication graph: Cytoscape.js with the dagre layered layout, primaries on the left,
// standbys and cascades to the right, logical edges dashed, RDS/Aurora instances grouped in
// their cluster. Nodes are named by the registered database (host:port beneath).
import cytoscape from "cytoscape";
import dagre from "cytoscape-dagre";
import { bytes, seconds } from "./format.js";
import { databaseAt, serverName } from "./state.js";

cytoscape.use(dagre);

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || undefined;

function style() {
  const fg = css("--fg") || "#1d2733", muted = css("--muted") || "#6e7781";
  const ok = css("--ok") || "#1a7f37", bad = css("--bad") || "#cf222e", warn = css("--warn") || "#9a6700";
  const card = css("--card") || "#fff", accent = css("--node") || "#1d3557";
  return [
    { selector: "node", style: {
      shape: "round-rectangle", width: 170, height: 52, "background-color": card,
      "border-width": 2, "border-color": accent, label: "data(label)", "text-wrap": "wrap",
      "text-valign": "center", "text-halign": "center", "font-size": 11, color: fg } },
    { selector: "node[health = 'unreachable']", style: { "border-color": bad, "border-style": "solid" } },
    { selector: "node[health = 'degraded']", style: { "border-color": warn } },
    { selector: "node[?unmanaged]", style: { "border-style": "dashed", "border-color": muted } },
    { selector: ":parent", style: {
      "background-opacity": 0.06, "border-color": muted, "border-style": "dashed", label: "data(label)",
      "text-valign": "top", "text-halign": "center", "font-size": 10, color: muted } },
    { selector: "edge", style: {
      width: 2, "curve-style": "bezier", "target-arrow-shape": "triangle", "line-color": ok,
      "target-arrow-color": ok, label: "data(label)", "font-size": 9, color: muted,
      "text-background-color": card, "text-background-opacity": 0.8, "text-background-padding": 2 } },
    { selector: "edge[kind = 'logical']", style: { "line-style": "dashed" } },
    { selector: "edge[kind = 'rds'], edge[kind = 'aurora']", style: { "line-style": "dotted" } },
    { selector: "edge[bad]", style: { "line-color": bad, "target-arrow-color": bad } },
    { selector: ":selected", style: { "border-width": 4, "border-color": css("--focus") || "#0969da",
      "line-color": css("--focus") || "#0969da", "target-arrow-color": css("--focus") || "#0969da" } },
  ];
}

const GOOD = new Set(["streaming", "catchup", "available"]);

export function edgeId(e) {
  return `${e.kind}|${e.from}|${e.to}|${e.subscription || e.slot || ""}`;
}

// Cytoscape elements for a topology (optionally only nodes whose database has tag or cluster)
export function elements(t, filter) {
  const out = [];
  const seen = new Set();
  const clusters = new Set();
  for (const n of t.nodes || []) {
    const db = databaseAt(n.id);
    if (filter && !filter(n, db)) continue;
    seen.add(n.id);
    const cluster = n.cluster_id || (n.rds && n.rds.cluster_id) || null;
    if (cluster && !clusters.has(cluster)) {
      clusters.add(cluster);
      out.push({ data: { id: `cluster:${cluster}`, label: `cluster ${cluster}` } });
    }
    const health = n.reachable === false ? "unreachable" : db && db.health ? db.health.state : "ok";
    const role = n.role || (n.reachable === false ? "unreachable" : "");
    const name = serverName(n);
    const version = n.server_version ? ` ${String(n.server_version).split(" ")[0]}` : "";
    out.push({ data: {
      id: n.id, label: `${name || n.id}\n${name ? n.id : ""}\n${role}${version}`.replace(/\n\n/, "\n"),
      health, unmanaged: n.managed === false, parent: cluster ? `cluster:${cluster}` : undefined } });
  }
  for (const e of t.edges || []) {
    if (!e.from || !e.to) continue;
    for (const id of [e.from, e.to]) {
      if (!seen.has(id) && !filter) {
        seen.add(id);
        out.push({ data: { id, label: id, unmanaged: true } });
      }
    }
    if (!seen.has(e.from) || !seen.has(e.to)) continue;
    const lag = typeof e.lag_bytes === "number" ? bytes(e.lag_bytes) : "";
    out.push({ data: {
      id: edgeId(e), source: e.from, target: e.to, kind: e.kind,
      label: `${e.kind === "logical" ? e.subscription || "logical" : e.kind}${lag ? " · " + lag : ""}`,
      bad: !GOOD.has(e.state) && e.kind !== "rds" && e.kind !== "aurora" ? true : undefined,
      title: `${e.kind} ${e.state || ""}, lag ${bytes(e.lag_bytes)}${typeof e.lag_seconds === "number" ? " / " + seconds(e.lag_seconds) : ""}` } });
  }
  return out;
}

// draws into container; onSelect({kind: "node"|"edge", id}) when one is clicked
export function createGraph(container, onSelect) {
  const cy = cytoscape({ container, style: style(), wheelSensitivity: 0.3, minZoom: 0.1, maxZoom: 3,
    boxSelectionEnabled: false });
  let shape = "";
  cy.on("tap", "node, edge", (ev) => onSelect && onSelect({ kind: ev.target.isNode() ? "node" : "edge", id: ev.target.id() }));
  cy.on("mouseover", "edge", (ev) => { container.title = ev.target.data("title") || ""; });
  cy.on("mouseout", "edge", () => { container.title = ""; });
  return {
    cy,
    // same nodes and edges: data updated in place (no layout, no jump); else laid out again
    update(els) {
      const next = els.map((e) => e.data.id).sort().join("\n");
      if (next === shape) {
        cy.batch(() => { for (const e of els) cy.getElementById(e.data.id).data(e.data); });
        return false;
      }
      shape = next;
      cy.batch(() => {
        cy.elements().remove();
        cy.add(els);
      });
      cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 30, rankSep: 110, animate: false, fit: true,
        padding: 20 }).run();
      return true;
    },
    fit() { cy.fit(undefined, 20); },
    select(id) {
      cy.elements().unselect();
      const x = cy.getElementById(id);
      if (x.length) x.select();
    },
    destroy() { cy.destroy(); },
  };
}
