// The router: #/<page>[/<detail>] shows that page's module; the others are unmounted (their
// subscriptions and timers let go). "#alerts" (an old link) is "#/alerts".
const pages = new Map();
let current = null;
let root = null;
let onChange = null;

export function register(name, page) {
  pages.set(name, page);
}

export function route() {
  const h = location.hash.replace(/^#\/?/, "");
  const [name, ...rest] = h.split("/");
  return { name: pages.has(name) ? name : "overview", detail: rest.map(decodeURIComponent).join("/") };
}

export function go(name, detail) {
  const target = `#/${name}${detail ? "/" + encodeURIComponent(detail) : ""}`;
  if (location.hash !== target) location.hash = target;
  else show();
}

export async function show() {
  const { name, detail } = route();
  const page = pages.get(name);
  if (current && current.name === name && page.update) {
    page.update(detail);
    return;
  }
  if (current && current.page.unmount) current.page.unmount();
  root.replaceChildren();
  current = { name, page };
  document.title = `${page.title} · pgfleet`;
  if (onChange) onChange(name);
  await page.mount(root, detail);
  const h = root.querySelector("h1");
  if (h) h.focus({ preventScroll: true });
}

export function start(mainEl, changed) {
  root = mainEl;
  onChange = changed;
  window.addEventListener("hashchange", show);
  return show();
}
