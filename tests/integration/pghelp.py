"""Real PostgreSQL servers for the tests: initdb in a scratch folder, a free
port, started with pg_ctl (as the postgres user when the tests run as root),
stopped and removed afterwards. Standbys come from pg_basebackup -R.

Tests get servers through the fixtures in conftest.py (pg_servers for a
module, pg_server for one test), which destroy every server they started even
when the test or its set-up fails."""
import os
import shutil
import subprocess
import tempfile

from conftest import free_port

PGBIN = "/usr/lib/postgresql/15/bin"


def as_pg(cmd, **kw):
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)


class PgServer:
    def __init__(self, settings=None, hba=None, start=True):
        self._scratch()
        try:
            r = as_pg([f"{PGBIN}/initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust",
                       "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"])
            assert r.returncode == 0, r.stderr
            conf = {"port": self.port, "listen_addresses": "'127.0.0.1'",
                    "unix_socket_directories": f"'{self.dir}'", "max_connections": 300,
                    "wal_level": "logical", "fsync": "off", "shared_buffers": "'16MB'"}
            conf.update(settings or {})
            with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
                for k, v in conf.items():
                    f.write(f"{k} = {v}\n")
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
                f.write(hba or "host all all 127.0.0.1/32 scram-sha-256\n")
            if start:
                self.start()
        except BaseException:
            self.destroy()
            raise

    def _scratch(self):
        self.dir = tempfile.mkdtemp(prefix="pgfleet-pg-", dir="/var/tmp" if os.geteuid() == 0 else None)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()

    @classmethod
    def standby_of(cls, upstream, slot, user, password):
        """A physical standby of upstream (pg_basebackup -R, streaming through a new slot)."""
        s = cls.__new__(cls)
        s._scratch()
        try:
            r = as_pg(["env", f"PGPASSWORD={password}", f"{PGBIN}/pg_basebackup", "-h", "127.0.0.1",
                       "-p", str(upstream.port), "-U", user, "-D", s.data, "-R", "-X", "stream", "-c",
                       "fast", "-C", "-S", slot])
            assert r.returncode == 0, r.stderr
            with open(os.path.join(s.data, "postgresql.auto.conf"), "a") as f:
                f.write(f"port = {s.port}\nunix_socket_directories = '{s.dir}'\ncluster_name = '{slot}'\n")
            s.start()
        except BaseException:
            s.destroy()
            raise
        return s

    def start(self):
        r = as_pg([f"{PGBIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w",
                   "-o", f"-p {self.port}", "start"])
        assert r.returncode == 0, r.stderr + open(os.path.join(self.dir, "log")).read()

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            as_pg([f"{PGBIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])

    def sql(self, sql, db="postgres"):
        r = as_pg([f"{PGBIN}/psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.dir, "-p",
                   str(self.port), "-U", "postgres", "-d", db, "-c", sql])
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PgServers:
    """Starts servers on demand; destroy() removes every one of them."""

    def __init__(self):
        self.made = []

    def __call__(self, **kw):
        s = PgServer(**kw)
        self.made.append(s)
        return s

    def replicating(self, password, settings=None, user="monitor"):
        """A server that accepts replication connections, with a superuser role that may
        replicate (user, password); settings add to (or override) 5 WAL senders and slots."""
        s = self(settings={"max_wal_senders": 5, "max_replication_slots": 5, **(settings or {})},
                 hba="host all all 127.0.0.1/32 scram-sha-256\n"
                     "host replication all 127.0.0.1/32 scram-sha-256\n")
        s.sql(f"CREATE ROLE {user} SUPERUSER LOGIN REPLICATION PASSWORD '{password}'")
        return s

    def standby_of(self, upstream, slot, user, password):
        s = PgServer.standby_of(upstream, slot, user, password)
        self.made.append(s)
        return s

    def destroy(self):
        for s in reversed(self.made):
            s.destroy()
        self.made = []
