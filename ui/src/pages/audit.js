// Audit: who did what, when, from where (admin), with filters.
import * as api from "../lib/api.js";
import { badge, el, loading, setStatus, statusLine, table } from "../lib/dom.js";
import { errorText } from "../lib/format.js";

export default {
  title: "Audit",
  role: "admin",
  async mount(root) {
    const user = el("input", { id: "au-user", size: 16 });
    const action = el("input", { id: "au-action", size: 18, placeholder: "database. or login" });
    const list = el("div", { id: "audit" }, loading());
    const status = statusLine("au-status");
    root.append(el("h1", { tabindex: "-1" }, "Audit trail"),
      el("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); load(); } },
        el("label", {}, "User ", user), el("label", {}, "Action ", action), el("button", { type: "submit" }, "Filter")),
      status, list);
    const load = async () => {
      const q = new URLSearchParams({ limit: "200" });
      if (user.value.trim()) q.set("user", user.value.trim());
      if (action.value.trim()) q.set("action", action.value.trim());
      const r = await api.get(`/api/audit?${q}`);
      if (r.status !== 200) { setStatus(status, errorText(r), "bad"); return; }
      setStatus(status, `${r.body.entries.length} entries, newest first`);
      list.replaceChildren(table([
        { label: "Time", cell: (e) => e.ts || e.time || "" }, { label: "User", cell: (e) => e.user },
        { label: "Role", cell: (e) => e.role || "" }, { label: "Action", cell: (e) => e.action },
        { label: "Target", cell: (e) => e.target || "" },
        { label: "Result", cell: (e) => badge(e.result, e.result === "ok" ? "ok" : "bad") },
        { label: "Address", cell: (e) => e.address || "" }], r.body.entries, "Nothing recorded yet."));
    };
    load();
  },
};
