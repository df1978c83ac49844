// Streams: the pre-flight as a checklist with each fix, create with options, the initial
// copy per table, and the lifecycle actions (drop asks first).
import * as api from "../lib/api.js";
import { badge, el, loading, setStatus, statusLine, table } from "../lib/dom.js";
import { bytes, errorText } from "../lib/format.js";
import { field, showErrors, value } from "../lib/form.js";
import * as state from "../lib/state.js";
import { subscribe } from "../lib/ws.js";

let off = [];

function checklist(box, checks) {
  box.replaceChildren(checks && checks.length ? el("ul", { class: "checklist", id: "st-checks" },
    checks.map((c) => el("li", { class: c.status },
      badge(c.status, c.status === "ok" ? "ok" : c.status === "warning" ? "warn" : "bad"), " ",
      el("strong", {}, c.check), ` ${c.message}`,
      c.status !== "ok" && c.hint ? el("div", { class: "fix" }, "Fix: ", c.hint) : null))) : "");
}

export default {
  title: "Streams",
  async mount(root) {
    const dbs = () => [...state.databases.values()].sort((a, b) => a.id.localeCompare(b.id)).map((d) => [d.id, `${d.name} (${d.dbname})`]);
    const f = el("form", { id: "streamform", class: "form", "aria-label": "Create a stream" },
      el("h2", {}, "Create a logical replication stream"),
      el("div", { class: "grid" },
        field("source_database_id", "Source", { options: dbs() }),
        field("target_database_id", "Target", { options: dbs() }),
        field("tables", "Tables", { hint: "schema.table, comma separated (e.g. public.customers, public.orders)", required: true }),
        field("copy_data", "Copy the existing rows first", { type: "checkbox", value: true }),
        field("force", "Accept warnings", { type: "checkbox" })),
      el("div", { class: "actions" },
        el("button", { type: "button", id: "st-validate" }, "Check (pre-flight)"),
        el("button", { type: "submit" }, "Create")),
      statusLine("st-summary"), el("div", { id: "st-checklist" }));
    const list = el("div", { id: "streams" }, loading());
    const status = statusLine("st-status");
    root.append(el("h1", { tabindex: "-1" }, "Streams"), state.can("operator") ? f : null, el("h2", {}, "Streams"), status, list);
    const summary = f.querySelector("#st-summary"), checks = f.querySelector("#st-checklist");
    const body = () => ({
      source_database_id: value(f, "source_database_id"), target_database_id: value(f, "target_database_id"),
      tables: value(f, "tables").split(",").map((t) => t.trim()).filter(Boolean),
      options: { copy_data: value(f, "copy_data") }, force: value(f, "force"),
    });
    f.querySelector("#st-validate").addEventListener("click", async () => {
      setStatus(summary, "checking…");
      const r = await api.post("/api/replication/validate", body());
      showErrors(f, r);
      if (r.status !== 200) { setStatus(summary, errorText(r), "bad"); checklist(checks, r.body.error && r.body.error.checks); return; }
      checklist(checks, r.body.checks);
      setStatus(summary, r.body.ok ? `ready to create (${r.body.warnings} warning(s))` : `${r.body.errors} check(s) failed: fix them and check again`,
        r.body.ok ? "ok" : "bad");
    });
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      setStatus(summary, "creating…");
      const r = await api.post("/api/replication/create", body());
      showErrors(f, r);
      if (r.status !== 202) { setStatus(summary, errorText(r), "bad"); checklist(checks, r.body.error && r.body.error.checks); return; }
      checklist(checks, r.body.checks);
      setStatus(summary, `stream ${r.body.id}: ${r.body.state}`, "ok");
      refresh();
    });
    const act = async (s, a) => {
      if (a === "drop" && !confirm(`Drop stream ${s.id}? Its subscription, slot and (when pgfleet made it) publication are removed.`)) return;
      const r = a === "drop" ? await api.del(`/api/replication/streams/${encodeURIComponent(s.id)}`)
        : await api.post(`/api/replication/streams/${encodeURIComponent(s.id)}/${a}`);
      setStatus(status, r.status === 200 ? `stream ${s.id}: ${r.body.state}${r.body.notes ? " — " + r.body.notes.join("; ") : ""}` : errorText(r),
        r.status === 200 ? "ok" : "bad");
      refresh();
    };
    const refresh = async () => {
      const r = await api.get("/api/replication/streams");
      if (r.status !== 200) { setStatus(status, errorText(r), "bad"); return; }
      list.replaceChildren(table([
        { label: "Stream", cell: (s) => s.id || "(found)" },
        { label: "From → to", cell: (s) => s.managed ? `${s.source_database_id} → ${s.target_database_id}` : `${s.from} → ${s.to}` },
        { label: "Subscription", cell: (s) => s.subscription || (s.kind === "physical" ? "physical" : "") },
        { label: "State", cell: (s) => badge(s.state, ["streaming"].includes(s.state) ? "ok" : ["initializing", "creating"].includes(s.state) ? "warn" : "bad") },
        { label: "Initial copy", cell: (s) => s.sync ? el("span", {}, el("progress", { max: s.sync.tables, value: s.sync.ready }), ` ${s.sync.ready}/${s.sync.tables} tables`) : "" },
        { label: "Lag", cell: (s) => bytes(s.live ? s.live.lag_bytes : s.lag_bytes) },
        { label: "Actions", cell: (s) => s.managed && state.can("operator") ? el("span", { class: "row-actions" },
          ["pause", "resume", "refresh", "drop"].map((a) => el("button", { type: "button", "aria-label": `${a} ${s.id}`, onclick: () => act(s, a) }, a))) : "" },
      ], r.body.streams, "No stream yet: create one above, from a source database's tables to a target with the same tables.",
      { id: "streams-table" }));
      const rows = list.querySelectorAll("tbody tr");
      r.body.streams.forEach((s, i) => { if (rows[i]) rows[i].dataset.stream = s.id || ""; });
    };
    // every stream's state changes, also of streams created by the CLI or another browser
    off = [subscribe("streams", (e) => {
      if (e.state === "streaming" || e.error) setStatus(summary, `stream ${e.stream_id}: ${e.state}${e.error ? " — " + e.error : ""}`, e.error ? "bad" : "ok");
      refresh();
    }), state.onDatabases(() => {
      for (const n of ["source_database_id", "target_database_id"]) {
        const sel = f.elements.namedItem(n);
        const keep = sel.value;
        sel.replaceChildren(...dbs().map(([v, t]) => el("option", { value: v }, t)));
        if (keep) sel.value = keep;
      }
    })];
    state.loadDatabases();
    refresh();
  },
  unmount() {
    off.forEach((f) => f());
    off = [];
  },
};
