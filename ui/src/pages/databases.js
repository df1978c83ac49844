// Databases: the registered ones with their health; register, edit, remove, test. A stored
// password is never shown: the form says one is kept, and a new one replaces it.
import * as api from "../lib/api.js";
import { badge, el, loading, setStatus, statusLine, table } from "../lib/dom.js";
import { errorText } from "../lib/format.js";
import { field, showErrors, value } from "../lib/form.js";
import * as state from "../lib/state.js";

let off = [];

const SOURCES = [["password", "password (kept in Secrets Manager)"], ["secretsmanager", "an AWS Secrets Manager secret"],
  ["env", "an environment variable of the server (PGFLEET_DB_*)"], ["rds_iam", "RDS IAM token"]];
const SSL = ["", "disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

function form(db, done) {
  const c = (db && db.credentials) || { source: "password" };
  const f = el("form", { id: "dbform", class: "form", novalidate: true, "aria-label": db ? `Edit ${db.id}` : "Register a database" },
    el("h2", {}, db ? `Edit ${db.id}` : "Register a database"),
    el("div", { class: "grid" },
      field("id", "Id", { value: db?.id, required: true, attrs: { readonly: db ? true : undefined, pattern: "[A-Za-z0-9_.\\-]+" } }),
      field("name", "Name", { value: db?.name, required: true }),
      field("host", "Host", { value: db?.host, required: true }),
      field("port", "Port", { type: "number", value: db?.port ?? 5432, required: true, attrs: { min: 1, max: 65535 } }),
      field("dbname", "Database", { value: db?.dbname, required: true }),
      field("user", "User", { value: db?.user, required: true }),
      field("sslmode", "sslmode", { value: db?.sslmode || "", options: SSL.map((s) => [s, s || "(default: prefer)"]) }),
      field("tags", "Tags", { value: (db?.tags || []).join(", "), hint: "comma separated" }),
      field("credentials.source", "Credentials", { value: c.source, options: SOURCES }),
      field("credentials.password", "Password", { type: "password", autocomplete: "new-password",
        hint: c.password_set ? "a password is kept: leave empty to keep it" : "" }),
      field("credentials.secret_id", "Secret id", { value: c.secret_id, hint: "a secret under pgfleet/, RDS JSON format" }),
      field("credentials.env", "Variable", { value: c.env, hint: "PGFLEET_DB_..." }),
      field("logs.file", "Log file", { value: db?.logs?.file, hint: "followed for replication errors (PGFLEET_LOG_DIRS)" }),
      field("aws.region", "AWS region", { value: db?.aws?.region }),
      field("aws.rds_instance_id", "RDS instance id", { value: db?.aws?.rds_instance_id })),
    el("div", { class: "actions" },
      el("button", { type: "submit" }, db ? "Save" : "Register"),
      el("button", { type: "button", onclick: () => done(false) }, "Cancel")),
    statusLine("db-form-status"));
  const showSource = () => {
    const s = value(f, "credentials.source");
    for (const [k, on] of [["credentials.password", s === "password"], ["credentials.secret_id", s === "secretsmanager"],
      ["credentials.env", s === "env"]])
      f.querySelector(`[data-field="${k}"]`).hidden = !on;
  };
  f.elements.namedItem("credentials.source").addEventListener("change", showSource);
  showSource();
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const src = value(f, "credentials.source");
    const cred = { source: src };
    if (src === "password" && value(f, "credentials.password")) cred.password = value(f, "credentials.password");
    if (src === "password" && !cred.password && c.password_set && db) cred.password_set = true;
    if (src === "secretsmanager") cred.secret_id = value(f, "credentials.secret_id");
    if (src === "env") cred.env = value(f, "credentials.env");
    const body = { id: value(f, "id"), name: value(f, "name"), host: value(f, "host"), port: Number(value(f, "port")),
      dbname: value(f, "dbname"), user: value(f, "user"), credentials: cred,
      tags: value(f, "tags").split(",").map((t) => t.trim()).filter(Boolean) };
    if (value(f, "sslmode")) body.sslmode = value(f, "sslmode");
    if (value(f, "logs.file")) body.logs = { file: value(f, "logs.file") };
    const aws = {};
    if (value(f, "aws.region")) aws.region = value(f, "aws.region");
    if (value(f, "aws.rds_instance_id")) aws.rds_instance_id = value(f, "aws.rds_instance_id");
    if (Object.keys(aws).length) body.aws = aws;
    const st = f.querySelector("#db-form-status");
    setStatus(st, "saving…");
    const r = db ? await api.put(`/api/databases/${encodeURIComponent(db.id)}`, body) : await api.post("/api/databases", body);
    f.elements.namedItem("credentials.password").value = "";
    if (r.status === 200 || r.status === 201) {
      setStatus(st, `${body.id} saved`, "ok");
      done(true);
    } else {
      showErrors(f, r);
      setStatus(st, errorText(r), "bad");
    }
  });
  return f;
}

export default {
  title: "Databases",
  async mount(root) {
    const list = el("div", { id: "db-list" }, loading());
    const formBox = el("div", { id: "db-form-box" });
    const status = statusLine("db-status");
    const open = (db) => {
      formBox.replaceChildren(form(db, async (saved) => {
        if (saved) await state.loadDatabases();
        formBox.replaceChildren();
      }));
      formBox.querySelector("input:not([readonly])")?.focus();
    };
    root.append(el("h1", { tabindex: "-1" }, "Databases"),
      el("div", { class: "toolbar" },
        state.can("admin") ? el("button", { type: "button", onclick: () => open(null) }, "Register a database") : null,
        state.can("operator") ? el("button", { type: "button", onclick: async () => {
          setStatus(status, "testing every database…");
          const r = await api.get("/api/databases/test");
          if (r.status !== 200) { setStatus(status, errorText(r), "bad"); return; }
          const bad = r.body.results.filter((x) => !x.ok);
          setStatus(status, bad.length ? `${bad.length} failed: ${bad.map((x) => `${x.id}: ${x.error.message}`).join("; ")}`
            : `all ${r.body.results.length} answered`, bad.length ? "bad" : "ok");
        } }, "Test all") : null),
      status, formBox, list);
    const render = () => {
      const dbs = [...state.databases.values()].sort((a, b) => a.id.localeCompare(b.id));
      list.replaceChildren(table([
        { label: "Id", cell: (d) => d.id }, { label: "Name", cell: (d) => d.name },
        { label: "Where", cell: (d) => `${d.host}:${d.port}/${d.dbname}` },
        { label: "Credentials", cell: (d) => d.credentials.source },
        { label: "Tags", cell: (d) => (d.tags || []).join(", ") },
        { label: "Health", cell: (d) => {
          const h = d.health || {};
          return el("span", {}, badge(h.state || "unknown", h.state === "ok" ? "ok" : h.state === "degraded" ? "warn" : "bad"),
            h.error ? el("small", { class: "muted" }, ` ${h.error.kind}: ${h.error.message}${h.error.hint ? " — " + h.error.hint : ""}`) : "");
        } },
        { label: "Actions", cell: (d) => el("span", { class: "row-actions" },
          state.can("operator") ? el("button", { type: "button", "aria-label": `Test ${d.id}`, onclick: async () => {
            setStatus(status, `testing ${d.id}…`);
            const r = await api.post(`/api/databases/${encodeURIComponent(d.id)}/test`);
            const e = r.body.error;
            setStatus(status, r.status === 200 && r.body.ok ? `${d.id}: ok, ${r.body.server_version || ""} (${r.body.latency_ms?.toFixed(1)} ms)`
              : `${d.id}: ${e ? e.message + (e.hint ? " — " + e.hint : "") : errorText(r)}`, r.body.ok ? "ok" : "bad");
          } }, "Test") : null,
          state.can("admin") ? el("button", { type: "button", "aria-label": `Edit ${d.id}`, onclick: () => open(d) }, "Edit") : null,
          state.can("admin") ? el("button", { type: "button", "aria-label": `Remove ${d.id}`, onclick: async () => {
            if (!confirm(`Remove ${d.id} from pgfleet? The database itself is not touched.`)) return;
            const r = await api.del(`/api/databases/${encodeURIComponent(d.id)}`);
            setStatus(status, r.status === 200 ? `${d.id} removed` : errorText(r), r.status === 200 ? "ok" : "bad");
            await state.loadDatabases();
          } }, "Remove") : null) },
      ], dbs, "No database is registered yet. Register one: pgfleet then watches its health, replication and logs."));
    };
    off = [state.onDatabases(render)];
    const r = await state.loadDatabases();
    if (r.status !== 200) setStatus(status, errorText(r), "bad");
    render();
  },
  unmount() {
    off.forEach((f) => f());
    off = [];
  },
};
