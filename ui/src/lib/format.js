// Numbers and times as people read them.
export function bytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "unknown";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let u = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && u < 4) { v /= 1024; u++; }
  return u ? `${v.toFixed(1)} ${units[u]}` : `${v} B`;
}

export function seconds(s) {
  if (typeof s !== "number" || !Number.isFinite(s)) return "";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function when(t) {
  if (t === null || t === undefined || t === "") return "";
  const d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

export function labels(l) {
  return Object.entries(l || {}).map(([k, v]) => `${k}=${v}`).join(", ");
}

// an API error as one line: message (hint)
export function errorText(r) {
  const e = r && r.body && r.body.error;
  if (!e) return r ? `HTTP ${r.status}` : "no answer";
  return e.message + (e.hint ? ` (${e.hint})` : "");
}
