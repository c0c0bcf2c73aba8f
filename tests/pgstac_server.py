"""A real STAC API with the Transactions extension: stac-fastapi-pgstac on PostgreSQL + PostGIS.

:class:`PgstacServer` creates a throw-away PostgreSQL cluster (``initdb`` in a temporary folder,
run as the ``postgres`` user when we are root, since PostgreSQL refuses to run as root),
listening on 127.0.0.1 only, with durability off (``fsync=off``: a test database), creates the
database, runs ``pypgstac migrate`` (PostGIS + the pgstac schema), and serves
``uvicorn stac_fastapi.pgstac.app:create_app --factory`` with ``ENABLE_TRANSACTIONS_EXTENSIONS``.
Everything stops and the folder is removed on :meth:`PgstacServer.stop`.

``scripts/test.sh`` starts one for the whole run (``python -m tests.pgstac_server URLFILE``,
exporting ``LSTCLOUD_TEST_STAC_API``); the ``pgstac_api`` fixture uses it, or starts its own.
A server that cannot start is an error, never a skip.

Needs Debian's ``postgresql`` and its ``postgresql-NN-postgis-3`` (``bash scripts/test.sh``
installs them: ``scripts/system_deps.sh``) and the
test extras ``stac-fastapi-pgstac``, ``pypgstac[psycopg]``, ``uvicorn``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port

PASSWORD = "lstcloud-test"  # a throw-away local cluster, trust authentication on 127.0.0.1


def _pg_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError(
        "PostgreSQL is not installed (no initdb): run bash scripts/system_deps.sh --install "
        "(bash scripts/test.sh does) or apt-get install postgresql postgresql-15-postgis-3"
    )


def _version(path: str) -> float:
    try:
        return float(Path(path).parents[1].name)
    except ValueError:
        return 0.0


class PgstacServer:
    """stac-fastapi-pgstac on a private PostgreSQL cluster, both on 127.0.0.1."""

    def __init__(self) -> None:
        self.url = ""
        self._dir: Path | None = None
        self._api: subprocess.Popen[bytes] | None = None
        self._pg_ctl: list[str] = []

    def _as_postgres(self, cmd: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return cmd
        return ["runuser", "-u", "postgres", "--", *cmd]

    def _run(self, cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self, timeout: float = 90.0) -> PgstacServer:
        """Start PostgreSQL, migrate pgstac, start the API; returns self (``.url`` set)."""
        pg_bin = _pg_bin()
        version = pg_bin.parent.name
        postgis = glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control")
        if not postgis:
            raise RuntimeError(
                f"PostGIS for PostgreSQL {version} is not installed: run bash "
                f"scripts/system_deps.sh --install (bash scripts/test.sh does) or apt-get "
                f"install postgresql-{version}-postgis-3"
            )
        self._dir = Path(tempfile.mkdtemp(prefix="lstcloud-pgstac-"))
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self._dir, user.pw_uid, user.pw_gid)
        data = self._dir / "data"
        self._run(
            self._as_postgres(
                [str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                 "-E", "UTF8", "--no-sync", "--no-instructions"]
            ),
            "initdb",
        )
        port = free_port()
        options = (
            f"-p {port} -k {self._dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._pg_ctl = self._as_postgres([str(pg_bin / "pg_ctl"), "-D", str(data)])
        self._run(
            [*self._pg_ctl, "-o", options, "-l", str(self._dir / "postgres.log"), "-w", "start"],
            "pg_ctl start",
        )
        dsn = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}"
        self._run([str(pg_bin / "psql"), f"{dsn}/postgres", "-qc", "CREATE DATABASE pgstac"],
                  "CREATE DATABASE")
        pypgstac = Path(sys.executable).parent / "pypgstac"
        self._run([str(pypgstac), "migrate", "--dsn", f"{dsn}/pgstac"], "pypgstac migrate")
        api_port = free_port()
        env = {
            **os.environ,
            "PGUSER": "postgres",
            "PGPASSWORD": PASSWORD,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port),
            "PGDATABASE": "pgstac",
            "ENABLE_TRANSACTIONS_EXTENSIONS": "true",
        }
        self._api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "stac_fastapi.pgstac.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(api_port), "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self._dir / "api.log", "wb"),  # noqa: SIM115 - closed with the process
        )
        self.url = f"http://127.0.0.1:{api_port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/collections", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            if self._api.poll() is not None or time.monotonic() > deadline:
                log = (self._dir / "api.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"stac-fastapi-pgstac did not start:\n{log}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the API and PostgreSQL, remove the cluster."""
        if self._api is not None and self._api.poll() is None:
            self._api.terminate()
            try:
                self._api.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._api.kill()
        self._api = None
        if self._pg_ctl:
            subprocess.run([*self._pg_ctl, "-m", "immediate", "stop"], capture_output=True,
                           check=False)
            self._pg_ctl = []
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


@pytest.fixture(scope="session")
def pgstac_api() -> Iterator[str]:
    """URL of a stac-fastapi-pgstac API with transactions (``LSTCLOUD_TEST_STAC_API`` or own)."""
    configured = os.environ.get("LSTCLOUD_TEST_STAC_API")
    if configured:
        yield configured.rstrip("/")
        return
    server = PgstacServer().start()
    try:
        yield server.url
    finally:
        server.stop()


def main(argv: list[str]) -> int:
    """``python -m tests.pgstac_server URLFILE``: start, write the URL to URLFILE, serve."""
    server = PgstacServer()
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server.start()
        Path(argv[0]).write_text(server.url)
        while not stop:
            time.sleep(0.2)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
