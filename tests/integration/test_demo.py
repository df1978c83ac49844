"""`make demo` unattended (DEMO_PACE=fast, FLEET_SIZE=small): the local environment, a fleet
of two clusters (primary, standby, cascade each; streams between them; pgbench writing; RDS
and Aurora in moto), pgfleet in the background and the whole narrated tour; a browser
follows it in the web interface; `make stop` ends it all. Checks what each step leaves
behind, in PostgreSQL, the webhook sink and pgfleet's API."""
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import ROOT, free_port, free_port_run, wait_for

RUN = str(ROOT / "scripts" / "run.sh")
KEY = "demo-test-key-0123456789abcdef0123456789"


def psql(port, db, sql):
    p = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(port), "-U", "pgfleet",
                        "-d", db, "-c", sql], env={**os.environ, "PGPASSWORD": "pgfleet-dev"},
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def table_after(out, command):
    """The lines of the table a shown command printed (header first)."""
    lines = out.splitlines()
    i = next(n for n, x in enumerate(lines) if x.strip() == f"$ {command}")
    rows = []
    for x in lines[i + 1:]:
        if not x.startswith("     ") or x.strip() == "...":
            break
        rows.append(x)
    return rows


def aligned(rows, heading):
    """Whether every row has a cell starting under the heading (no cell ran into it)."""
    at = rows[0].index(heading)
    return all(r[at - 1] == " " and r[at] != " " for r in rows[1:] if len(r) > at)


class Tour:
    """The demo's output, line by line, as it comes."""

    def __init__(self, proc):
        self.proc, self.lines, self.q = proc, [], queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.q.put(line)

    def text(self):
        while not self.q.empty():
            self.lines.append(self.q.get())
        return "".join(self.lines)

    def reach(self, marker, timeout):
        wait_for(lambda: marker in self.text() or self.proc.poll() is not None, timeout=timeout,
                 interval=0.5, what=f"the tour to print {marker!r}")
        assert marker in self.text(), f"the demo ended (rc {self.proc.poll()}) before {marker!r}:\n{self.text()[-4000:]}"


@pytest.fixture
def demo():
    d = tempfile.mkdtemp(prefix="pgfleet-demo-", dir="/var/tmp" if os.geteuid() == 0 else None)
    base, fleet, listen = free_port_run(9), free_port_run(20), free_port()
    if os.geteuid() == 0:
        shutil.chown(d, "postgres", "postgres")
    env = {**os.environ, "PGFLEET_DEVENV_DIR": d, "PGFLEET_DEVENV_PORT_BASE": str(base),
           "PGFLEET_FLEET_PORT_BASE": str(fleet), "PGFLEET_LISTEN": f"127.0.0.1:{listen}",
           "PGFLEET_PUBLIC_URL": f"http://localhost:{listen}", "AUTH_KEY": KEY,
           "DEMO_PACE": "fast", "FLEET_SIZE": "small"}
    proc = subprocess.Popen([RUN, "--demo", os.environ.get("PGFLEET_BIN", str(ROOT / "build-asan" / "pgfleet"))],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield {"proc": proc, "tour": Tour(proc), "url": f"http://127.0.0.1:{listen}", "dir": d,
               "fleet": fleet, "base": base, "listen": listen, "env": env}
    finally:
        if proc.poll() is None:
            proc.kill()
        stop = subprocess.run([RUN, "--stop"], env=env, capture_output=True, text=True, timeout=120)
        log = open(os.path.join(d, "log", "pgfleet.log"), errors="replace").read() \
            if os.path.exists(os.path.join(d, "log", "pgfleet.log")) else ""
        left = subprocess.run(["pgrep", "-f", d], capture_output=True, text=True).stdout.split()
        shutil.rmtree(d, ignore_errors=True)
        assert stop.returncode == 0, stop.stderr
        assert "Sanitizer" not in log, log[-3000:]
        assert not left, f"processes still running from {d}: {left}"


def api(demo, path):
    r = requests.get(demo["url"] + path, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_demo_tour_runs_unattended_and_the_ui_follows(demo, browser):
    tour, url, fleet = demo["tour"], demo["url"], demo["fleet"]
    orders_p, orders_s, billing_p = fleet, fleet + 1, fleet + 5

    # the browser signs in with the key as soon as pgfleet serves, and follows the tour
    tour.reach("== 1/7", timeout=600)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/login#key=" + KEY)
    page.wait_for_url(url + "/")
    tour.reach("== 2/7", timeout=180)
    page.goto(url + "/#/topology")
    # 4 local servers + 6 of the fleet, each standby and cascade on its edge
    page.locator("#topo-summary").filter(has_text=re.compile(r"^1\d servers, ")).wait_for(timeout=60000)
    # the list beside the graph: each server's version and RDS instance, also once the live
    # values of the "metrics" topic (state and lag only) have come in over them
    page.locator("#topo-list-box summary").click()
    rows = page.locator("#topo-nodes tbody tr")
    rows.filter(has_text="(cluster fleet-billing-aurora)").first.wait_for(timeout=60000)
    time.sleep(7)  # past the next collection
    texts = [t for t in rows.all_inner_texts() if "127.0.0.1:" in t]
    assert len([t for t in texts if "(cluster fleet-billing-aurora)" in t]) == 2, texts
    assert all(re.search(r"\t15\.\d+\t", t) for t in texts), texts

    # the streams page, open before step 3 creates the stream from the CLI, shows it live
    page.goto(url + "/#/streams")
    page.locator("#streams-table").wait_for(timeout=30000)
    tour.reach("== 3/7", timeout=180)
    row = page.locator("#streams-table tbody tr").filter(has_text="orders-tenant-2")
    row.locator(".badge").filter(has_text="streaming").wait_for(timeout=120000)

    tour.reach("== 5/7", timeout=300)
    page.goto(url + "/#/alerts")
    page.locator("#al-active tbody tr").filter(has_text="demo-lag").filter(has_text="firing").wait_for(timeout=120000)

    demo["proc"].wait(timeout=600)
    out = tour.text()
    assert demo["proc"].returncode == 0, out[-4000:]
    assert "demo: the tour is complete" in out
    for n in range(1, 8):
        assert f"== {n}/7" in out
    assert not errors, errors
    page.close()

    # the terminal's tables: every column starts under its heading, however long a cell
    dbs = table_after(out, "pgfleet db list | sed -n 1,12p")
    assert len(dbs) == 12 and aligned(dbs, "HOST:PORT") and aligned(dbs, "HEALTH"), dbs
    assert "local archive (stream target)" in "".join(dbs)
    streams = table_after(out, "pgfleet stream list")
    assert len(streams) > 5 and aligned(streams, "STATE") and aligned(streams, "TABLES"), streams

    # discovery: a tree, with the registered names
    assert "├─ physical [streaming" in out and "└─ logical" in out
    assert '"orders tenant 1" -> ' in out and "(orders standby1)" in out
    topo = api(demo, "/api/replication/discover")
    assert [n for n in topo["nodes"] if (n.get("rds") or {}).get("cluster_id") == "fleet-billing-aurora"]
    assert [n for n in topo["nodes"] if (n.get("rds") or {}).get("instance_id") == "fleet-orders-standby1"]
    # no phantom subscriptions on standbys of a subscriber
    logical = [e for e in topo["edges"] if e["kind"] == "logical"]
    assert all(e["state"] == "streaming" for e in logical), logical

    # the stream: created after its pre-flight failed once, copied in full
    assert "error    target_tables          missing on the target: public.customers, public.orders" in out
    streams = [s for s in api(demo, "/api/replication/streams")["streams"] if s.get("managed")]
    assert len(streams) == 1 and streams[0]["state"] == "streaming"
    assert psql(orders_p, "orders_tenant_2", "SELECT count(*) FROM orders") == \
        psql(billing_p, "orders_archive", "SELECT count(*) FROM orders") == "2500"

    # the migration: a dry run that changed nothing, then one target failed and rolled back
    runs = api(demo, "/api/migrations")["migrations"]
    assert len(runs) == 2
    real, dry = runs  # newest first
    assert dry["dry_run"] and not real["dry_run"]
    assert {t["status"] for t in dry["targets"]} == {"rolled_back", "failed"}
    failed = [t["target"] for t in real["targets"] if t["status"] == "failed"]
    assert failed == ["billing-tenant-2"]
    assert len([t for t in real["targets"] if t["status"] == "committed"]) == 6
    col = "SELECT data_type FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'shipped_at'"
    idx = "SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_status_idx'"
    assert psql(billing_p, "billing_tenant_2", col) == "text"  # the drift, untouched
    assert psql(billing_p, "billing_tenant_2", idx) == "0"
    assert psql(orders_p, "orders_tenant_1", col) == "timestamp with time zone"
    assert psql(billing_p, "orders_reporting", idx) == "1"
    # the failed real run alerts; the dry run does not
    firing = api(demo, "/api/alerts")["alerts"]
    mig = [a for a in firing if a["rule"] == "migration-failed"]
    assert [a["labels"]["execution"] for a in mig] == [real["execution_id"]]

    # the alert: fired, notified (signed, checked by the sink), acknowledged, resolved
    hist = api(demo, "/api/alerts/history?rule=demo-lag")["transitions"]
    assert {"firing", "resolved"} <= {t["state"] for t in hist}
    assert all(t["labels"]["to"] == f"127.0.0.1:{orders_s}" for t in hist), hist
    sink = requests.get(f"http://127.0.0.1:{demo['base'] + 8}/messages", timeout=5).json()
    mine = [m for m in sink if f":{orders_s}" in str(m["body"])]
    assert len(mine) >= 2 and all(m["signature"] == "ok" for m in mine), mine
    assert psql(orders_s, "postgres", "SELECT pg_is_wal_replay_paused()") == "f"

    # the audit trail of all of it
    actions = [e["action"] for e in api(demo, "/api/audit?limit=50")["entries"]]
    for a in ("stream.create", "migration.execute", "alert.ack", "database.create"):
        assert a in actions, actions
    assert actions.count("migration.execute") == 2

    # `make stop` ends it all: nothing listens any more (checked again by the fixture)
    stop = subprocess.run([RUN, "--stop"], env=demo["env"], capture_output=True, text=True, timeout=120)
    assert stop.returncode == 0, stop.stderr
    for port in (demo["listen"], orders_p, orders_s, billing_p, demo["base"]):
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert not subprocess.run(["pgrep", "-f", f"pgbench.*-p {orders_p}"], capture_output=True).stdout
