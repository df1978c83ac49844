// The API client: JSON in and out, the session's CSRF token on state changes, a 401 sends
// the browser to /login and back. Each call answers {status, body}; it never throws on an
// HTTP error (network errors become status 0).
let csrf = null;

export function setCsrf(token) {
  csrf = token;
}

export function toLogin() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`);
}

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    if (csrf) init.headers["X-CSRF-Token"] = csrf;
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { status: 0, body: { error: { message: "pgfleet cannot be reached", hint: "is the server running?" } } };
  }
  const out = await res.json().catch(() => ({}));
  if (res.status === 401 && path.startsWith("/api/")) toLogin();
  return { status: res.status, body: out };
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);
export const put = (path, body) => call("PUT", path, body);
export const del = (path) => call("DELETE", path);

// field errors of a 422, by the field's first path segment
export function fieldErrors(r) {
  const out = new Map();
  for (const f of (r.body && r.body.error && r.body.error.fields) || []) {
    const key = f.field.split(/[.[]/)[0];
    out.set(key, [...(out.get(key) || []), f.message]);
  }
  return out;
}
