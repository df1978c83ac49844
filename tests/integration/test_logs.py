"""Log sources in the daemon: a PostgreSQL log file followed across rotation and
truncation (stderr and csvlog), and RDS logs through DescribeDBLogFiles +
DownloadDBLogFilePortion answered from recorded responses."""
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import pytest

from awshelp import BASE_ENV
from conftest import AUTH_KEY, JSON, register_db, wait_for

DATA = os.path.join(os.path.dirname(__file__), "data", "rds")

# lines as PostgreSQL 15 writes them with Debian's log_line_prefix '%m [%p] %q%u@%d '
SLOT_GONE = ('2026-11-26 15:10:01.120 UTC [4242] FATAL:  could not start WAL streaming: ERROR:  '
             'replication slot "standby9_slot" does not exist\n')
WAL_GONE = ('2026-11-26 15:10:02.500 UTC [4243] FATAL:  could not receive data from WAL stream: '
            'ERROR:  requested WAL segment 00000001000000000000000A has already been removed\n')
NOISE = "2026-11-26 15:10:03.000 UTC [77] LOG:  checkpoint starting: time\n"


def register(d, ident, logs, port=None, **extra):
    return register_db(d, ident, port=port, user="monitor", env="PGFLEET_DB_NOPE", expect=None, logs=logs, **extra)


def source(d, ident):
    """The status of the database's log file source (offset read, bytes waiting, error)."""
    return d.get(f"/api/databases/{ident}", auth=True).json()["log_sources"][0]


def events(d, **q):
    qs = urllib.parse.urlencode(q)
    r = d.get("/api/replication/events" + ("?" + qs if qs else ""), auth=True)
    assert r.status_code == 200, r.text
    return r.json()["events"]


def test_log_file_followed_across_rotation_and_truncation(daemon_factory, redis, workdir):
    log = os.path.join(workdir, "postgresql.log")
    with open(log, "w") as f:
        f.write(SLOT_GONE)  # already there at start: not replayed
    d = daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url,
                        "PGFLEET_LOG_POLL_MS": "100", "PGFLEET_LOG_DIRS": workdir})
    assert register(d, "app", {"file": log}).status_code == 201
    port = d.get("/api/databases/app", auth=True).json()["port"]
    node = f"127.0.0.1:{port}"
    # it starts at the end of what is there (not replayed)
    wait_for(lambda: source(d, "app")["offset"] == len(SLOT_GONE), timeout=5, what="the file opened")
    with open(log, "a") as f:
        f.write(NOISE)
        f.write(WAL_GONE[:60])  # half a line: nothing until the rest arrives
    wait_for(lambda: source(d, "app")["offset"] == os.path.getsize(log), timeout=5,
             what="the appended bytes read")
    assert source(d, "app")["pending_bytes"] == 60 and source(d, "app")["events"] == 0
    assert events(d) == []
    with open(log, "a") as f:
        f.write(WAL_GONE[60:])
    wait_for(lambda: len(events(d)) == 1, timeout=5, what="the WAL event")
    ev = events(d)[0]
    assert ev["kind"] == "wal_removed" and ev["node"] == node and ev["database_id"] == "app"
    assert ev["severity"] == "critical" and "wal_keep_size" in ev["hint"] or "slot" in ev["hint"]
    assert ev["time"] == "2026-11-26 15:10:02.500 UTC" and ev["id"] and ev["received_at"]

    # logrotate's create mode: the old file is renamed; what is written to it before the
    # server reopens its log still counts, then the new file is read from its start
    os.rename(log, log + ".1")
    with open(log + ".1", "a") as f:
        f.write(SLOT_GONE.replace("15:10:01", "15:11:00"))
    with open(log, "w") as f:
        f.write(SLOT_GONE.replace("15:10:01", "15:11:01").replace("standby9", "standby8"))
    wait_for(lambda: len(events(d)) == 3, timeout=5, what="events across rotation")
    got = events(d)
    assert [e["kind"] for e in got] == ["slot_missing", "slot_missing", "wal_removed"]
    assert [e["object"] for e in got[:2]] == ["standby8_slot", "standby9_slot"]

    # copytruncate: the file shrinks; it is read again from its start
    with open(log, "w") as f:
        f.write(WAL_GONE.replace("15:10:02", "15:12:00"))
    wait_for(lambda: len(events(d)) == 4, timeout=5, what="event after truncation")
    assert events(d, limit=1)[0]["time"].startswith("2026-11-26 15:12:00")
    assert len(events(d, node=node, severity="critical")) == 4
    assert events(d, node="10.9.9.9:5432") == []
    assert d.get("/api/replication/events?limit=5000", auth=True).status_code == 422
    # a bad path is refused when registering, and a relative one too
    r = register(d, "rel", {"file": "logs/postgresql.log"})
    assert r.status_code == 422 and "absolute" in r.text
    assert register(d, "fmt", {"file": log, "format": "xml"}).status_code == 422


def test_csvlog_records_spanning_lines_and_a_missing_file(daemon_factory, redis, workdir):
    log = os.path.join(workdir, "postgresql.csv")
    d = daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url,
                        "PGFLEET_LOG_POLL_MS": "100", "PGFLEET_LOG_DIRS": workdir})
    assert register(d, "rep", {"file": log}).status_code == 201  # not there yet
    wait_for(lambda: "cannot open" in d.logs(), timeout=5, what="the missing file reported")
    assert "cannot open" in (source(d, "rep")["error"] or "")
    rec = ('2026-11-26 15:20:00.000 UTC,"postgres","reporting",1234,"127.0.0.1:5000",6561ab.4d2,1,'
           '"idle",2026-11-26 15:00:00 UTC,3/7,0,ERROR,23505,"duplicate key value violates unique '
           'constraint ""orders_pkey""","Key (id)=(1) already exists.\nsecond line",,,,'
           '"processing remote data",,,,"","logical replication worker",,0\n')
    with open(log, "w") as f:  # a file that appears later is new: read from its start
        f.write(rec)
    wait_for(lambda: len(events(d)) == 1, timeout=5, what="the csvlog event")
    ev = events(d)[0]
    assert ev["kind"] == "apply_conflict" and ev["object"] == "orders_pkey" and ev["database"] == "reporting"


RDS_OLD = ("2026-11-26 14:00:00 UTC::@:[400]:LOG:  logical replication subscription \"s\" has been "
           "disabled because of an error\n")
RDS_NEW = ("2026-11-26 15:00:02 UTC:10.0.1.5(51234):repl@postgres:[4321]:ERROR:  requested WAL "
           "segment 000000010000000000000003 has already been removed\n")
RDS_ROTATED = ("2026-11-26 16:00:05 UTC:10.0.1.5(51240):repl@postgres:[4400]:ERROR:  replication "
               "slot \"orders_slot\" does not exist\n")


class RecordedRds:
    """Answers DescribeDBLogFiles and DownloadDBLogFilePortion from the recorded XML."""

    def __init__(self):
        self.files = [("error/postgresql.log.2026-11-26-13", 1764162000000),
                      ("error/postgresql.log.2026-11-26-14", 1764165600000)]
        self.portions = {("error/postgresql.log.2026-11-26-14", "0"): (RDS_OLD, "14:900"),
                         ("error/postgresql.log.2026-11-26-14", "14:900"): (RDS_NEW, "14:1100"),
                         ("error/postgresql.log.2026-11-26-14", "14:1100"): ("", "14:1100"),
                         ("error/postgresql.log.2026-11-26-15", "0"): (RDS_ROTATED, "15:120"),
                         ("error/postgresql.log.2026-11-26-15", "15:120"): ("", "15:120")}
        self.calls = []
        self.describe = open(os.path.join(DATA, "describe_log_files.xml")).read()
        self.download = open(os.path.join(DATA, "download_log_portion.xml")).read()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                q = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
                outer.calls.append(q)
                assert self.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
                if q["Action"] in ("DescribeDBInstances", "DescribeDBClusters"):  # the topology sweep
                    a, lst = q["Action"], q["Action"][8:]
                    out = f"<{a}Response><{a}Result><{lst}/></{a}Result></{a}Response>"
                elif q["Action"] == "DescribeDBLogFiles":
                    files = "".join(f"<DescribeDBLogFilesDetails><LastWritten>{t}</LastWritten><LogFileName>"
                                    f"{n}</LogFileName><Size>1000</Size></DescribeDBLogFilesDetails>"
                                    for n, t in outer.files)
                    out = outer.describe.replace("{{FILES}}", files)
                else:
                    data, marker = outer.portions[(q["LogFileName"], q["Marker"])]
                    out = (outer.download.replace("{{DATA}}", escape(data))
                           .replace("{{PENDING}}", "false").replace("{{MARKER}}", marker))
                raw = out.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"

    def close(self):
        self.srv.shutdown()


def test_rds_logs_from_recorded_responses(daemon_factory, redis):
    if not os.path.exists(os.path.join(DATA, "download_log_portion.xml")):
        pytest.fail(f"recorded RDS responses missing in {DATA}")
    rds = RecordedRds()
    try:
        d = daemon_factory({**BASE_ENV, "AWS_ENDPOINT_URL_RDS": rds.url, "AUTH_KEY": AUTH_KEY,
                            "PGFLEET_REDIS_URL": redis.url, "PGFLEET_RDS_LOG_POLL_SECONDS": "1"})
        r = register(d, "orders", {"rds": True}, aws={"rds_instance_id": "orders-primary"})
        assert r.status_code == 201, r.text
        # the file found at start is skipped to its end; what comes after is read
        wait_for(lambda: len(events(d)) == 1, timeout=10, what="the RDS event")
        ev = events(d)[0]
        assert ev["kind"] == "wal_removed" and ev["source"] == {"kind": "rds", "name": "orders-primary"}
        assert ev["pid"] == 4321
        # rotation: a newer file is read from its start
        rds.files.append(("error/postgresql.log.2026-11-26-15", 1764169200000))
        wait_for(lambda: len(events(d)) == 2, timeout=10, what="the event after rotation")
        assert events(d)[0]["kind"] == "slot_missing" and events(d)[0]["object"] == "orders_slot"
        logs = [c for c in rds.calls if c["Action"] not in ("DescribeDBInstances", "DescribeDBClusters")]
        assert logs and all(c["DBInstanceIdentifier"] == "orders-primary" for c in logs)
        assert not any(e["kind"] == "subscription_disabled" for e in events(d))
        # logs.rds without an instance id is refused
        r = register(d, "nords", {"rds": True})
        assert r.status_code == 422 and "rds_instance_id" in r.text
    finally:
        rds.close()
