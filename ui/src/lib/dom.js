// Small DOM helpers: elements from a tag, attributes and children; tables from rows.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// a status word with its colour class
export function badge(text, kind) {
  return el("span", { class: `badge ${kind || "muted"}` }, text);
}

// a table: columns [{label, cell: (row) => node|string}], with an empty-state message
export function table(columns, rows, empty, attrs = {}) {
  if (!rows.length) return el("p", { class: "empty" }, empty);
  return el("table", attrs,
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c.label)))),
    el("tbody", {}, rows.map((r) => el("tr", c0(r, columns), columns.map((c) => el("td", {}, c.cell(r)))))));
}

function c0(r, columns) {
  return columns.rowAttrs ? columns.rowAttrs(r) : {};
}

// a <section> with a heading, for a part of a page
export function section(title, ...children) {
  return el("section", { "aria-label": title }, el("h2", {}, title), ...children);
}

// a status line that screen readers announce
export function statusLine(id) {
  return el("p", { id, class: "status", role: "status", "aria-live": "polite" });
}

export function setStatus(node, text, kind) {
  node.textContent = text || "";
  node.className = `status ${kind || ""}`;
}

// what a list shows until its data arrives
export function loading() {
  return el("p", { class: "muted loading", role: "status" }, "loading…");
}
