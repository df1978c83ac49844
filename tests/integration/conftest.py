"""Fixtures that start real servers for the integration tests: Redis on a free
port, and the pgfleet daemon itself. Everything is stopped and removed after
each test, even when it fails. Ports come from scripts/freeport.py: outside the
kernel's ephemeral range, never 5432-5499 or 6379."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from freeport import free_port, free_port_run  # noqa: E402,F401  (one picker for tests and scripts)
PGFLEET_BIN = os.environ.get("PGFLEET_BIN", str(ROOT / "build" / "pgfleet"))
AUTH_KEY = "test-key-0123456789-abcdefghij"
JSON = {"Content-Type": "application/json"}

# Secrets the tests hand out (the API key, users' passwords, session ids): no daemon's log and
# no Redis value may ever hold one. Every daemon and every Redis is scanned when it stops.
SECRETS = {AUTH_KEY}

# every value in a Redis, in one call (no process per key)
_DUMP_LUA = """
local out = {}
for _, k in ipairs(redis.call('KEYS', '*')) do
  local t = redis.call('TYPE', k).ok
  local v
  if t == 'string' then v = {redis.call('GET', k)}
  elseif t == 'hash' then v = redis.call('HGETALL', k)
  elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
  elseif t == 'set' then v = redis.call('SMEMBERS', k)
  elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1)
  elseif t == 'stream' then
    v = {}
    for _, e in ipairs(redis.call('XRANGE', k, '-', '+')) do
      for _, f in ipairs(e[2]) do v[#v + 1] = f end
    end
  else v = {} end
  out[#out + 1] = k
  for _, x in ipairs(v) do out[#out + 1] = x end
end
return table.concat(out, '\\n')
"""


def leaked(text):
    """The first characters of each known secret found in text."""
    return sorted(s[:4] + "..." for s in SECRETS if s and s in text)


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except Exception as e:  # noqa: BLE001 - keep polling, report the last error
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}" + (f": {last}" if last else ""))


class RedisServer:
    def __init__(self, workdir, args=()):
        self.port = free_port()
        self.dir = Path(workdir)
        self.args = list(args)
        self.proc = None
        self.password = None

    def start(self):
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(self.dir), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._ping, what=f"redis on {self.port}")
        return self

    def _ping(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))

    def cli(self, *args):
        cmd = ["redis-cli", "-p", str(self.port)]
        if self.password:
            cmd += ["--no-auth-warning", "-a", self.password]
        return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=10).stdout

    def dump(self):
        """Every key and value, as text."""
        return self.cli("EVAL", _DUMP_LUA, "0")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"


class Pgfleet:
    """One `pgfleet serve` process with its own port and log file."""

    def __init__(self, workdir, env, binary=PGFLEET_BIN, wrapper=()):
        self.port = free_port()
        self.dir = Path(workdir)
        self.log_path = self.dir / f"pgfleet-{self.port}.log"
        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        # never the EC2 metadata address: tests that want IMDS point it at their own server
        base["AWS_EC2_METADATA_DISABLED"] = "true"
        self.env = {**base, "PGFLEET_LISTEN": f"127.0.0.1:{self.port}",
                    "PGFLEET_LOG_FORMAT": "json", "PGFLEET_LOG_LEVEL": "info", **env}
        self.env = {k: v for k, v in self.env.items() if v is not None}
        self.binary = binary
        self.wrapper = list(wrapper)
        self.proc = None

    def start(self, wait=True, timeout=10.0):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.wrapper + [self.binary, "serve"], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            wait_for(lambda: self.get("/healthz", timeout=0.5).status_code == 200,
                     timeout=timeout, what=f"pgfleet on {self.port}\n{self.logs()}")
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}/ws"

    def headers(self, auth=True, extra=None):
        h = {"Authorization": f"Bearer {AUTH_KEY}"} if auth else {}
        h.update(extra or {})
        return h

    def get(self, path, auth=False, **kw):
        kw.setdefault("timeout", 10)
        return requests.get(self.url + path, headers=self.headers(auth, kw.pop("headers", None)), **kw)

    def post(self, path, auth=True, **kw):
        kw.setdefault("timeout", 10)
        return requests.post(self.url + path, headers=self.headers(auth, kw.pop("headers", None)), **kw)

    def request(self, method, path, auth=True, **kw):
        kw.setdefault("timeout", 10)
        return requests.request(method, self.url + path,
                                headers=self.headers(auth, kw.pop("headers", None)), **kw)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends sig; returns (exit status, seconds until exit)."""
        if not self.proc:
            return None, 0.0
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        elapsed = time.monotonic() - t0
        self.log.close()
        self.proc = None
        return rc, elapsed

    def logs(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_records(self):
        out = []
        for line in self.logs().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="pgfleet-test-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def redis(workdir):
    r = RedisServer(workdir).start()
    yield r
    found = leaked(r.dump()) if r.proc and r.proc.poll() is None and not r.password else []
    r.stop()
    assert not found, f"secrets in Redis values: {found}"


@pytest.fixture
def daemon_factory(workdir):
    started = []

    def make(env=None, start=True, **kw):
        d = Pgfleet(workdir, env or {}, **kw)
        started.append(d)
        return d.start() if start else d

    yield make
    found, reports = [], []
    for d in started:
        d.stop(signal.SIGKILL if d.proc and d.proc.poll() is not None else signal.SIGTERM)
        logs = d.logs()
        found += leaked(logs)
        # a sanitizer report (leak, overflow, undefined behaviour) fails the test that caused it
        reports += [line for line in logs.splitlines()
                    if "ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line
                    or "runtime error:" in line][:3]
    assert not found, f"secrets in a daemon's log: {found}"
    assert not reports, f"sanitizer reports in a daemon's log: {reports}"


@pytest.fixture
def daemon(daemon_factory, redis):
    """A daemon with AUTH_KEY set and a live Redis."""
    return daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url,
                           "PGFLEET_HEARTBEAT_SECONDS": "1"})


class LineTool:
    """A C test driver (tests/tools/*) speaking one command per line in, one JSON line out."""

    def __init__(self, binary, env, drop_prefix):
        e = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefix)}
        e.update({k: str(v) for k, v in env.items() if v is not None})
        self.proc = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=e)

    def __call__(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.readline()
        if not out:
            raise AssertionError("test driver died: " + self.proc.stderr.read())
        return json.loads(out)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            rc = self.proc.wait(10)
            err = self.proc.stderr.read()
            assert rc == 0, err
            assert "AddressSanitizer" not in err and "runtime error" not in err, err


@pytest.fixture(scope="module")
def pg_servers():
    """PostgreSQL servers for a whole module: pg_servers(settings=..., hba=...) starts one,
    pg_servers.standby_of(upstream, slot, user, password) makes a standby; every one is
    destroyed at the module's end, also when a test or the set-up failed."""
    from pghelp import PgServers
    servers = PgServers()
    try:
        yield servers
    finally:
        servers.destroy()


@pytest.fixture
def pg_server():
    """The same, for one test."""
    from pghelp import PgServers
    servers = PgServers()
    try:
        yield servers
    finally:
        servers.destroy()


def register_db(d, ident, server=None, dbname="postgres", user="postgres", port=None, env=None,
                password=None, credentials=None, expect=201, **extra):
    """Registers a database with the daemon d (POST /api/databases) as a user would:
    credentials from an environment variable (env), a password, or given whole; extra
    members (logs, aws, tags ...) as they are. Asserts the status when expect is set."""
    if credentials is None:
        credentials = ({"source": "env", "env": env} if env else
                       {"source": "password", "password": password} if password else
                       {"source": "env", "env": "PGFLEET_DB_TEST_NO_PASSWORD"})
    body = {"id": ident, "name": ident, "host": "127.0.0.1",
            "port": port or (server.port if server else free_port()), "dbname": dbname,
            "user": user, "credentials": credentials, **extra}
    r = d.post("/api/databases", data=json.dumps(body), headers=JSON, timeout=60)
    if expect:
        assert r.status_code == expect, r.text
    return r


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's, driven by Playwright; no browser is downloaded)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium",
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def moto():
    """A moto server for the module's tests (reset by the tests that need a clean one)."""
    from awshelp import Moto
    m = Moto()
    yield m
    m.stop()


def make_tls_material(d, cn="127.0.0.1", san="IP:127.0.0.1"):
    """A CA (ca.crt) and a server certificate (server.crt/.key) it signed, in folder d."""
    d = Path(d)

    def ossl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=pgfleet test CA",
         "-keyout", "ca.key", "-out", "ca.crt")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", "server.key",
         "-out", "server.csr")
    (d / "ext.cnf").write_text(f"subjectAltName={san}\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "1", "-extfile", "ext.cnf", "-out", "server.crt")
    return d
