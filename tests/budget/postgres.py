"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temp dir, 127.0.0.1, a free port.

initdb refuses to run as root, so as root the server runs as an existing unprivileged user
(``postgres``, else ``nobody``) through subprocess's ``user=``/``group=``. Password authentication
(scram) is on, so tests see a URL with a password, as users do. One server per test process; it is
stopped by the session fixture's finalizer (and at exit, should that not run).
"""
from __future__ import annotations

import atexit
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

USER = "budgetsweep"
SEARCH = ("/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/bin")


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in SEARCH:
        path = Path(folder) / name
        if path.exists():
            return str(path)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        self.base: Path | None = None
        self.url: str | None = None
        self.error: str | None = None

    def _run_as(self) -> dict:
        if os.geteuid() != 0:
            return {}
        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return {"user": entry.pw_uid, "group": entry.pw_gid}
        raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run initdb as")

    def start(self) -> str:
        if self.url or self.error:
            return self.url
        if not (self.initdb and self.pg_ctl):
            self.error = "PostgreSQL binaries initdb and pg_ctl not found (PATH, /usr/local/bin)"
            return None
        try:
            import psycopg2
        except ImportError:
            self.error = "psycopg2 is not installed (pip install psycopg2-binary)"
            return None
        who = self._run_as()
        self.base = Path(tempfile.mkdtemp(prefix="budgetsweep-pg-"))
        password = secrets.token_hex(8)
        (self.base / "pw").write_text(password + "\n")
        if who:
            for path in (self.base, self.base / "pw"):
                os.chown(path, who["user"], who["group"])
        port = _free_port()
        run = dict(capture_output=True, text=True, cwd=self.base, timeout=120, **who)
        steps = [
            [self.initdb, "-D", str(self.base / "data"), "-U", USER, "--auth=scram-sha-256",
             f"--pwfile={self.base / 'pw'}", "-E", "UTF8", "--no-sync"],
            [self.pg_ctl, "-D", str(self.base / "data"), "-l", str(self.base / "log"), "-w", "-t", "60", "-o",
             f"-p {port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
             "start"],
        ]
        for cmd in steps:
            proc = subprocess.run(cmd, **run)
            if proc.returncode != 0:
                self.error = f"{Path(cmd[0]).name} failed: {proc.stderr.strip()[-500:]}"
                self.stop()
                return None
        conn = psycopg2.connect(host="127.0.0.1", port=port, user=USER, password=password, dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE budgetsweep")
        conn.close()
        self.url = f"postgresql+psycopg2://{USER}:{password}@127.0.0.1:{port}/budgetsweep"
        atexit.register(self.stop)
        return self.url

    def stop(self) -> None:
        if self.base is None:
            return
        if (self.base / "data" / "postmaster.pid").exists():
            subprocess.run([self.pg_ctl, "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop"],
                           capture_output=True, cwd=self.base, timeout=60, **self._run_as())
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = self.url = None


_server = PostgresServer()


def postgres_url_or_skip() -> str:
    url = _server.start()
    if url is None:
        pytest.skip(f"no PostgreSQL server for this test: {_server.error}")
    return url


@pytest.fixture(scope="session")
def postgres_url(request) -> str:
    """The URL (with password) of a database on a server started for this test session."""
    url = postgres_url_or_skip()
    request.addfinalizer(_server.stop)
    return url
