#!/usr/bin/env python3
"""A webhook receiver for `make run`: keeps what pgfleet's alert channels post to it
and shows it, newest first.

  webhook_sink.py --port P [--secret S]

  POST /hook        a notification (any JSON); its X-Pgfleet-Signature is checked when
                    --secret is given ("ok", "bad" or "none" in the list)
  GET  /            the messages received, as a page that refreshes itself
  GET  /messages    the same as JSON
"""
import argparse
import hashlib
import hmac
import html
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MESSAGES = []
LOCK = threading.Lock()


def handler(secret):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def send(self, status, body, ctype):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            sig = self.headers.get("X-Pgfleet-Signature")
            check = "none"
            if secret and sig:
                want = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
                check = "ok" if hmac.compare_digest(want, sig) else "bad"
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            with LOCK:
                MESSAGES.append({"at": time.strftime("%H:%M:%S"), "path": self.path,
                                 "signature": check, "body": body})
                del MESSAGES[:-200]
            self.send(200, b'{"ok":true}', "application/json")

        def do_GET(self):
            with LOCK:
                msgs = list(reversed(MESSAGES))
            if self.path.startswith("/messages"):
                return self.send(200, json.dumps(msgs).encode(), "application/json")
            rows = "".join(
                f"<tr><td>{m['at']}</td><td>{html.escape(str(m['body'].get('status', '') if isinstance(m['body'], dict) else ''))}"
                f"</td><td><pre>{html.escape(json.dumps(m['body'], indent=1)[:3000])}</pre></td></tr>"
                for m in msgs)
            page = (f"<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=5>"
                    f"<title>webhook sink</title><h1>Notifications received ({len(msgs)})</h1>"
                    f"<table border=1 cellpadding=4><tr><th>time</th><th>status</th><th>body</th></tr>"
                    f"{rows}</table>")
            self.send(200, page.encode(), "text/html; charset=utf-8")
    return H


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--secret")
    args = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), handler(args.secret))
    print(f"webhook sink on http://127.0.0.1:{args.port}/", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
