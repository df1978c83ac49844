"""Helpers for the AWS tests: a moto server, the awstool driver, and small local
HTTP servers (a throttling proxy, ECS and IMDSv2 credential endpoints)."""
import json
import os
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

from conftest import ROOT, LineTool, free_port, wait_for

AWSTOOL = os.environ.get("PGFLEET_AWSTOOL", str(Path(os.environ.get("PGFLEET_BIN", ROOT / "build" / "pgfleet")).parent / "awstool"))
MOTO = str(ROOT / ".venv" / "bin" / "moto_server")
REGION = "us-east-1"
BASE_ENV = {"AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true"}


class Moto:
    def __init__(self, env=None):
        self.port = free_port()
        self.proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, **(env or {})})
        wait_for(self._up, timeout=30, what="moto server")

    def _up(self):
        urllib.request.urlopen(self.url + "/moto-api/", timeout=1)
        return True

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.url + "/moto-api/reset", method="POST"))

    def client(self, service, **kw):
        args = dict(endpoint_url=self.url, region_name=REGION, aws_access_key_id="testing",
                    aws_secret_access_key="testing")
        args.update(kw)
        return boto3.client(service, **args)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class AwsTool(LineTool):
    """pgfleet's AWS library behind a line protocol (tests/tools/awstool.c)."""

    def __init__(self, env, extra=None):
        super().__init__(AWSTOOL, {**env, **(extra or {})}, "AWS_")


class LocalServer:
    """A ThreadingHTTPServer on a free port running handler(self, method) -> (status, headers, body)."""

    def __init__(self, handler):
        outer = self
        self.requests = []

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _do(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                status, headers, out = handler(self, body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = _do

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def forward(moto_url, handler, body):
    """Sends the request the handler received on to moto; returns (status, headers, body)."""
    req = urllib.request.Request(moto_url + handler.path, data=body or None, method=handler.command)
    for k, v in handler.headers.items():
        if k.lower() not in ("host", "content-length", "connection"):
            req.add_header(k, v)
    req.add_header("Host", handler.headers["Host"])
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {"Content-Type": r.headers.get("Content-Type", "")}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {"Content-Type": e.headers.get("Content-Type", "")}, e.read()


def iso_in(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))
