// Events: replication errors classified from the databases' PostgreSQL logs, newest first,
// live, with a filter by server and severity.
import * as api from "../lib/api.js";
import { badge, el, loading, setStatus, statusLine, table } from "../lib/dom.js";
import { errorText } from "../lib/format.js";
import { subscribe } from "../lib/ws.js";

let off = [];

export default {
  title: "Events",
  async mount(root) {
    const sev = el("select", { id: "ev-severity" }, ["", "critical", "error", "warning", "info"].map((s) => el("option", { value: s }, s || "any")));
    const node = el("input", { id: "ev-node", placeholder: "host:port", size: 18 });
    const list = el("div", { id: "events" }, loading());
    const status = statusLine("ev-status");
    root.append(el("h1", { tabindex: "-1" }, "Events"),
      el("p", { class: "muted" }, "Replication errors read from the databases' PostgreSQL logs (logs.file, or logs.rds on RDS), each with a hint."),
      el("div", { class: "toolbar" }, el("label", {}, "Severity ", sev), el("label", {}, "Server ", node)), status, list);
    let events = [];
    const render = () => list.replaceChildren(table([
      { label: "Time", cell: (e) => e.time || e.received_at }, { label: "Server", cell: (e) => e.node },
      { label: "Severity", cell: (e) => badge(e.severity, e.severity === "info" ? "muted" : e.severity === "warning" ? "warn" : "bad") },
      { label: "What", cell: (e) => e.kind + (e.object ? ` (${e.object})` : "") }, { label: "Message", cell: (e) => e.message },
      { label: "Hint", cell: (e) => e.hint || "" }], events,
      "No replication event. pgfleet reads a database's log when its registration names logs.file (or logs.rds)."));
    const load = async () => {
      const q = new URLSearchParams({ limit: "100" });
      if (sev.value) q.set("severity", sev.value);
      if (node.value.trim()) q.set("node", node.value.trim());
      const r = await api.get(`/api/replication/events?${q}`);
      if (r.status !== 200) { setStatus(status, errorText(r), "bad"); return; }
      setStatus(status, "");
      events = r.body.events;
      render();
    };
    sev.addEventListener("change", load);
    node.addEventListener("change", load);
    off = [subscribe("events", (e) => {
      if ((sev.value && e.severity !== sev.value) || (node.value.trim() && e.node !== node.value.trim())) return;
      events = [e, ...events].slice(0, 200);
      render();
    })];
    load();
  },
  unmount() {
    off.forEach((f) => f());
    off = [];
  },
};
