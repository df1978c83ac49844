"""The command line: help, version, config table, and one-line errors with the
documented exit statuses."""
import json
import subprocess

from conftest import PGFLEET_BIN, ROOT


def pgfleet(*args, env=None):
    e = {"PATH": "/usr/bin:/bin"}
    e.update(env or {})
    return subprocess.run([PGFLEET_BIN, *args], env=e, capture_output=True, text=True, timeout=10)


def test_help_lists_commands():
    for args in (["help"], ["--help"]):
        p = pgfleet(*args)
        assert p.returncode == 0
        for cmd in ("serve", "config", "version", "help"):
            assert f"  {cmd}" in p.stdout


def test_help_for_a_command():
    p = pgfleet("help", "serve")
    assert p.returncode == 0 and "usage: pgfleet serve" in p.stdout and "SIGTERM" in p.stdout
    p = pgfleet("config", "--help")
    assert p.returncode == 0 and "usage: pgfleet config [--json]" in p.stdout


def test_no_command_prints_usage_and_exits_2():
    p = pgfleet()
    assert p.returncode == 2 and "usage: pgfleet" in p.stderr


def test_unknown_command_is_one_line_exit_2():
    p = pgfleet("frobnicate")
    assert p.returncode == 2
    assert p.stderr.strip() == "pgfleet: unknown command 'frobnicate' (see 'pgfleet help')"
    p = pgfleet("help", "frobnicate")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1


def test_version():
    p = pgfleet("version")
    assert p.returncode == 0
    assert p.stdout.startswith("pgfleet 0.") and "libwebsockets" in p.stdout and "hiredis 1." in p.stdout


def test_config_table_masks_secrets():
    p = pgfleet("config", env={"AUTH_KEY": "very-secret", "PGFLEET_REDIS_URL": "redis://u:pw123@r:6380/1"})
    assert p.returncode == 0
    assert "very-secret" not in p.stdout and "pw123" not in p.stdout
    assert "AUTH_KEY" in p.stdout and "********" in p.stdout
    assert "redis://u:****@r:6380/1" in p.stdout
    assert "PGFLEET_LISTEN" in p.stdout and "127.0.0.1:8000" in p.stdout


def test_config_json():
    p = pgfleet("config", "--json", env={"PGFLEET_LOG_LEVEL": "debug"})
    rows = {r["env"]: r for r in json.loads(p.stdout)}
    assert rows["PGFLEET_LOG_LEVEL"]["value"] == "debug" and rows["PGFLEET_LOG_LEVEL"]["from_env"]
    assert rows["PGFLEET_LISTEN"]["default"] == "127.0.0.1:8000"
    assert rows["AUTH_KEY"]["value"] == "(unset)"


def test_bad_values_are_one_line_exit_3():
    cases = {"PGFLEET_LISTEN": "nonsense", "PGFLEET_LOG_LEVEL": "chatty",
             "PGFLEET_MAX_BODY_BYTES": "-5", "PGFLEET_HEARTBEAT_SECONDS": "soon"}
    for var, value in cases.items():
        for cmd in (["serve"], ["config"]):
            p = pgfleet(*cmd, env={var: value})
            assert p.returncode == 3, (var, cmd, p.stderr)
            line = p.stderr.strip()
            assert len(line.splitlines()) == 1 and var in line, line


def test_serve_rejects_arguments():
    p = pgfleet("serve", "--port", "9")
    assert p.returncode == 2 and "pgfleet config" in p.stderr


def test_port_in_use_is_a_clear_error(redis):
    p = pgfleet("serve", env={"PGFLEET_LISTEN": f"127.0.0.1:{redis.port}"})
    assert p.returncode == 15
    assert "could not listen on 127.0.0.1" in p.stderr and "in use" in p.stderr


def test_readme_lists_every_setting():
    """The README's configuration table names every variable `pgfleet config` knows."""
    p = pgfleet("config", "--json")
    assert p.returncode == 0, p.stderr
    readme = (ROOT / "README.md").read_text()
    missing = [r["env"] for r in json.loads(p.stdout) if f"`{r['env']}`" not in readme]
    assert not missing, f"README's configuration table lacks {missing}"
