// Settings: alert rules, notification channels (with a test notification), silences, and
// the signed-in sessions (admin). Forms show the API's validation per field.
import * as api from "../lib/api.js";
import { badge, el, loading, setStatus, statusLine, table } from "../lib/dom.js";
import { errorText, labels, when } from "../lib/format.js";
import { field, showErrors, value } from "../lib/form.js";
import * as state from "../lib/state.js";

const KINDS = ["replication_lag", "edge_down", "slot_retention", "slot_forecast", "database_down", "log_events",
  "migration_failed", "stream_error", "collector_stale"];
const KIND_FIELDS = {
  replication_lag: ["threshold_bytes", "threshold_seconds"], edge_down: ["inactive_for"],
  slot_retention: ["threshold_bytes", "inactive_for"], slot_forecast: ["forecast_hours", "threshold_bytes"],
  database_down: [], log_events: ["threshold_count", "window"], migration_failed: [], stream_error: [],
  collector_stale: ["threshold_seconds"],
};
const SEV = [["info", "info"], ["warning", "warning"], ["critical", "critical"]];
const DURATION = { pattern: "([0-9]+[smhd])+|[0-9]+", placeholder: "2m" };

function thresholds(r) {
  return ["threshold_bytes", "threshold_seconds", "threshold_count", "forecast_hours", "inactive_for", "window"]
    .filter((k) => r[k] !== undefined && (k !== "window" || r.kind === "log_events"))
    .map((k) => `${k.replace("threshold_", "")} ${r[k]}`).join(", ");
}

function rulesPart() {
  const msg = statusLine("alr-msg");
  const list = el("div", { id: "al-rules-box" }, loading());
  const f = el("form", { id: "ruleform", class: "form", "aria-label": "Add a rule", hidden: !state.can("admin") },
    el("h3", {}, "Add a rule"),
    el("div", { class: "grid" },
      field("name", "Name", { required: true, attrs: { pattern: "[A-Za-z0-9_.\\-]{1,64}", placeholder: "orders-lag" } }),
      field("kind", "Kind", { options: KINDS.map((k) => [k, k]) }),
      field("severity", "Severity", { options: SEV, value: "warning" }),
      field("for", "For", { attrs: DURATION }),
      field("resolve_after", "Resolve after", { attrs: { ...DURATION, placeholder: "1m" } }),
      field("threshold_bytes", "Bytes over", { type: "number", attrs: { min: 0 } }),
      field("threshold_seconds", "Seconds over", { type: "number", attrs: { min: 0 } }),
      field("threshold_count", "Events at least", { type: "number", attrs: { min: 1 } }),
      field("window", "Window", { attrs: { ...DURATION, placeholder: "10m" } }),
      field("forecast_hours", "Full within hours", { type: "number", attrs: { min: 0.1, step: 0.1 } }),
      field("inactive_for", "Inactive / stalled for", { attrs: { ...DURATION, placeholder: "1d" } }),
      field("channels", "Channels", { attrs: { placeholder: "(by severity)" } })),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Add rule")));
  const showFields = () => {
    const want = KIND_FIELDS[value(f, "kind")] || [];
    for (const k of ["threshold_bytes", "threshold_seconds", "threshold_count", "window", "forecast_hours", "inactive_for"])
      f.querySelector(`[data-field="${k}"]`).hidden = !want.includes(k);
  };
  f.elements.namedItem("kind").addEventListener("change", showFields);
  showFields();
  const load = async () => {
    const r = await api.get("/api/alerts/rules");
    if (r.status !== 200) { setStatus(msg, errorText(r), "bad"); return; }
    list.replaceChildren(table([
      { label: "Name", cell: (x) => x.name + (x.builtin ? " (built-in)" : "") }, { label: "Kind", cell: (x) => x.kind },
      { label: "Severity", cell: (x) => x.severity }, { label: "For / resolve after", cell: (x) => `${x.for} / ${x.resolve_after}` },
      { label: "Thresholds", cell: (x) => thresholds(x) },
      { label: "Channels", cell: (x) => (x.channels.length ? x.channels.join(", ") : "(by severity)") },
      { label: "Enabled", cell: (x) => badge(x.enabled ? "on" : "off", x.enabled ? "ok" : "muted") },
      { label: "", cell: (x) => state.can("admin") ? el("span", { class: "row-actions" },
        el("button", { type: "button", onclick: async () => {
          const r2 = await api.put(`/api/alerts/rules/${encodeURIComponent(x.name)}`, { ...x, enabled: !x.enabled });
          setStatus(msg, r2.status === 200 ? `rule ${x.name} saved` : errorText(r2), r2.status === 200 ? "ok" : "bad");
          load();
        } }, x.enabled ? "Disable" : "Enable"),
        el("button", { type: "button", onclick: async () => {
          if (!confirm(`Delete rule ${x.name}? What it has firing resolves.`)) return;
          const r2 = await api.del(`/api/alerts/rules/${encodeURIComponent(x.name)}`);
          setStatus(msg, r2.status === 200 ? `${x.name} deleted` : errorText(r2), r2.status === 200 ? "ok" : "bad");
          load();
        } }, "Delete")) : "" },
    ], r.body.rules.sort((a, b) => a.name.localeCompare(b.name)), "No rule.", { id: "al-rules" }));
  };
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { name: value(f, "name"), kind: value(f, "kind"), severity: value(f, "severity") };
    for (const k of ["for", "resolve_after"]) if (value(f, k)) body[k] = value(f, k);
    for (const k of ["threshold_bytes", "threshold_seconds", "threshold_count", "forecast_hours"])
      if (!f.querySelector(`[data-field="${k}"]`).hidden && value(f, k) !== "") body[k] = Number(value(f, k));
    for (const k of ["inactive_for", "window"])
      if (!f.querySelector(`[data-field="${k}"]`).hidden && value(f, k)) body[k] = value(f, k);
    const ch = value(f, "channels").split(",").map((s) => s.trim()).filter(Boolean);
    if (ch.length) body.channels = ch;
    const r = await api.post("/api/alerts/rules", body);
    showErrors(f, r);
    setStatus(msg, r.status === 201 ? `rule ${body.name} created` : errorText(r) +
      (r.body.error && r.body.error.fields ? ": " + r.body.error.fields.map((x) => `${x.field} ${x.message}`).join("; ") : ""),
    r.status === 201 ? "ok" : "bad");
    if (r.status === 201) { f.reset(); showFields(); load(); }
  });
  load();
  return [el("h2", {}, "Alert rules"), list, f, msg];
}

function channelsPart() {
  const msg = statusLine("alc-msg");
  const list = el("div", { id: "al-channels-box" }, loading());
  const f = el("form", { id: "channelform", class: "form", autocomplete: "off", "aria-label": "Add a channel", hidden: !state.can("admin") },
    el("h3", {}, "Add a channel"),
    el("div", { class: "grid" },
      field("name", "Name", { required: true, attrs: { pattern: "[A-Za-z0-9_.\\-]{1,64}", placeholder: "ops-webhook" } }),
      field("type", "Type", { options: ["webhook", "slack", "pagerduty", "alertmanager", "sns"].map((t) => [t, t]) }),
      field("url", "URL", { type: "url", attrs: { placeholder: "https://hooks.example.com/pgfleet" } }),
      field("topic_arn", "Topic ARN", { attrs: { pattern: "arn:.+", placeholder: "arn:aws:sns:us-east-1:123456789012:alerts" } }),
      field("secret", "Secret", { type: "password", autocomplete: "new-password" }),
      field("min_severity", "Minimum severity", { options: SEV })),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Add channel")));
  const showFields = () => {
    const t = value(f, "type");
    f.querySelector('[data-field="url"]').hidden = !["webhook", "alertmanager", "pagerduty"].includes(t);
    f.querySelector('[data-field="topic_arn"]').hidden = t !== "sns";
    f.querySelector('[data-field="secret"]').hidden = t === "sns" || t === "alertmanager";
    f.querySelector('[data-field="secret"] label').textContent =
      { webhook: "HMAC key (optional)", slack: "Incoming webhook URL", pagerduty: "Routing key" }[t] || "Secret";
  };
  f.elements.namedItem("type").addEventListener("change", showFields);
  showFields();
  const test = async (name) => {
    setStatus(msg, `sending a test notification through ${name}…`);
    const r = await api.post(`/api/alerts/channels/${encodeURIComponent(name)}/test`);
    if (r.status !== 200) { setStatus(msg, errorText(r), "bad"); return; }
    const last = r.body.attempts[r.body.attempts.length - 1] || {};
    setStatus(msg, `${name}: ${r.body.status}` + (last.http_status ? ` (HTTP ${last.http_status})` : "") +
      (last.error ? `: ${last.error}` : "") + (r.body.status === "pending" ? "; retrying, see the deliveries on Alerts" : ""),
    r.body.status === "delivered" ? "ok" : "bad");
  };
  const load = async () => {
    const r = await api.get("/api/alerts/channels");
    if (r.status !== 200) return;
    list.replaceChildren(table([
      { label: "Name", cell: (c) => c.name }, { label: "Type", cell: (c) => c.type },
      { label: "Where", cell: (c) => c.url || c.topic_arn || "(in the secret)" },
      { label: "Minimum severity", cell: (c) => c.min_severity }, { label: "Secret", cell: (c) => (c.has_secret ? "kept" : "") },
      { label: "", cell: (c) => state.can("admin") ? el("span", { class: "row-actions" },
        el("button", { type: "button", onclick: () => test(c.name) }, "Send test notification"),
        el("button", { type: "button", onclick: async () => {
          if (!confirm(`Delete channel ${c.name}?`)) return;
          const r2 = await api.del(`/api/alerts/channels/${encodeURIComponent(c.name)}`);
          setStatus(msg, r2.status === 200 ? `${c.name} deleted` : errorText(r2), r2.status === 200 ? "ok" : "bad");
          load();
        } }, "Delete")) : "" },
    ], r.body.channels, "No channel: alerts are shown here but sent nowhere. Add a webhook, Slack, PagerDuty, Alertmanager or SNS channel.",
    { id: "al-channels" }));
  };
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { name: value(f, "name"), type: value(f, "type"), min_severity: value(f, "min_severity") };
    for (const k of ["url", "topic_arn", "secret"])
      if (!f.querySelector(`[data-field="${k}"]`).hidden && value(f, k)) body[k] = value(f, k);
    const r = await api.post("/api/alerts/channels", body);
    f.elements.namedItem("secret").value = ""; // never kept in the page
    showErrors(f, r);
    setStatus(msg, r.status === 201 ? `channel ${body.name} created` : errorText(r) +
      (r.body.error && r.body.error.fields ? ": " + r.body.error.fields.map((x) => `${x.field} ${x.message}`).join("; ") : ""),
    r.status === 201 ? "ok" : "bad");
    if (r.status === 201) { f.reset(); showFields(); load(); }
  });
  load();
  return [el("h2", {}, "Notification channels"), list, f, msg];
}

function silencesPart() {
  const list = el("div", { id: "al-silences-box" }, loading());
  const load = async () => {
    const r = await api.get("/api/alerts/silences");
    if (r.status !== 200) return;
    list.replaceChildren(table([
      { label: "Matchers", cell: (s) => labels(s.match) }, { label: "Until", cell: (s) => when(s.until) },
      { label: "By", cell: (s) => `${s.created_by || ""}${s.comment ? " · " + s.comment : ""}` },
      { label: "", cell: (s) => state.can("operator") ? el("button", { type: "button", onclick: async () => {
        await api.del(`/api/alerts/silences/${encodeURIComponent(s.id)}`);
        load();
      } }, "End") : "" }], r.body.silences, "No silence.", { id: "al-silences" }));
  };
  load();
  return [el("h2", {}, "Silences"), list];
}

function sessionsPart() {
  const list = el("div", { id: "sessions-box" }, loading());
  const load = async () => {
    const r = await api.get("/api/sessions");
    if (r.status !== 200) { list.replaceChildren(el("p", { class: "error" }, errorText(r))); return; }
    list.replaceChildren(table([
      { label: "User", cell: (s) => s.user }, { label: "Role", cell: (s) => s.role }, { label: "Method", cell: (s) => s.method },
      { label: "Since", cell: (s) => when(s.created_at) }, { label: "Last seen", cell: (s) => when(s.last_seen) },
      { label: "", cell: (s) => el("button", { type: "button", onclick: async () => {
        await api.del(`/api/sessions/${encodeURIComponent(s.id)}`);
        load();
      } }, "Revoke") }], r.body.sessions || [], "No session."));
  };
  load();
  return [el("h2", {}, "Sessions"), list];
}

export default {
  title: "Settings",
  async mount(root) {
    root.append(el("h1", { tabindex: "-1" }, "Settings"), ...rulesPart(), ...channelsPart(), ...silencesPart(),
      ...(state.can("admin") ? sessionsPart() : []));
  },
};
