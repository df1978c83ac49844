"""The web interface in headless Chromium (Playwright driving Debian's chromium), against the
real daemon and real PostgreSQL servers: each page's main flow end to end. Every test saves a
screenshot of its page under build-asan/ui-screenshots/ for review."""
import json
import os
import time
from pathlib import Path

import pytest

from conftest import AUTH_KEY, JSON, ROOT, register_db, wait_for

PW = "ui-monitor-pw"
SHOTS = Path(os.environ.get("PGFLEET_UI_SHOTS", ROOT / "build-asan" / "ui-screenshots"))
SLOT_GONE = ('2026-11-26 15:10:01.120 UTC [4242] FATAL:  could not start WAL streaming: ERROR:  '
             'replication slot "standby9_slot" does not exist\n')


@pytest.fixture(scope="module")
def fleet(pg_servers):
    """A primary (tables customers and orders, publishing) with a standby, and a second
    primary for a stream's target (the same tables, empty)."""
    primary = pg_servers.replicating(PW, {"max_wal_senders": 10, "max_replication_slots": 10,
                                          "wal_level": "logical"})
    primary.sql("CREATE TABLE customers (id int PRIMARY KEY, name text);"
                "CREATE TABLE orders (id int PRIMARY KEY, customer_id int, status text);"
                "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 200) g;"
                "INSERT INTO orders SELECT g, 1 + g % 200, 'new' FROM generate_series(1, 1000) g")
    standby = pg_servers.standby_of(primary, "ui_standby", "monitor", PW)
    target = pg_servers(settings={"max_replication_slots": 10, "max_logical_replication_workers": 6})
    target.sql(f"CREATE ROLE monitor SUPERUSER LOGIN PASSWORD '{PW}'")
    target.sql("CREATE TABLE customers (id int PRIMARY KEY, name text)")  # orders: missing at first
    return {"primary": primary, "standby": standby, "target": target}


@pytest.fixture
def ui(daemon_factory, redis, browser, workdir):
    """A daemon and a signed-in page (the API key, admin); the page's errors fail the test."""
    d = daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url, "PGFLEET_DB_UI_PW": PW,
                        "PGFLEET_COLLECT_INTERVAL_SECONDS": "1", "PGFLEET_HEALTH_INTERVAL_SECONDS": "1",
                        "PGFLEET_INVENTORY_SECONDS": "2", "PGFLEET_LOG_POLL_MS": "100",
                        "PGFLEET_LOG_DIRS": workdir})
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(d.url + "/login#key=" + AUTH_KEY)
    page.wait_for_url(d.url + "/")
    page.locator("#conn").filter(has_text="live").wait_for(timeout=15000)
    yield d, page
    page.close()
    assert not errors, errors


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def register(d, name, server, **extra):
    register_db(d, name, server, user="monitor", env="PGFLEET_DB_UI_PW", **extra)


def test_overview_draws_the_fleet_and_the_topology_panel_charts_an_edge(ui, fleet):
    d, page = ui
    register(d, "primary", fleet["primary"], tags=["prod"])
    register(d, "standby", fleet["standby"], tags=["prod"])
    page.goto(d.url + "/#/overview")
    page.get_by_role("heading", name="Overview").wait_for()
    # (ok, or degraded when a probe is slow on a busy machine: both answer)
    page.locator(".tile").filter(has_text="databases ok").filter(has_text="/2").wait_for(timeout=20000)
    page.locator(".tile").filter(has_text="edges streaming").filter(has_text="1/1").wait_for(timeout=20000)
    assert page.locator("#overview-graph canvas").count() > 0  # Cytoscape drew
    nav = page.get_by_role("navigation", name="Pages")
    assert [a.strip() for a in nav.locator("a").all_inner_texts()] == [
        "Overview", "Topology", "Databases", "Streams", "Migrations", "Events", "Alerts", "Audit", "Settings"]
    shot(page, "overview")

    nav.get_by_role("link", name="Topology").click()
    page.wait_for_url("**/#/topology")
    page.locator("#topo-summary").filter(has_text="2 servers, 1 edges").wait_for(timeout=15000)
    page.locator("#topo-list-box summary").click()
    nodes = page.locator("#topo-nodes tbody tr")
    assert nodes.count() == 2
    names = nodes.all_inner_texts()
    assert any(t.startswith("primary (127.0.0.1:") and "primary" in t for t in names), names
    # the edge's panel: state, lag, and its chart drawn from the history, then live
    page.locator("#topo-edges").get_by_role("button", name="Show").click()
    panel = page.locator("#panel")
    panel.get_by_text("streaming").wait_for()
    panel.locator(".u-wrap canvas").wait_for()
    time.sleep(2.5)  # live points arrive with the metrics
    assert "/#/topology/physical" in page.url
    # the filter by tag keeps both; the node panel offers the connection test
    page.locator("#topo-filter").select_option("tag:prod")
    page.locator("#topo-nodes").get_by_role("button", name=f"Show 127.0.0.1:{fleet['standby'].port}").click()
    panel.get_by_role("heading", name="standby").wait_for()
    panel.get_by_role("button", name="Test the connection").click()
    page.locator("#panel-status").filter(has_text="ok").wait_for(timeout=10000)
    shot(page, "topology")
    # live: a server that goes down is shown unreachable
    fleet["standby"].stop()
    page.locator("#topo-summary").filter(has_text="1 unreachable").wait_for(timeout=20000)
    row = page.locator("#topo-nodes tbody tr").filter(has_text=f"127.0.0.1:{fleet['standby'].port}")
    assert "\tunreachable\t" in row.inner_text(), row.inner_text()


def test_databases_page_registers_edits_tests_and_removes(ui, fleet):
    d, page = ui
    page.goto(d.url + "/#/databases")
    page.get_by_text("No database is registered yet").wait_for()
    page.get_by_role("button", name="Register a database").click()
    form = page.locator("#dbform")
    form.get_by_label("Id", exact=True).fill("app")
    form.get_by_label("Name", exact=True).fill("app primary")
    form.get_by_label("Host", exact=True).fill("127.0.0.1")
    form.get_by_label("Port", exact=True).fill("70000")
    form.get_by_label("Database", exact=True).fill("postgres")
    form.get_by_label("User", exact=True).fill("monitor")
    form.get_by_label("Credentials", exact=True).select_option("env")
    form.get_by_label("Variable", exact=True).fill("PGFLEET_DB_UI_PW")
    # only the chosen source's field shows
    assert not form.get_by_label("Password", exact=True).is_visible()
    assert not form.get_by_label("Secret id", exact=True).is_visible()
    form.get_by_role("button", name="Register").click()
    # the API's message, next to its field
    form.locator('[data-field="port"] .field-error').filter(has_text="65535").wait_for()
    assert form.get_by_label("Port", exact=True).get_attribute("aria-invalid") == "true"
    form.get_by_label("Port", exact=True).fill(str(fleet["primary"].port))
    form.get_by_role("button", name="Register").click()
    row = page.locator("#db-list tbody tr").filter(has_text="app primary")
    row.wait_for()
    row.locator(".badge").filter(has_text="ok").wait_for(timeout=15000)
    # edit: the name changes; the form never shows a stored password
    page.get_by_role("button", name="Edit app").click()
    form.get_by_label("Name", exact=True).fill("app, renamed")
    form.get_by_role("button", name="Save").click()
    page.locator("#db-list tbody tr").filter(has_text="app, renamed").wait_for()
    page.get_by_role("button", name="Test app").click()
    page.locator("#db-status").filter(has_text="app: ok").wait_for(timeout=10000)
    shot(page, "databases")
    page.once("dialog", lambda dlg: dlg.accept())
    page.get_by_role("button", name="Remove app").click()
    page.get_by_text("No database is registered yet").wait_for()
    assert d.get("/api/databases", auth=True).json()["databases"] == []


def test_streams_page_preflight_fix_create_and_watch_the_copy(ui, fleet):
    d, page = ui
    register(d, "src", fleet["primary"])
    register(d, "dst", fleet["target"])
    page.goto(d.url + "/#/streams")
    f = page.locator("#streamform")
    f.get_by_label("Source").select_option("src")
    f.get_by_label("Target").select_option("dst")
    f.get_by_label("Tables").fill("public.customers, public.orders")
    f.get_by_role("button", name="Check (pre-flight)").click()
    # a failing check names what is missing and how to fix it
    failing = page.locator("#st-checks li.error").first
    failing.wait_for(timeout=20000)
    assert "orders" in failing.inner_text() and "Fix:" in failing.inner_text()
    shot(page, "streams-preflight")
    fleet["target"].sql("CREATE TABLE orders (id int PRIMARY KEY, customer_id int, status text)")
    f.get_by_role("button", name="Check (pre-flight)").click()
    page.locator("#st-summary").filter(has_text="ready to create").wait_for(timeout=20000)
    f.get_by_label("Accept warnings").check()
    f.get_by_role("button", name="Create").click()
    page.locator("#st-summary").filter(has_text="stream ").wait_for(timeout=20000)
    row = page.locator("#streams-table tbody tr").filter(has_text="src → dst")
    row.locator(".badge").filter(has_text="streaming").wait_for(timeout=60000)
    assert fleet["target"].sql("SELECT count(*) FROM orders") == "1000"
    shot(page, "streams")
    # drop asks first
    sid = row.get_attribute("data-stream")
    page.once("dialog", lambda dlg: dlg.accept())
    page.get_by_role("button", name=f"drop {sid}").click()
    wait_for(lambda: not [s for s in d.get("/api/replication/streams", auth=True).json()["streams"]
                          if s.get("id") == sid], timeout=30, what="the stream dropped")


def test_migrations_page_runs_a_sample_from_the_editor_dry_run_first(ui, fleet):
    d, page = ui
    fleet["primary"].sql("CREATE DATABASE mig_a")
    fleet["primary"].sql("CREATE DATABASE mig_b")
    for db in ("mig_a", "mig_b"):
        fleet["primary"].sql("CREATE TABLE orders (id int PRIMARY KEY, status text, created_at timestamptz)", db=db)
        register_db(d, db, fleet["primary"], db, "monitor", env="PGFLEET_DB_UI_PW", tags=["shop"])
    page.goto(d.url + "/#/migrations")
    f = page.locator("#migform")
    f.get_by_label("Start from a sample").select_option("001_orders_shipped_at.sql")
    page.locator("#mig-editor .cm-content").filter(has_text="shipped_at").wait_for()
    assert f.get_by_label("Name").input_value() == "001_orders_shipped_at"
    page.locator("#mig-targets").get_by_role("button", name="shop").click()  # by tag
    assert page.locator("#mig-targets input:checked").count() == 2
    f.get_by_role("button", name="Run").click()  # dry run is on by default
    page.locator("#mig-summary").filter(has_text="dry run").filter(has_text="succeeded").wait_for(timeout=30000)
    has_col = "SELECT count(*) FROM information_schema.columns WHERE column_name = 'shipped_at'"
    assert fleet["primary"].sql(has_col, db="mig_a") == "0"  # rolled back
    f.get_by_label("Dry run (roll back at the end)").uncheck()
    # typed into the editor: a comment at the top
    page.locator("#mig-editor .cm-content").click()
    page.keyboard.press("Control+Home")
    page.keyboard.insert_text("-- reviewed\n")
    f.get_by_role("button", name="Run").click()
    page.locator("#mig-summary").filter(has_text="001_orders_shipped_at: succeeded").wait_for(timeout=30000)
    assert page.locator("#mig-progress tbody tr").filter(has_text="committed").count() == 2
    assert fleet["primary"].sql(has_col, db="mig_b") == "1"
    # the history: who ran it, and the SQL that ran
    hist = page.locator("#mig-history tbody tr").filter(has_not_text="dry run").first
    hist.filter(has_text="api-key").wait_for()
    hist.get_by_role("button").click()
    sql = page.locator("#mig-detail-sql")
    sql.wait_for()
    assert sql.inner_text().startswith("-- reviewed") and "shipped_at" in sql.inner_text()
    shot(page, "migrations")
    # a failing sample shows the failure and the rollback
    f.get_by_label("Start from a sample").select_option("004_broken.sql")
    page.locator("#mig-editor .cm-content").filter(has_text="does_not_exist").wait_for()
    f.get_by_role("button", name="Run").click()
    page.locator("#mig-summary").filter(has_text="004_broken: failed").wait_for(timeout=30000)
    progress = page.locator("#mig-progress").inner_text()
    assert "does not exist" in progress and "rolled_back" in progress.replace(" ", "_"), progress
    # a script that cannot run in a transaction is explained, not run
    page.locator("#mig-editor .cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text("VACUUM;")
    assert page.locator("#mig-editor .cm-content").inner_text() == "VACUUM;"
    f.get_by_label("Name").fill("vac")
    f.get_by_role("button", name="Run").click()
    try:
        page.locator("#mig-summary").filter(has_text="non-transactional").wait_for()
    except Exception:
        raise AssertionError(page.locator("#mig-summary").inner_text())


def test_events_alerts_audit_and_settings_pages(ui, workdir):
    d, page = ui
    log = os.path.join(workdir, "postgresql.log")
    Path(log).write_text("")
    register_db(d, "logged", port=1, user="monitor", env="PGFLEET_DB_UI_PW", expect=201, logs={"file": log})
    page.goto(d.url + "/#/events")
    page.get_by_text("No replication event").wait_for()
    time.sleep(0.5)
    with open(log, "a") as f:
        f.write(SLOT_GONE)
    row = page.locator("#events tbody tr").filter(has_text="standby9_slot")
    row.wait_for(timeout=15000)  # live, over the WebSocket
    assert row.locator(".badge").inner_text() in ("critical", "error", "warning")
    shot(page, "events")
    page.goto(d.url + "/#/alerts")
    page.get_by_role("heading", name="Alerts").wait_for()
    page.locator("#al-active-box, #al-active").first.wait_for()
    shot(page, "alerts")
    page.goto(d.url + "/#/audit")
    page.locator("#audit tbody tr").filter(has_text="database.create").wait_for()
    shot(page, "audit")
    page.goto(d.url + "/#/settings")
    page.locator("#al-rules tbody tr").filter(has_text="replication-lag").wait_for()
    page.locator("#sessions-box").get_by_text("api-key").wait_for()
    shot(page, "settings")
    # an unknown page is the overview; the old anchor #alerts is the alerts page
    page.goto(d.url + "/#/nowhere")
    page.get_by_role("heading", name="Overview").wait_for()
    page.goto(d.url + "/#alerts")
    page.get_by_role("heading", name="Alerts").wait_for()


def test_assets_are_hashed_cached_for_good_and_served_without_gzip_too(daemon_factory, redis):
    import re
    import requests
    d = daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url})
    html = requests.get(d.url + "/", timeout=10)
    assert html.headers["Cache-Control"] == "no-cache"
    js = re.search(r'src="(/assets/app-[A-Z0-9]+\.js)"', html.text).group(1)
    css = re.search(r'href="(/assets/app-[A-Z0-9]+\.css)"', html.text).group(1)
    gz = requests.get(d.url + js, timeout=10)  # requests asks for gzip
    assert gz.headers["Content-Encoding"] == "gzip"
    assert gz.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    plain = requests.get(d.url + js, headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "Content-Encoding" not in plain.headers and plain.content == gz.content
    assert len(plain.content) > 100000 and plain.headers["Content-Type"].startswith("text/javascript")
    assert requests.get(d.url + css, timeout=10).status_code == 200
    assert requests.get(d.url + "/assets/app-NOPE.js", timeout=10).status_code == 404
    login = requests.get(d.url + "/login", timeout=10).text
    assert re.search(r'src="/assets/login-[A-Z0-9]+\.js"', login)
