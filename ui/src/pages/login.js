import "../style.css";
// pgfleet sign-in page: offers the methods the server has (GET /auth/methods),
// posts to /auth/login, and goes back to where the user was (?next=, same site only).
const $ = (id) => document.getElementById(id);

function nextPath() {
  const n = new URLSearchParams(location.search).get("next") || "/";
  // only a path on this site: never //host or /\host
  return /^\/(?![/\\])/.test(n) ? n : "/";
}

function showError(body, status) {
  const e = body && body.error;
  let text = e ? e.message : `HTTP ${status}`;
  if (e && e.hint) text += ` (${e.hint})`;
  $("login-error").textContent = text;
}

async function signIn(payload) {
  $("login-error").textContent = "";
  const res = await fetch("/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
  const body = await res.json().catch(() => ({}));
  if (res.status === 200) {
    location.replace(nextPath());
    return true;
  }
  showError(body, res.status);
  return false;
}

$("password-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const ok = await signIn({ method: "password", username: $("username").value, password: $("password").value });
  if (!ok) $("password").value = "";
});

$("key-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const ok = await signIn({ method: "api_key", key: $("apikey").value });
  if (!ok) $("apikey").value = "";
});

async function start() {
  // /login#key=... (what `make run` prints): the fragment never reaches the server's logs
  if (location.hash.startsWith("#key=")) {
    const key = decodeURIComponent(location.hash.slice(5));
    history.replaceState(null, "", location.pathname + location.search);
    if (await signIn({ method: "api_key", key })) return;
  }
  const res = await fetch("/auth/methods");
  const m = await res.json().catch(() => ({ methods: [] }));
  if (m.open) {
    $("login-status").innerHTML = "";
    $("login-status").append("No sign-in is configured: every caller on this loopback address is admin. ");
    const a = document.createElement("a");
    a.href = nextPath();
    a.textContent = "Continue";
    $("login-status").append(a);
    return;
  }
  const ids = new Set((m.methods || []).map((x) => x.id));
  $("password-form").hidden = !ids.has("password");
  $("key-form").hidden = !ids.has("api_key");
  $("login-status").textContent = ids.size ? "" : "No sign-in method is available; ask an admin.";
  const out = new URLSearchParams(location.search).get("signed_out");
  for (const x of m.methods || []) {
    if (out && x.id === out && x.logout_url) {
      const p = document.createElement("p");
      const a = document.createElement("a");
      a.href = x.logout_url;
      a.id = "provider-logout";
      a.textContent = `Sign out of ${x.label} too`;
      p.append("You are signed out of pgfleet. ", a);
      $("sso-buttons").before(p);
    }
    if (x.url) {
      const b = document.createElement("a");
      b.href = `${x.url}?next=${encodeURIComponent(nextPath())}`;
      b.className = "button";
      b.id = `sso-${x.id}`;
      b.textContent = x.label;
      $("sso-buttons").append(b);
    }
  }
  if (ids.has("password")) $("username").focus();
  else if (ids.has("api_key")) $("apikey").focus();
}

start();
