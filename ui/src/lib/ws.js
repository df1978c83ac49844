// The WebSocket: one connection, reference-counted subscriptions (a topic is subscribed
// while one page holds it), resubscribed after a reconnect, one handler map by topic.
const handlers = new Map(); // topic -> Set(fn)
const counts = new Map(); // topic -> holders
let ws = null;
let open = false;
let retry = 1000;
const statusListeners = new Set();

function send(msg) {
  if (ws && open) ws.send(JSON.stringify(msg));
}

function setStatus(state, detail) {
  for (const fn of statusListeners) fn(state, detail);
}

export function onStatus(fn) {
  statusListeners.add(fn);
  return () => statusListeners.delete(fn);
}

export function connect(onAuthLost) {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${proto}://${location.host}/ws`);
  setStatus("connecting");
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.type === "welcome") {
      if (!msg.authenticated) { setStatus("unauthenticated"); return; }
      open = true;
      retry = 1000;
      setStatus("connected");
      const topics = [...counts.keys()];
      if (topics.length) send({ type: "subscribe", topics });
    } else if (msg.type === "event") {
      for (const fn of handlers.get(msg.topic) || []) fn(msg.data, msg);
    } else if (msg.type === "error") {
      setStatus("error", msg.error && msg.error.message);
    }
  };
  ws.onclose = () => {
    open = false;
    setStatus("reconnecting");
    if (onAuthLost) onAuthLost();
    setTimeout(() => connect(onAuthLost), retry);
    retry = Math.min(retry * 2, 15000);
  };
}

// holds topic and calls fn with each event's data; the returned function lets go
export function subscribe(topic, fn) {
  if (!handlers.has(topic)) handlers.set(topic, new Set());
  handlers.get(topic).add(fn);
  const n = (counts.get(topic) || 0) + 1;
  counts.set(topic, n);
  if (n === 1) send({ type: "subscribe", topics: [topic] });
  return () => {
    handlers.get(topic)?.delete(fn);
    const left = (counts.get(topic) || 1) - 1;
    if (left <= 0) {
      counts.delete(topic);
      send({ type: "unsubscribe", topics: [topic] });
    } else counts.set(topic, left);
  };
}
