// pgfleet dashboard: health, API key, endpoint explorer, live heartbeat over /ws.
const $ = (id) => document.getElementById(id);
const keyStore = {
  get: () => sessionStorage.getItem("pgfleet.key") || "",
  set: (k) => sessionStorage.setItem("pgfleet.key", k),
};

// http://localhost:8000/#key=... (what `make run` prints): the fragment never
// reaches the server; keep the key for this tab and drop it from the address bar
if (location.hash.startsWith("#key=")) {
  keyStore.set(decodeURIComponent(location.hash.slice(5)));
  history.replaceState(null, "", location.pathname);
}

function mark(el, ok, text) {
  el.textContent = text;
  el.className = ok ? "ok" : "bad";
}

async function api(path) {
  const headers = {};
  const key = keyStore.get();
  if (key) headers["Authorization"] = `Bearer ${key}`;
  const res = await fetch(path, { headers });
  const body = await res.json().catch(() => ({}));
  return { status: res.status, body };
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
  $("auth-status").textContent = r.status === 200 ? `signed in as ${r.body.role} (${r.body.method})` : r.body.error ? r.body.error.message : `HTTP ${r.status}`;
  return r.status === 200;
}

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
}

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

function renderReplication(t) {
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
    const key = keyStore.get();
    if (key) ws.send(JSON.stringify({ type: "auth", key }));
    ws.send(JSON.stringify({ type: "subscribe", topics: ["heartbeat", "health", "metrics", "events"] }));
  };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "event" && msg.topic === "heartbeat") {
      const d = msg.data;
      mark($("h-ws"), true, `#${d.seq} at ${msg.ts}: store ${d.store}, ${d.websocket_clients} client(s)`);
    } else if (msg.type === "event" && msg.topic === "metrics") {
      renderReplication(msg.data);
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
    setTimeout(connectWs, 3000);
  };
}

$("keyform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  keyStore.set($("key").value);
  $("key").value = "";
  if (await refreshAuth()) {
    refreshAws();
    refreshDatabases();
    refreshReplication();
    refreshEvents();
  }
  connectWs();
});

document.querySelectorAll("button[data-get]").forEach((b) =>
  b.addEventListener("click", async () => {
    const r = await api(b.dataset.get);
    $("output").textContent = `HTTP ${r.status}\n` + JSON.stringify(r.body, null, 2);
  })
);

refreshHealth();
refreshAuth().then((ok) => {
  if (ok) {
    refreshAws();
    refreshDatabases();
    refreshReplication();
    refreshEvents();
  }
});
connectWs();
setInterval(refreshHealth, 5000);
