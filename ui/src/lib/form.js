// Forms: labelled inputs, and the API's validation errors shown next to their field.
import { el } from "./dom.js";

let seq = 0;

// a labelled control; opts: {type, value, required, options: [[value, text]], hint, attrs}
export function field(name, label, opts = {}) {
  const id = `f-${name.replace(/\W/g, "-")}-${++seq}`;
  let input;
  if (opts.options) {
    input = el("select", { id, name, ...opts.attrs },
      opts.options.map(([v, t]) => el("option", { value: v, selected: String(v) === String(opts.value ?? "") }, t)));
  } else if (opts.type === "textarea") {
    input = el("textarea", { id, name, rows: opts.rows || 4, ...opts.attrs }, opts.value ?? "");
  } else {
    input = el("input", { id, name, type: opts.type || "text", value: opts.value ?? "", required: opts.required,
      autocomplete: opts.autocomplete || "off", ...opts.attrs });
    if (opts.type === "checkbox") input.checked = !!opts.value;
  }
  const err = el("span", { class: "field-error", id: `${id}-err`, "aria-live": "polite" });
  input.setAttribute("aria-describedby", `${id}-err`);
  const wrap = el("div", { class: `field ${opts.type === "checkbox" ? "check" : ""}`, dataset: { field: name } },
    opts.type === "checkbox" ? el("label", { for: id }, input, ` ${label}`) : [el("label", { for: id }, label), input],
    opts.hint ? el("small", { class: "muted" }, opts.hint) : null, err);
  return wrap;
}

export function value(form, name) {
  const i = form.elements.namedItem(name);
  if (!i) return undefined;
  return i.type === "checkbox" ? i.checked : i.value;
}

// marks each field the API named (first path segment), clears the others; true when any
export function showErrors(form, r, map = (f) => f) {
  for (const w of form.querySelectorAll(".field")) {
    w.querySelector(".field-error").textContent = "";
    const i = w.querySelector("input, select, textarea");
    if (i) i.removeAttribute("aria-invalid");
  }
  const fields = (r && r.body && r.body.error && r.body.error.fields) || [];
  let any = false;
  for (const f of fields) {
    const key = map(f.field);
    const w = form.querySelector(`.field[data-field="${CSS.escape(key)}"]`) ||
      form.querySelector(`.field[data-field="${CSS.escape(key.split(/[.[]/)[0])}"]`);
    if (!w) continue;
    any = true;
    const i = w.querySelector("input, select, textarea");
    if (i) i.setAttribute("aria-invalid", "true");
    const e = w.querySelector(".field-error");
    e.textContent = (e.textContent ? e.textContent + "; " : "") + f.message;
  }
  return any;
}
