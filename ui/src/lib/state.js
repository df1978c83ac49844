// What several pages share: who is signed in, the registered databases (kept live from the
// topic "health"), and the last topology (kept live from "metrics").
import * as api from "./api.js";
import { subscribe } from "./ws.js";

export const auth = { user: null, role: null, method: null };
const ORDER = { viewer: 0, operator: 1, admin: 2 };
export const can = (role) => (ORDER[auth.role] ?? -1) >= ORDER[role];

export async function loadAuth() {
  const r = await api.get("/api/auth/status");
  if (r.status !== 200) return false;
  Object.assign(auth, { user: r.body.user, role: r.body.role, method: r.body.method });
  api.setCsrf(r.body.csrf);
  return true;
}

// ---- databases ----
export const databases = new Map();
const dbListeners = new Set();

export function onDatabases(fn) {
  dbListeners.add(fn);
  return () => dbListeners.delete(fn);
}
function dbChanged() {
  for (const fn of dbListeners) fn(databases);
}

const byServer = new Map(); // host:port -> the databases registered there

export async function loadDatabases() {
  const r = await api.get("/api/databases");
  if (r.status !== 200) return r;
  databases.clear();
  byServer.clear();
  for (const db of r.body.databases) {
    databases.set(db.id, db);
    const at = `${db.host}:${db.port}`;
    if (!byServer.has(at)) byServer.set(at, []);
    byServer.get(at).push(db);
  }
  dbChanged();
  return r;
}

// the (first) registered database behind a topology node (host:port), if one
export function databaseAt(nodeId) {
  const dbs = byServer.get(nodeId);
  return dbs ? dbs[0] : null;
}

// what to call a topology node: the database registered there (and how many more), else null
export function serverName(n) {
  const dbs = byServer.get(n.id);
  if (!dbs) return null;
  return dbs.length > 1 ? `${dbs[0].name} +${dbs.length - 1} more` : dbs[0].name;
}

// ---- topology ----
export let topology = null;
const topoListeners = new Set();
export function onTopology(fn) {
  topoListeners.add(fn);
  return () => topoListeners.delete(fn);
}
function topoChanged() {
  for (const fn of topoListeners) fn(topology);
}

// The page's topology is the shape (servers with their versions, RDS instances and Aurora
// clusters: /api/replication/discover and the topic "topology") with the live values of the
// topic "metrics" (state, lag, up) laid over it: "metrics" carries no more than those.
let shape = null;
let live = null;
const edgeKey = (e) => `${e.kind}|${e.from}|${e.to}|${e.subscription || e.slot || ""}`;
function compose() {
  if (!live || !shape) return live || shape;
  const shapeNodes = new Map((shape.nodes || []).map((n) => [n.id, n]));
  const nodes = (live.nodes || []).map((n) => ({ ...shapeNodes.get(n.id), ...n, reachable: n.up ?? shapeNodes.get(n.id)?.reachable }));
  const seenNodes = new Set(nodes.map((n) => n.id));
  for (const n of shape.nodes || []) if (!seenNodes.has(n.id) && n.rds) nodes.push(n); // known to RDS only
  const shapeEdges = new Map((shape.edges || []).map((e) => [edgeKey(e), e]));
  const edges = (live.edges || []).map((e) => ({ ...shapeEdges.get(edgeKey(e)), ...e }));
  const seenEdges = new Set(edges.map(edgeKey));
  for (const e of shape.edges || []) if (!seenEdges.has(edgeKey(e)) && (e.source === "rds" || e.kind === "aurora")) edges.push(e);
  return { ...live, nodes, edges };
}

export async function loadTopology() {
  const r = await api.get("/api/replication/discover");
  if (r.status === 200) {
    shape = r.body;
    topology = compose();
    topoChanged();
  }
  return r;
}

// a "metrics" event is the whole document ({full: true}, on subscribing) or what changed
// since the last one: elements new or changed by key, and the keys removed
function applyMetrics(base, d) {
  const out = { ...d };
  delete out.full;
  delete out.removed;
  for (const list of ["nodes", "edges", "slots"]) {
    const byKey = new Map((base[list] || []).map((x) => [x.key, x]));
    for (const x of d[list] || []) byKey.set(x.key, x);
    for (const k of (d.removed && d.removed[list]) || []) byKey.delete(k);
    out[list] = [...byKey.values()];
  }
  return out;
}

export function startLive() {
  subscribe("topology", (t) => {
    shape = t;
    topology = compose();
    topoChanged();
  });
  subscribe("metrics", (t) => {
    if (t.full !== false) live = t;
    else if (live) live = applyMetrics(live, t);
    else return; // a change before the whole: the whole comes with the next subscription
    topology = compose();
    topoChanged();
  });
  subscribe("health", (h) => {
    if (h.component !== "database") return;
    const db = databases.get(h.database_id);
    if (db) {
      db.health = h.health;
      dbChanged();
    } else loadDatabases();
  });
}
