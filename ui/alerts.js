// Alerts: what fires now (with guidance, acknowledge, silence), the history of transitions,
// the deliveries with their attempts, and the rules, channels and silences behind them.
// Live through the WebSocket topic "alerts" (each transition as it happens).
const $ = (id) => document.getElementById(id);

let ctx; // {api, apiSend, mark, role}

const can = (want) => {
  const order = { viewer: 0, operator: 1, admin: 2 };
  return (order[ctx.role()] ?? -1) >= order[want];
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick") e.addEventListener("click", v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const labelText = (l) => Object.entries(l || {}).map(([k, v]) => `${k}=${v}`).join(", ");
const when = (t) => (t ? new Date(t * 1000).toLocaleString() : "");
const errText = (r) => (r.body && r.body.error
  ? r.body.error.message + (r.body.error.fields ? ": " + r.body.error.fields.map((f) => `${f.field} ${f.message}`).join("; ") : "")
  : `HTTP ${r.status}`);

function valueText(v) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "object") return String(v);
  return Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => `${k} ${typeof x === "number" ? +x.toFixed(2) : x}`).join(", ");
}

function guidanceBlock(g) {
  if (!g) return "";
  const d = el("details", {}, el("summary", {}, g.meaning || "guidance"));
  if (g.causes && g.causes.length) {
    d.append(el("p", {}, "Likely causes:"));
    d.append(el("ul", {}, ...g.causes.map((c) => el("li", {}, c))));
  }
  for (const a of g.actions || []) {
    d.append(el("p", {}, a.text));
    if (a.sql) d.append(el("pre", {}, a.sql));
    if (a.command) d.append(el("pre", {}, a.command));
    if (a.warning) d.append(el("p", { class: "warn" }, a.warning));
  }
  return d;
}

// ---- active ----
async function refreshActive() {
  const r = await ctx.api("/api/alerts");
  const tb = $("al-active").tBodies[0];
  tb.replaceChildren();
  if (r.status !== 200) {
    $("al-summary").textContent = errText(r);
    return;
  }
  const firing = r.body.alerts.filter((a) => a.state === "firing").length;
  $("al-summary").textContent = r.body.alerts.length
    ? `${firing} firing, ${r.body.alerts.length - firing} pending`
    : "nothing is firing";
  for (const a of r.body.alerts) {
    const row = tb.insertRow();
    row.dataset.id = a.id;
    const st = row.insertCell();
    ctx.mark(st, a.state !== "firing", a.state);
    if (a.state === "pending") st.className = "warn";
    row.insertCell().textContent = a.severity;
    row.insertCell().textContent = a.rule;
    row.insertCell().textContent = labelText(a.labels);
    row.insertCell().textContent = `${valueText(a.value)}${a.threshold ? " (over " + valueText(a.threshold) + ")" : ""}`;
    row.insertCell().textContent = when(a.since);
    row.insertCell().append(guidanceBlock(a.guidance));
    const act = row.insertCell();
    if (a.ack) act.append(el("span", { class: "muted" }, `acknowledged by ${a.ack.by} `));
    else if (a.state === "firing" && can("operator"))
      act.append(el("button", { type: "button", onclick: () => ack(a.id) }, "Acknowledge"));
    if (a.silenced_by) act.append(el("span", { class: "muted" }, ` silenced (${a.silenced_by}) `));
    else if (can("operator"))
      act.append(el("button", { type: "button", onclick: () => silence(a) }, "Silence 1h"));
  }
}

async function ack(id) {
  const r = await ctx.apiSend("POST", `/api/alerts/${encodeURIComponent(id)}/ack`, {});
  $("al-summary").textContent = r.status === 200 ? "acknowledged: no more repeats" : errText(r);
  refreshActive();
}

async function silence(a) {
  const match = { rule: a.rule, ...a.labels };
  const r = await ctx.apiSend("POST", "/api/alerts/silences", { match, for: "1h", comment: "from the alerts page" });
  $("al-summary").textContent = r.status === 201 ? `silenced for an hour (${r.body.id})` : errText(r);
  refreshActive();
  refreshSilences();
}

// ---- history and deliveries ----
async function refreshHistory() {
  const q = new URLSearchParams({ limit: "50" });
  if ($("alh-rule").value) q.set("rule", $("alh-rule").value);
  if ($("alh-state").value) q.set("state", $("alh-state").value);
  const r = await ctx.api(`/api/alerts/history?${q}`);
  const tb = $("al-history").tBodies[0];
  tb.replaceChildren();
  if (r.status !== 200) return;
  for (const t of r.body.transitions) addHistory(t, false);
}

function addHistory(t, atTop) {
  const tb = $("al-history").tBodies[0];
  const row = atTop ? tb.insertRow(0) : tb.insertRow();
  row.insertCell().textContent = t.ts || when(t.at);
  ctx.mark(row.insertCell(), t.state === "resolved", t.state);
  row.insertCell().textContent = t.rule;
  row.insertCell().textContent = labelText(t.labels);
  row.insertCell().textContent = valueText(t.value);
  row.insertCell().textContent = t.silenced ? "silenced" : "";
  while (tb.rows.length > 100) tb.deleteRow(tb.rows.length - 1);
}

async function refreshDeliveries() {
  const r = await ctx.api("/api/alerts/deliveries?limit=30");
  const tb = $("al-deliveries").tBodies[0];
  tb.replaceChildren();
  if (r.status !== 200) return;
  for (const d of r.body.deliveries) {
    const row = tb.insertRow();
    const last = d.attempts[d.attempts.length - 1] || {};
    row.insertCell().textContent = typeof last.at === "number" ? when(last.at) : last.at || "";
    row.insertCell().textContent = `${d.channel} (${d.type})`;
    ctx.mark(row.insertCell(), d.status === "delivered", d.status);
    row.insertCell().textContent = d.attempts
      .map((a) => (a.http_status ? `HTTP ${a.http_status}` : a.error || "sent")).join(" → ");
    row.insertCell().textContent = d.key || "";
  }
}

// ---- rules ----
const KIND_FIELDS = {
  replication_lag: ["threshold_bytes", "threshold_seconds"],
  edge_down: ["inactive_for"],
  slot_retention: ["threshold_bytes", "inactive_for"],
  slot_forecast: ["forecast_hours", "threshold_bytes"],
  database_down: [],
  log_events: ["threshold_count", "window"],
  migration_failed: [],
  stream_error: [],
  collector_stale: ["threshold_seconds"],
};

function ruleThresholds(r) {
  return ["threshold_bytes", "threshold_seconds", "threshold_count", "forecast_hours", "inactive_for", "window"]
    .filter((k) => r[k] !== undefined && (k !== "window" || r.kind === "log_events"))
    .map((k) => `${k.replace("threshold_", "")} ${r[k]}`).join(", ");
}

async function refreshRules() {
  const r = await ctx.api("/api/alerts/rules");
  const tb = $("al-rules").tBodies[0];
  tb.replaceChildren();
  if (r.status !== 200) return;
  const rules = $("alh-rule");
  const keep = rules.value;
  rules.replaceChildren(el("option", { value: "" }, "(every rule)"));
  for (const rule of r.body.rules.sort((x, y) => x.name.localeCompare(y.name))) {
    rules.append(el("option", { value: rule.name }, rule.name));
    const row = tb.insertRow();
    row.insertCell().textContent = rule.name + (rule.builtin ? " (built-in)" : "");
    row.insertCell().textContent = rule.kind;
    row.insertCell().textContent = rule.severity;
    row.insertCell().textContent = `${rule.for} / ${rule.resolve_after}`;
    row.insertCell().textContent = ruleThresholds(rule);
    row.insertCell().textContent = rule.channels.length ? rule.channels.join(", ") : "(by severity)";
    const en = row.insertCell();
    ctx.mark(en, rule.enabled, rule.enabled ? "on" : "off");
    const act = row.insertCell();
    if (can("admin")) {
      act.append(el("button", { type: "button", onclick: () => putRule({ ...rule, enabled: !rule.enabled }) },
        rule.enabled ? "Disable" : "Enable"));
      act.append(el("button", { type: "button", onclick: () => deleteThing("rules", rule.name) }, "Delete"));
    }
  }
  rules.value = keep;
}

async function putRule(rule) {
  const r = await ctx.apiSend("PUT", `/api/alerts/rules/${encodeURIComponent(rule.name)}`, rule);
  $("alr-msg").textContent = r.status === 200 ? `rule ${rule.name} saved` : errText(r);
  refreshRules();
}

async function deleteThing(what, name) {
  if (!confirm(`Delete ${what.slice(0, -1)} ${name}?`)) return;
  const r = await ctx.apiSend("DELETE", `/api/alerts/${what}/${encodeURIComponent(name)}`, {});
  $(what === "rules" ? "alr-msg" : "alc-msg").textContent = r.status === 200 ? `${name} deleted` : errText(r);
  if (what === "rules") refreshRules();
  else refreshChannels();
}

function showRuleFields() {
  const want = KIND_FIELDS[$("alr-kind").value] || [];
  for (const f of document.querySelectorAll("#ruleform [data-field]"))
    f.hidden = !want.includes(f.dataset.field);
}

function fieldErrors(form, r) {
  for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
  for (const f of (r.body.error && r.body.error.fields) || []) {
    const input = form.querySelector(`[name="${f.field.split(/[.[]/)[0]}"]`);
    if (input) input.setAttribute("aria-invalid", "true");
  }
}

async function submitRule(ev) {
  ev.preventDefault();
  const form = $("ruleform");
  const body = { name: form.name.value, kind: form.kind.value, severity: form.severity.value };
  if (form.for.value) body.for = form.for.value;
  if (form.resolve_after.value) body.resolve_after = form.resolve_after.value;
  for (const k of ["threshold_bytes", "threshold_seconds", "threshold_count", "forecast_hours"]) {
    const input = form[k];
    if (!input.closest("[data-field]").hidden && input.value !== "") body[k] = Number(input.value);
  }
  for (const k of ["inactive_for", "window"])
    if (!form[k].closest("[data-field]").hidden && form[k].value) body[k] = form[k].value;
  const ch = form.channels.value.split(",").map((s) => s.trim()).filter(Boolean);
  if (ch.length) body.channels = ch;
  const r = await ctx.apiSend("POST", "/api/alerts/rules", body);
  fieldErrors(form, r);
  $("alr-msg").textContent = r.status === 201 ? `rule ${body.name} created` : errText(r);
  if (r.status === 201) {
    form.reset();
    showRuleFields();
    refreshRules();
  }
}

// ---- channels ----
async function refreshChannels() {
  const r = await ctx.api("/api/alerts/channels");
  const tb = $("al-channels").tBodies[0];
  tb.replaceChildren();
  if (r.status !== 200) return;
  for (const c of r.body.channels) {
    const row = tb.insertRow();
    row.insertCell().textContent = c.name;
    row.insertCell().textContent = c.type;
    row.insertCell().textContent = c.url || c.topic_arn || "(in the secret)";
    row.insertCell().textContent = c.min_severity;
    row.insertCell().textContent = c.has_secret ? "set" : "";
    const act = row.insertCell();
    if (can("admin")) {
      act.append(el("button", { type: "button", onclick: () => testChannel(c.name) }, "Send test notification"));
      act.append(el("button", { type: "button", onclick: () => deleteThing("channels", c.name) }, "Delete"));
    }
  }
}

async function testChannel(name) {
  $("alc-msg").textContent = `sending a test notification through ${name}…`;
  const r = await ctx.apiSend("POST", `/api/alerts/channels/${encodeURIComponent(name)}/test`, {});
  if (r.status === 200) {
    const last = r.body.attempts[r.body.attempts.length - 1] || {};
    $("alc-msg").textContent = `${name}: ${r.body.status}` +
      (last.http_status ? ` (HTTP ${last.http_status})` : "") + (last.error ? `: ${last.error}` : "") +
      (r.body.status === "pending" ? "; retrying, see the deliveries" : "");
  } else {
    $("alc-msg").textContent = errText(r);
  }
  refreshDeliveries();
}

function showChannelFields() {
  const t = $("alc-type").value;
  $("alc-url-l").hidden = !["webhook", "alertmanager", "pagerduty"].includes(t);
  $("alc-arn-l").hidden = t !== "sns";
  $("alc-secret-l").hidden = t === "sns" || t === "alertmanager";
  $("alc-secret-what").textContent = { webhook: "HMAC key (optional)", slack: "incoming webhook URL",
    pagerduty: "routing key" }[t] || "secret";
  $("alc-url").required = ["webhook", "alertmanager"].includes(t);
  $("alc-arn").required = t === "sns";
  $("alc-secret").required = ["slack", "pagerduty"].includes(t);
}

async function submitChannel(ev) {
  ev.preventDefault();
  const form = $("channelform");
  const body = { name: form.name.value, type: form.type.value, min_severity: form.min_severity.value };
  if (!$("alc-url-l").hidden && form.url.value) body.url = form.url.value;
  if (!$("alc-arn-l").hidden && form.topic_arn.value) body.topic_arn = form.topic_arn.value;
  if (!$("alc-secret-l").hidden && form.secret.value) body.secret = form.secret.value;
  const r = await ctx.apiSend("POST", "/api/alerts/channels", body);
  fieldErrors(form, r);
  form.secret.value = ""; // never kept in the page
  $("alc-msg").textContent = r.status === 201 ? `channel ${body.name} created` : errText(r);
  if (r.status === 201) {
    form.reset();
    showChannelFields();
    refreshChannels();
  }
}

// ---- silences ----
async function refreshSilences() {
  const r = await ctx.api("/api/alerts/silences");
  const tb = $("al-silences").tBodies[0];
  tb.replaceChildren();
  if (r.status !== 200) return;
  for (const s of r.body.silences) {
    const row = tb.insertRow();
    row.insertCell().textContent = labelText(s.match);
    row.insertCell().textContent = when(s.until);
    row.insertCell().textContent = `${s.created_by || ""} ${s.comment ? "· " + s.comment : ""}`;
    const act = row.insertCell();
    if (can("operator"))
      act.append(el("button", { type: "button", onclick: async () => {
        await ctx.apiSend("DELETE", `/api/alerts/silences/${encodeURIComponent(s.id)}`, {});
        refreshSilences();
        refreshActive();
      } }, "End"));
  }
}

// a transition from the WebSocket: the tables follow
export function alertEvent(t) {
  addHistory(t, true);
  refreshActive();
  setTimeout(refreshDeliveries, 1500);
}

export function initAlerts(c) {
  ctx = c;
  $("alr-kind").addEventListener("change", showRuleFields);
  $("alc-type").addEventListener("change", showChannelFields);
  $("ruleform").addEventListener("submit", submitRule);
  $("channelform").addEventListener("submit", submitChannel);
  $("alh-rule").addEventListener("change", refreshHistory);
  $("alh-state").addEventListener("change", refreshHistory);
  $("ruleform").hidden = $("channelform").hidden = !can("admin");
  showRuleFields();
  showChannelFields();
  refreshActive();
  refreshHistory();
  refreshDeliveries();
  refreshRules();
  refreshChannels();
  refreshSilences();
  setInterval(refreshActive, 15000); // pending alerts change without a transition
}
