// Migrations: the SQL in CodeMirror (samples to start from), targets picked by tag or one by
// one, a dry run first, live progress per target, and the history with the SQL that ran and
// who ran it.
import * as api from "../lib/api.js";
import { badge, el, loading, setStatus, statusLine, table } from "../lib/dom.js";
import { errorText, when } from "../lib/format.js";
import { sqlEditor } from "../lib/editor.js";
import { field, showErrors, value } from "../lib/form.js";
import * as state from "../lib/state.js";
import { subscribe } from "../lib/ws.js";

// the files of samples/migrations, listed by the build (ui/build.mjs)
const SAMPLES = __PGFLEET_SAMPLES__;
let off = [];
let editor = null;
let watching = null;

const statusKind = (s) => (["committed", "succeeded", "prepared"].includes(s) ? "ok" : ["failed", "rolled_back", "partial"].includes(s) ? "bad" : "warn");

export default {
  title: "Migrations",
  async mount(root) {
    const targets = el("fieldset", { id: "mig-targets", class: "targets" }, el("legend", {}, "Targets"));
    const f = el("form", { id: "migform", class: "form", "aria-label": "Run a migration" },
      el("div", { class: "grid" },
        field("sample", "Start from a sample", { options: [["", "(your own SQL)"], ...SAMPLES.map((s) => [s, s])] }),
        field("name", "Name", { required: true, attrs: { placeholder: "001_add_column" } })),
      el("div", { class: "field", dataset: { field: "sql" } }, el("span", { class: "label", id: "sql-label" }, "SQL"),
        el("div", { id: "mig-editor", class: "editor" }), el("span", { class: "field-error", "aria-live": "polite" })),
      targets,
      el("div", { class: "grid" },
        field("dry_run", "Dry run (roll back at the end)", { type: "checkbox", value: true }),
        field("atomic", "Atomic: all targets or none", { type: "checkbox" }),
        field("continue_on_error", "Continue on error", { type: "checkbox" }),
        field("non_transactional", "Non-transactional (CREATE INDEX CONCURRENTLY ...)", { type: "checkbox" })),
      el("div", { class: "actions" }, el("button", { type: "submit", id: "mig-run" }, "Run")),
      statusLine("mig-summary"));
    const progress = el("div", { id: "mig-progress" });
    const history = el("div", { id: "mig-history" }, loading());
    const detail = el("div", { id: "mig-detail" });
    root.append(el("h1", { tabindex: "-1" }, "Migrations"), state.can("operator") ? f : null,
      el("h2", {}, "Progress"), progress, el("h2", {}, "History"), history, detail);
    editor = sqlEditor(f.querySelector("#mig-editor"), { label: "SQL of the migration" });

    const renderTargets = () => {
      const keep = new Set(targets.querySelectorAll("input:checked").length
        ? [...targets.querySelectorAll("input[data-db]:checked")].map((i) => i.value) : []);
      targets.replaceChildren(el("legend", {}, "Targets"));
      const tags = new Set();
      for (const db of state.databases.values()) for (const t of db.tags || []) tags.add(t);
      if (tags.size) targets.append(el("div", { class: "by-tag" }, "Pick by tag: ",
        [...tags].sort().map((t) => el("button", { type: "button", onclick: () => {
          for (const i of targets.querySelectorAll("input[data-db]")) {
            const db = state.databases.get(i.value);
            if ((db.tags || []).includes(t)) i.checked = true;
          }
        } }, t))));
      const dbs = [...state.databases.values()].sort((a, b) => a.id.localeCompare(b.id));
      if (!dbs.length) targets.append(el("p", { class: "empty" }, "No database is registered: ", el("a", { href: "#/databases" }, "register one"), "."));
      for (const db of dbs)
        targets.append(el("label", { class: "target" }, el("input", { type: "checkbox", value: db.id, dataset: { db: "1" }, checked: keep.has(db.id) }),
          ` ${db.name} (${db.dbname})`));
    };
    renderTargets();
    f.elements.namedItem("sample").addEventListener("change", async () => {
      const name = value(f, "sample");
      if (!name) return;
      const res = await fetch(`/samples/${name}`);
      editor.value = await res.text();
      f.elements.namedItem("name").value = name.replace(/\.sql$/, "");
      f.elements.namedItem("non_transactional").checked = name.includes("index");
    });

    const rows = new Map();
    let current = null; // the execution this page follows
    const summary = f.querySelector("#mig-summary");
    const showProgress = () => progress.replaceChildren(table([
      { label: "Target", cell: (t) => t.target }, { label: "Status", cell: (t) => badge(t.status, statusKind(t.status)) },
      { label: "Statements", cell: (t) => `${t.statements_done ?? 0}/${t.statements_total ?? "?"}` },
      { label: "Note", cell: (t) => [t.error, t.note].filter(Boolean).join(" — ") }], [...rows.values()], "Nothing running."));
    showProgress();
    const finished = (rec) => {
      if (rec.execution_id !== current) return; // an earlier run, or already shown
      current = null;
      rows.clear();
      for (const t of rec.targets) rows.set(t.target, t);
      showProgress();
      setStatus(summary, `${rec.name}: ${rec.status}${rec.dry_run ? " (dry run: nothing kept)" : ""}` +
        (rec.plan && rec.plan.length ? ` — ${rec.plan.join("; ")}` : ""), statusKind(rec.status));
      refreshHistory();
    };
    const onEvent = (e) => {
      if (e.event === "finished") { finished({ plan: [], ...e.report, execution_id: e.execution_id }); return; }
      const t = rows.get(e.target) || { target: e.target, status: "pending" };
      if (e.event === "statement") t.statements_done = e.k, t.statements_total = e.n;
      else if (e.event === "started") t.status = "running", t.statements_done = 0, t.statements_total = e.statements_total;
      else t.status = e.event;
      if (e.error || e.note) t.error = e.error, t.note = e.note;
      rows.set(e.target, t);
      showProgress();
    };

    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const ids = [...targets.querySelectorAll("input[data-db]:checked")].map((i) => i.value);
      const body = { name: value(f, "name"), sql: editor.value, database_ids: ids, dry_run: value(f, "dry_run"),
        atomic: value(f, "atomic"), continue_on_error: value(f, "continue_on_error"),
        non_transactional: value(f, "non_transactional") };
      setStatus(summary, "starting…");
      current = null;
      const r = await api.post("/api/migrations/execute", body);
      showErrors(f, r);
      if (r.status !== 202) { setStatus(summary, errorText(r), "bad"); return; }
      current = r.body.execution_id;
      rows.clear();
      for (const id of ids) rows.set(id, { target: id, status: "pending" });
      showProgress();
      setStatus(summary, `running ${r.body.execution_id}${body.dry_run ? " (dry run)" : ""}…`);
      if (watching) watching();
      watching = subscribe(r.body.topic, onEvent);
      // events before the subscription took effect are not replayed: the record fills the gap
      const id = r.body.execution_id;
      const poll = async () => {
        const rec = await api.get(`/api/migrations/${id}`);
        if (rec.status !== 200 || !editor || current !== id) return;
        if (rec.body.status === "running") { setTimeout(poll, 1000); return; }
        finished(rec.body);
      };
      setTimeout(poll, 500);
    });

    const refreshHistory = async () => {
      const r = await api.get("/api/migrations");
      if (r.status !== 200) { history.replaceChildren(el("p", { class: "error" }, errorText(r))); return; }
      history.replaceChildren(table([
        { label: "Started", cell: (m) => when(m.started_at) }, { label: "Name", cell: (m) => m.name },
        { label: "Status", cell: (m) => badge(m.status + (m.dry_run ? " (dry run)" : ""), statusKind(m.status)) },
        { label: "By", cell: (m) => m.applied_by || "" },
        { label: "Targets", cell: (m) => m.targets.map((t) => `${t.target}: ${t.status}`).join(", ") },
        { label: "", cell: (m) => el("button", { type: "button", "aria-label": `Show ${m.execution_id}`, onclick: () => show(m.execution_id) }, "Show") },
      ], r.body.migrations.slice(0, 25), "No migration has run yet. Start from a sample above, with a dry run first."));
    };
    const show = async (id) => {
      const r = await api.get(`/api/migrations/${encodeURIComponent(id)}`);
      if (r.status !== 200) { detail.replaceChildren(el("p", { class: "error" }, errorText(r))); return; }
      const m = r.body;
      detail.replaceChildren(el("section", { "aria-label": `Migration ${m.execution_id}` },
        el("h2", {}, `${m.name} (${m.execution_id})`),
        el("p", {}, `${m.status}, by ${m.applied_by || "unknown"}, ${when(m.started_at)} → ${when(m.finished_at)}, checksum ${m.checksum.slice(0, 12)}…`),
        el("pre", { class: "sql", id: "mig-detail-sql" }, m.sql || "(the SQL of runs before this version is not kept)"),
        table([{ label: "Target", cell: (t) => t.target }, { label: "Status", cell: (t) => badge(t.status, statusKind(t.status)) },
          { label: "Statements", cell: (t) => `${t.statements_done}/${t.statements_total ?? "?"}` },
          { label: "Error", cell: (t) => t.error || t.note || "" }], m.targets, "")));
    };
    off = [state.onDatabases(renderTargets)];
    state.loadDatabases();
    refreshHistory();
  },
  unmount() {
    off.forEach((f) => f());
    off = [];
    if (watching) watching();
    watching = null;
    if (editor) editor.destroy();
    editor = null;
  },
};
