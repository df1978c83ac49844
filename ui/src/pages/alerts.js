// Alerts: what is pending or firing, with guidance, acknowledge and silence; the history of
// transitions; the deliveries and each attempt. Live on the topic "alerts".
import * as api from "../lib/api.js";
import { badge, el, loading, setStatus, statusLine, table } from "../lib/dom.js";
import { errorText, labels, when } from "../lib/format.js";
import * as state from "../lib/state.js";
import { subscribe } from "../lib/ws.js";

let off = [];
let timer = null;

export function valueText(v) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "object") return String(v);
  return Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => `${k} ${typeof x === "number" ? +x.toFixed(2) : x}`).join(", ");
}

function guidance(g) {
  if (!g) return "";
  return el("details", {}, el("summary", {}, g.meaning || "guidance"),
    g.causes && g.causes.length ? [el("p", {}, "Likely causes:"), el("ul", {}, g.causes.map((c) => el("li", {}, c)))] : null,
    (g.actions || []).map((a) => [el("p", {}, a.text), a.sql ? el("pre", {}, a.sql) : null,
      a.command ? el("pre", {}, a.command) : null, a.warning ? el("p", { class: "warn" }, a.warning) : null]));
}

export default {
  title: "Alerts",
  async mount(root) {
    const summary = statusLine("al-summary");
    const active = el("div", { id: "al-active-box" }, loading());
    const rule = el("select", { id: "alh-rule" }, el("option", { value: "" }, "(every rule)"));
    const st = el("select", { id: "alh-state" }, ["", "firing", "resolved"].map((s) => el("option", { value: s }, s || "(any)")));
    const history = el("div", { id: "al-history-box" }, loading());
    const deliveries = el("div", { id: "al-deliveries-box" }, loading());
    root.append(el("h1", { tabindex: "-1" }, "Alerts"), summary, active,
      el("h2", {}, "History"), el("div", { class: "toolbar" }, el("label", {}, "Rule ", rule), el("label", {}, "State ", st)), history,
      el("h2", {}, "Deliveries"), deliveries,
      el("p", { class: "muted" }, "Rules, channels and silences are on ", el("a", { href: "#/settings" }, "Settings"), "."));

    const ack = async (id) => {
      const r = await api.post(`/api/alerts/${encodeURIComponent(id)}/ack`);
      setStatus(summary, r.status === 200 ? "acknowledged: no more repeats" : errorText(r), r.status === 200 ? "ok" : "bad");
      loadActive();
    };
    const silence = async (a) => {
      const r = await api.post("/api/alerts/silences", { match: { rule: a.rule, ...a.labels }, for: "1h", comment: "from the alerts page" });
      setStatus(summary, r.status === 201 ? `silenced for an hour (${r.body.id})` : errorText(r), r.status === 201 ? "ok" : "bad");
      loadActive();
    };
    const loadActive = async () => {
      const r = await api.get("/api/alerts");
      if (r.status !== 200) { setStatus(summary, errorText(r), "bad"); return; }
      const nf = r.body.alerts.filter((a) => a.state === "firing").length;
      if (!summary.className.includes("ok") && !summary.className.includes("bad"))
        summary.textContent = r.body.alerts.length ? `${nf} firing, ${r.body.alerts.length - nf} pending` : "";
      const cols = [
        { label: "State", cell: (a) => badge(a.state, a.state === "firing" ? "bad" : "warn") },
        { label: "Severity", cell: (a) => a.severity }, { label: "Rule", cell: (a) => a.rule },
        { label: "Labels", cell: (a) => labels(a.labels) },
        { label: "Value", cell: (a) => `${valueText(a.value)}${a.threshold ? " (over " + valueText(a.threshold) + ")" : ""}` },
        { label: "Since", cell: (a) => when(a.since) }, { label: "Guidance", cell: (a) => guidance(a.guidance) },
        { label: "", cell: (a) => el("span", { class: "row-actions" },
          a.ack ? el("span", { class: "muted" }, `acknowledged by ${a.ack.by} `)
            : a.state === "firing" && state.can("operator") ? el("button", { type: "button", onclick: () => ack(a.id) }, "Acknowledge") : null,
          a.silenced_by ? el("span", { class: "muted" }, ` silenced (${a.silenced_by}) `)
            : state.can("operator") ? el("button", { type: "button", onclick: () => silence(a) }, "Silence 1h") : null) },
      ];
      active.replaceChildren(table(cols, r.body.alerts, "Nothing is pending or firing.", { id: "al-active" }));
    };
    const loadHistory = async () => {
      const q = new URLSearchParams({ limit: "50" });
      if (rule.value) q.set("rule", rule.value);
      if (st.value) q.set("state", st.value);
      const r = await api.get(`/api/alerts/history?${q}`);
      if (r.status !== 200) return;
      history.replaceChildren(table([
        { label: "Time", cell: (t) => t.ts || when(t.at) }, { label: "State", cell: (t) => badge(t.state, t.state === "resolved" ? "ok" : "bad") },
        { label: "Rule", cell: (t) => t.rule }, { label: "Labels", cell: (t) => labels(t.labels) },
        { label: "Value", cell: (t) => valueText(t.value) }, { label: "", cell: (t) => (t.silenced ? "silenced" : "") }],
      r.body.transitions, "No alert has fired.", { id: "al-history" }));
    };
    const loadDeliveries = async () => {
      const r = await api.get("/api/alerts/deliveries?limit=30");
      if (r.status !== 200) return;
      deliveries.replaceChildren(table([
        { label: "Last attempt", cell: (d) => { const l = d.attempts[d.attempts.length - 1] || {}; return typeof l.at === "number" ? when(l.at) : l.at || ""; } },
        { label: "Channel", cell: (d) => `${d.channel} (${d.type})` },
        { label: "Status", cell: (d) => badge(d.status, d.status === "delivered" ? "ok" : d.status === "pending" ? "warn" : "bad") },
        { label: "Attempts", cell: (d) => d.attempts.map((a) => (a.http_status ? `HTTP ${a.http_status}` : a.error || "sent")).join(" → ") },
        { label: "Group", cell: (d) => d.key || "" }], r.body.deliveries, "Nothing sent yet.", { id: "al-deliveries" }));
    };
    const rules = await api.get("/api/alerts/rules");
    if (rules.status === 200)
      for (const x of rules.body.rules.sort((a, b) => a.name.localeCompare(b.name))) rule.append(el("option", { value: x.name }, x.name));
    rule.addEventListener("change", loadHistory);
    st.addEventListener("change", loadHistory);
    off = [subscribe("alerts", () => {
      loadActive();
      loadHistory();
      setTimeout(loadDeliveries, 1500);
    })];
    timer = setInterval(loadActive, 15000); // pending alerts change without a transition
    await Promise.all([loadActive(), loadHistory(), loadDeliveries()]);
  },
  unmount() {
    off.forEach((f) => f());
    off = [];
    clearInterval(timer);
  },
};
