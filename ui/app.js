// pgfleet dashboard: health, endpoint explorer, live heartbeat over /ws.
// Signed in by the session cookie (the /login page); state changes carry the
// session's CSRF token; a 401 sends the browser to /login and back.
import { alertEvent, initAlerts } from "./alerts.js";

const $ = (id) => document.getElementById(id);
let csrf = null;
let role = null;

// a link with the key in the fragment: the login page trades it for a session (and
// nothing else starts here, so no 401 sends the browser to /login without the key)
const handingOver = location.hash.startsWith("#key=");
if (handingOver) location.replace(`/login${location.hash}`);

function toLogin() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

function mark(el, ok, text) {
  el.textContent = text;
  el.className = ok ? "ok" : "bad";
}

async function api(path) {
  const res = await fetch(path);
  const body = await res.json().catch(() => ({}));
  if (res.status === 401 && path.startsWith("/api/")) toLogin();
  return { status: res.status, body };
}

async function apiSend(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const res = await fetch(path, { method, headers, body: JSON.stringify(body) });
  const out = await res.json().catch(() => ({}));
  if (res.status === 401) toLogin();
  return { status: res.status, body: out };
}

async function refreshHealth() {
  try {
    const h = await api("/healthz");
    mark($("h-alive"), h.status === 200, h.status === 200 ? `ok (up ${Math.round(h.body.uptime_seconds)} s)` : `HTTP ${h.status}`);
    $("version").textContent = h.body.version ? `v${h.body.version}` : "";
  } catch (e) {
    mark($("h-alive"), false, "unreachable");
  }
  try {
    const r = await api("/readyz");
    if (r.status === 200) mark($("h-ready"), true, `ready (${r.body.checks.redis.latency_ms.toFixed(2)} ms)`);
    else mark($("h-ready"), false, r.body.error ? r.body.error.message : `HTTP ${r.status}`);
  } catch (e) {
    mark($("h-ready"), false, "unreachable");
  }
}

async function refreshAuth() {
  const r = await api("/api/auth/status");
  if (r.status !== 200) return false;
  csrf = r.body.csrf;
  role = r.body.role;
  const open = r.body.method === "none";
  $("who").textContent = open ? "no sign-in configured: admin" : `${r.body.user} · ${r.body.role} (${r.body.method})`;
  $("logout").hidden = open;
  return true;
}

$("logout").addEventListener("click", async () => {
  const res = await fetch("/auth/logout", { method: "POST", headers: { "Content-Type": "application/json" } });
  const out = await res.json().catch(() => ({}));
  // the login page offers the provider's own sign-out after a single sign-on session
  location.assign(out.method ? `/login?signed_out=${encodeURIComponent(out.method)}` : "/login");
});

async function refreshAws() {
  const r = await api("/api/aws/test");
  const table = $("aws");
  table.replaceChildren();
  if (r.status !== 200) {
    $("aws-summary").textContent = r.body.error ? r.body.error.message : `HTTP ${r.status}`;
    return;
  }
  const a = r.body;
  const cred = a.credentials.source ? `${a.credentials.source} (${a.credentials.access_key_id})` : "no credentials";
  $("aws-summary").textContent = `region ${a.region || "unset"}, credentials from ${cred}`;
  for (const c of a.checks) {
    const row = table.insertRow();
    row.insertCell().textContent = c.service;
    const status = row.insertCell();
    mark(status, c.ok, c.ok ? "ok" : c.error.code);
    row.insertCell().textContent = `${c.latency_ms.toFixed(1)} ms`;
    row.insertCell().textContent = c.ok ? c.summary : `${c.error.message}${c.error.hint ? " (" + c.error.hint + ")" : ""}`;
  }
}

const databases = new Map();

function renderDatabases() {
  const body = $("databases").tBodies[0];
  body.replaceChildren();
  let ok = 0;
  for (const db of [...databases.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const h = db.health || {};
    const row = body.insertRow();
    row.id = `db-${db.id}`;
    row.insertCell().textContent = db.id;
    row.insertCell().textContent = db.name;
    row.insertCell().textContent = `${db.host}:${db.port}`;
    row.insertCell().textContent = db.dbname;
    const state = row.insertCell();
    state.className = "health";
    mark(state, h.state === "ok", h.state || "unknown");
    if (h.state === "degraded") state.className = "health warn";
    row.insertCell().textContent = typeof h.latency_ms === "number" ? `${h.latency_ms.toFixed(1)} ms` : "";
    const s = h.server;
    row.insertCell().textContent = h.error ? `${h.error.kind}: ${h.error.message}${h.error.hint ? " (" + h.error.hint + ")" : ""}`
      : s ? `PostgreSQL ${s.version.split(" ")[0]}, ${s.in_recovery ? "standby" : "primary"}, wal_level ${s.wal_level}` : "";
    if (h.state === "ok") ok++;
  }
  $("db-summary").textContent = `${databases.size} database(s), ${ok} ok`;
  renderMigTargets();
  renderStreamSelects();
}

// ---- streams: validate, create, watch stream:<id>, pause / resume / drop ----
function renderStreamSelects() {
  for (const id of ["st-source", "st-target"]) {
    const sel = $(id);
    const keep = sel.value;
    sel.replaceChildren();
    for (const db of [...databases.values()].sort((a, b) => a.id.localeCompare(b.id))) {
      const o = document.createElement("option");
      o.value = db.id;
      o.textContent = `${db.id} (${db.dbname})`;
      sel.append(o);
    }
    if (keep) sel.value = keep;
  }
}

function streamBody() {
  return {
    source_database_id: $("st-source").value, target_database_id: $("st-target").value,
    tables: $("st-tables").value.split(",").map((t) => t.trim()).filter(Boolean),
    force: $("st-force").checked,
  };
}

function showChecks(checks) {
  const tb = $("st-checks").tBodies[0];
  tb.replaceChildren();
  for (const c of checks || []) {
    const row = tb.insertRow();
    row.insertCell().textContent = c.check;
    const st = row.insertCell();
    mark(st, c.status === "ok", c.status);
    if (c.status === "warning") st.className = "warn";
    row.insertCell().textContent = c.message;
    row.insertCell().textContent = c.status === "ok" ? "" : c.hint || "";
  }
}

function errorText(r) {
  return r.body.error ? `${r.body.error.message}${r.body.error.hint ? " (" + r.body.error.hint + ")" : ""}` : `HTTP ${r.status}`;
}

$("st-validate").addEventListener("click", async () => {
  $("st-summary").textContent = "checking…";
  const r = await apiSend("POST", "/api/replication/validate", streamBody());
  if (r.status !== 200) { $("st-summary").textContent = errorText(r); showChecks(r.body.error && r.body.error.checks); return; }
  showChecks(r.body.checks);
  $("st-summary").textContent = r.body.ok ? `ready to create (${r.body.warnings} warning(s))` : `${r.body.errors} check(s) failed`;
});

const streamTopics = new Set();
function watchStream(id) {
  const topic = `stream:${id}`;
  if (streamTopics.has(topic) || !ws) return;
  streamTopics.add(topic);
  ws.send(JSON.stringify({ type: "subscribe", topics: [topic] }));
}

$("streamform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("st-summary").textContent = "creating…";
  const r = await apiSend("POST", "/api/replication/create", streamBody());
  if (r.status !== 202) { $("st-summary").textContent = errorText(r); showChecks(r.body.error && r.body.error.checks); return; }
  showChecks(r.body.checks);
  $("st-summary").textContent = `stream ${r.body.id}: ${r.body.state}`;
  watchStream(r.body.id);
  refreshStreams();
});

async function streamAction(id, action) {
  const r = action === "drop" ? await apiSend("DELETE", `/api/replication/streams/${id}`, {})
    : await apiSend("POST", `/api/replication/streams/${id}/${action}`, {});
  $("st-summary").textContent = r.status === 200 ? `stream ${id}: ${r.body.state}` + (r.body.notes ? ` — ${r.body.notes.join("; ")}` : "") : errorText(r);
  refreshStreams();
}

async function refreshStreams() {
  const r = await api("/api/replication/streams");
  if (r.status !== 200) return;
  const tb = $("streams").tBodies[0];
  tb.replaceChildren();
  for (const s of r.body.streams) {
    const row = tb.insertRow();
    row.id = s.id ? `stream-${s.id}` : "";
    row.insertCell().textContent = s.id || "(found)";
    row.insertCell().textContent = s.managed ? `${s.source_database_id} → ${s.target_database_id}` : `${s.from} → ${s.to}`;
    row.insertCell().textContent = s.subscription || (s.kind === "physical" ? `physical${s.slot ? ", slot " + s.slot : ""}` : "");
    mark(row.insertCell(), ["streaming", "initializing", "creating"].includes(s.state), s.state);
    row.insertCell().textContent = s.sync ? `${s.sync.ready}/${s.sync.tables} tables ready` : "";
    const lag = s.live ? s.live.lag_bytes : s.lag_bytes;
    row.insertCell().textContent = bytes(lag);
    const actions = row.insertCell();
    if (s.managed) {
      for (const a of ["pause", "resume", "drop"]) {
        const b = document.createElement("button");
        b.textContent = a;
        b.addEventListener("click", () => streamAction(s.id, a));
        actions.append(b, " ");
      }
      if (["creating", "initializing"].includes(s.state)) watchStream(s.id);
    }
  }
}

function streamEvent(e) {
  const row = document.getElementById(`stream-${e.stream_id}`);
  if (!row) { refreshStreams(); return; }
  mark(row.cells[3], e.state !== "error", e.state);
  if (typeof e.tables === "number") row.cells[4].textContent = `${e.ready}/${e.tables} tables ready`;
  if (e.state === "streaming" || e.error) $("st-summary").textContent = `stream ${e.stream_id}: ${e.state}${e.error ? " — " + e.error : ""}`;
}

// ---- migrations: pick targets, run, watch migration:<id> live ----
function renderMigTargets() {
  const box = $("mig-targets");
  const checked = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  box.replaceChildren(document.createTextNode("Targets: "));
  for (const db of [...databases.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const label = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.value = db.id;
    cb.checked = checked.has(db.id);
    label.append(cb, ` ${db.id} (${db.dbname}) `);
    box.append(label);
  }
}

let migWatching = null;
const migRows = new Map();

function migRow(target) {
  if (!migRows.has(target)) {
    const row = $("mig-progress").tBodies[0].insertRow();
    for (let i = 0; i < 4; i++) row.insertCell();
    row.cells[0].textContent = target;
    migRows.set(target, row);
  }
  return migRows.get(target);
}

function migShowTarget(t) {
  const row = migRow(t.target);
  mark(row.cells[1], !["failed"].includes(t.status), t.status);
  row.cells[2].textContent = `${t.statements_done}/${t.statements_total ?? "?"}`;
  row.cells[3].textContent = [t.error, t.note].filter(Boolean).join(" — ");
}

function migEvent(e) {
  if (e.event === "finished") {
    const r = e.report;
    $("mig-progress").tBodies[0].replaceChildren();
    migRows.clear();
    for (const t of r.targets) migShowTarget(t);
    $("mig-summary").textContent = `${r.name}: ${r.status}` + (r.plan.length ? ` — ${r.plan.join("; ")}` : "");
    refreshMigHistory();
    return;
  }
  const row = migRow(e.target);
  if (e.event === "statement") row.cells[2].textContent = `${e.k}/${e.n}`;
  else if (e.event === "started") row.cells[2].textContent = `0/${e.statements_total}`;
  else mark(row.cells[1], e.event !== "failed", e.event);
  if (e.event === "started") mark(row.cells[1], true, "running");
  if (e.error || e.note) row.cells[3].textContent = e.error || e.note;
}

async function refreshMigHistory() {
  const r = await api("/api/migrations");
  if (r.status !== 200) return;
  const tb = $("mig-history").tBodies[0];
  tb.replaceChildren();
  for (const m of r.body.migrations.slice(0, 10)) {
    const row = tb.insertRow();
    row.insertCell().textContent = m.started_at || "";
    row.insertCell().textContent = m.name;
    mark(row.insertCell(), m.status === "succeeded", m.status);
    row.insertCell().textContent = m.targets.map((t) => `${t.target}: ${t.status}`).join(", ");
    row.insertCell().textContent = m.execution_id;
  }
}

$("mig-sample").addEventListener("change", async () => {
  const name = $("mig-sample").value;
  if (!name) return;
  const res = await fetch(`/samples/${name}`);
  $("mig-sql").value = await res.text();
  $("mig-name").value = name.replace(/\.sql$/, "");
  $("mig-nontx").checked = name.includes("index");
});

$("migform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const ids = [...$("mig-targets").querySelectorAll("input:checked")].map((i) => i.value);
  const r = await apiSend("POST", "/api/migrations/execute", {
    name: $("mig-name").value, sql: $("mig-sql").value, database_ids: ids,
    dry_run: $("mig-dry").checked, atomic: $("mig-atomic").checked,
    continue_on_error: $("mig-continue").checked, non_transactional: $("mig-nontx").checked,
  });
  if (r.status !== 202) {
    $("mig-summary").textContent = r.body.error ? `${r.body.error.message}${r.body.error.hint ? " (" + r.body.error.hint + ")" : ""}` : `HTTP ${r.status}`;
    return;
  }
  $("mig-progress").tBodies[0].replaceChildren();
  migRows.clear();
  for (const id of ids) mark(migRow(id).cells[1], true, "pending");
  $("mig-summary").textContent = `running ${r.body.execution_id}…`;
  if (migWatching && ws) ws.send(JSON.stringify({ type: "unsubscribe", topics: [migWatching] }));
  migWatching = r.body.topic;
  if (ws) ws.send(JSON.stringify({ type: "subscribe", topics: [migWatching] }));
  // events before the subscription took effect are not replayed: the record fills the gap
  const id = r.body.execution_id;
  const poll = async () => {
    const rec = await api(`/api/migrations/${id}`);
    if (rec.status !== 200 || migWatching !== `migration:${id}`) return;
    if (rec.body.status === "running") { setTimeout(poll, 1000); return; }
    migEvent({ event: "finished", report: { plan: [], ...rec.body } });
  };
  setTimeout(poll, 500);
});

async function refreshDatabases() {
  const r = await api("/api/databases");
  if (r.status !== 200) {
    $("db-summary").textContent = r.body.error ? r.body.error.message : `HTTP ${r.status}`;
    return;
  }
  databases.clear();
  for (const db of r.body.databases) databases.set(db.id, db);
  renderDatabases();
}

function bytes(n) {
  if (typeof n !== "number") return "unknown";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let u = 0;
  while (n >= 1024 && u < 4) { n /= 1024; u++; }
  return u ? `${n.toFixed(1)} ${units[u]}` : `${n} B`;
}

// the graph: servers in columns by replication depth, edges coloured by state
function renderGraph(t) {
  const svg = $("graph");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const nodes = (t.nodes || []).map((n) => n.id);
  for (const e of t.edges) for (const id of [e.from, e.to]) if (id && !nodes.includes(id)) nodes.push(id);
  const depth = new Map(nodes.map((id) => [id, 0]));
  for (let round = 0; round < nodes.length; round++)
    for (const e of t.edges)
      if (e.from && depth.get(e.to) <= depth.get(e.from)) depth.set(e.to, depth.get(e.from) + 1);
  const cols = new Map();
  for (const id of nodes) {
    const d = depth.get(id);
    if (!cols.has(d)) cols.set(d, []);
    cols.get(d).push(id);
  }
  const W = 260, H = 64, pos = new Map();
  let rows = 0;
  for (const [d, ids] of cols) ids.forEach((id, i) => { pos.set(id, { x: 10 + d * W, y: 10 + i * H }); rows = Math.max(rows, i + 1); });
  svg.setAttribute("height", nodes.length ? rows * H + 10 : 0);
  const el = (name, attrs, text) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  const labelled = new Map();
  for (const e of t.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const ok = e.state === "streaming";
    const line = el("line", { x1: a.x + 150, y1: a.y + 22, x2: b.x, y2: b.y + 22,
      stroke: ok ? "#1a7f37" : "#cf222e", "stroke-width": 2, "stroke-dasharray": e.kind === "physical" ? "" : "6 4" });
    line.append(Object.assign(document.createElementNS(ns, "title"),
      { textContent: `${e.kind} ${e.state}, lag ${bytes(e.lag_bytes)}${e.subscription ? ", subscription " + e.subscription : ""}` }));
    const label = `${e.kind === "logical" ? e.subscription || "logical" : e.kind}${typeof e.lag_bytes === "number" ? " " + bytes(e.lag_bytes) : ""}`;
    const k = (labelled.get(`${e.from}>${e.to}`) || 0);
    labelled.set(`${e.from}>${e.to}`, k + 1);
    el("text", { x: b.x - 6, y: b.y + 22 + (k ? 12 * k : -4), "font-size": 9, fill: "#6e7781", "text-anchor": "end" }, label);
  }
  const byId = new Map((t.nodes || []).map((n) => [n.id, n]));
  for (const id of nodes) {
    const p = pos.get(id), n = byId.get(id) || {};
    const up = n.up ?? n.reachable;
    el("rect", { x: p.x, y: p.y, width: 150, height: 44, rx: 6, fill: n.managed === false ? "#f6f8fa" : "#fff",
      stroke: up === false ? "#cf222e" : "#1d3557", "stroke-dasharray": n.managed === false ? "4 3" : "" });
    el("text", { x: p.x + 8, y: p.y + 18, "font-size": 12, "font-weight": 600 }, id);
    el("text", { x: p.x + 8, y: p.y + 34, "font-size": 10, fill: "#6e7781" },
      n.managed === false ? "not registered" : up === false ? "unreachable" : n.role || "up");
  }
}

function renderReplication(t) {
  renderGraph(t);
  const eb = $("edges").tBodies[0];
  eb.replaceChildren();
  for (const e of t.edges) {
    const row = eb.insertRow();
    row.insertCell().textContent = e.kind;
    row.insertCell().textContent = e.from || "unknown";
    row.insertCell().textContent = e.kind === "logical" ? `${e.to}/${e.target_database || ""}` : e.to;
    mark(row.insertCell(), e.state === "streaming", e.state);
    const secs = typeof e.lag_seconds === "number" ? ` / ${e.lag_seconds.toFixed(1)} s`
      : typeof e.replay_lag_seconds === "number" ? ` / ${e.replay_lag_seconds.toFixed(1)} s` : "";
    row.insertCell().textContent = bytes(e.lag_bytes) + secs;
    row.insertCell().textContent = e.subscription || e.slot || "";
  }
  const sb = $("slots").tBodies[0];
  sb.replaceChildren();
  for (const s of t.slots) {
    const row = sb.insertRow();
    row.insertCell().textContent = s.node;
    row.insertCell().textContent = s.name;
    row.insertCell().textContent = s.type;
    mark(row.insertCell(), s.active, s.active ? "active" : "inactive");
    row.insertCell().textContent = bytes(s.retained_wal_bytes);
    row.insertCell().textContent = s.wal_status || "";
  }
  const down = (t.nodes || []).filter((n) => n.up === false || n.reachable === false).length;
  $("repl-summary").textContent = `${t.edges.length} edge(s), ${t.slots.length} slot(s)` +
    (down ? `, ${down} server(s) unreachable` : "") + ` — collected ${t.collected_at}`;
}

async function refreshReplication() {
  const r = await api("/api/replication/discover");
  if (r.status === 200) renderReplication(r.body);
  else $("repl-summary").textContent = r.body.error ? r.body.error.message : `HTTP ${r.status}`;
}

function addEvent(e, atTop) {
  const tb = $("events").tBodies[0];
  const row = atTop ? tb.insertRow(0) : tb.insertRow();
  row.insertCell().textContent = e.time || e.received_at;
  row.insertCell().textContent = e.node;
  mark(row.insertCell(), e.severity === "info", e.severity);
  row.insertCell().textContent = e.kind + (e.object ? ` (${e.object})` : "");
  row.insertCell().textContent = e.message;
  row.insertCell().textContent = e.hint || "";
  while (tb.rows.length > 100) tb.deleteRow(tb.rows.length - 1);
  $("events-summary").textContent = `${tb.rows.length} recent event(s), newest first`;
}

async function refreshEvents() {
  const r = await api("/api/replication/events?limit=50");
  if (r.status !== 200) return;
  $("events").tBodies[0].replaceChildren();
  for (const e of r.body.events) addEvent(e, false);
  if (!r.body.events.length) $("events-summary").textContent = "no replication events in the logs";
}

let ws;
function connectWs() {
  if (ws) ws.close();
  const proto = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${proto}://${location.host}/ws`);
  ws.onopen = () => {
    mark($("h-ws"), true, "connected, waiting for the first heartbeat");
    streamTopics.clear();
  };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "welcome") {
      // the session cookie authenticated the upgrade; subscribe once it says so
      if (msg.authenticated) ws.send(JSON.stringify({ type: "subscribe", topics: ["heartbeat", "health", "metrics", "events", "alerts"] }));
      else mark($("h-ws"), false, "not signed in");
    } else if (msg.type === "event" && msg.topic === "heartbeat") {
      const d = msg.data;
      mark($("h-ws"), true, `#${d.seq} at ${msg.ts}: store ${d.store}, ${d.websocket_clients} client(s)`);
    } else if (msg.type === "event" && msg.topic === "metrics") {
      renderReplication(msg.data);
    } else if (msg.type === "event" && msg.topic.startsWith("stream:")) {
      streamEvent(msg.data);
    } else if (msg.type === "event" && msg.topic === migWatching) {
      migEvent(msg.data);
    } else if (msg.type === "event" && msg.topic === "alerts") {
      alertEvent(msg.data);
    } else if (msg.type === "event" && msg.topic === "events") {
      addEvent(msg.data, true);
    } else if (msg.type === "event" && msg.topic === "health") {
      if (msg.data.component === "database") {
        const db = databases.get(msg.data.database_id);
        if (db) {
          db.health = msg.data.health;
          renderDatabases();
        } else {
          refreshDatabases();
        }
      } else {
        refreshHealth();
      }
    } else if (msg.type === "error") {
      mark($("h-ws"), false, msg.error.message);
    }
  };
  ws.onclose = () => {
    mark($("h-ws"), false, "disconnected; retrying");
    refreshAuth(); /* a session that ended sends the browser to /login */
    setTimeout(connectWs, 3000);
  };
}

document.querySelectorAll("button[data-get]").forEach((b) =>
  b.addEventListener("click", async () => {
    const r = await api(b.dataset.get);
    $("output").textContent = `HTTP ${r.status}\n` + JSON.stringify(r.body, null, 2);
  })
);

function start() {
  refreshHealth();
  refreshAuth().then((ok) => {
    if (!ok) return;
    refreshAws();
    refreshDatabases();
    refreshReplication();
    refreshEvents();
    refreshMigHistory();
    refreshStreams();
    initAlerts({ api, apiSend, mark, role: () => role });
    connectWs();
  });
  setInterval(refreshHealth, 5000);
}

if (!handingOver) start();
