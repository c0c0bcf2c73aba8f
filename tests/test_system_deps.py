"""``scripts/system_deps.sh``: the system packages ``bash scripts/test.sh`` installs itself
(issue 24, item 0: the README's test command stopped on a fresh machine without PostGIS, while CI
installed it beforehand).

The listing is checked on fake roots (an empty folder is a bare machine); ``.ci/run`` runs this file
through ``bash scripts/test.sh`` FIRST, on the bare CI machine, installing nothing itself: there the
STAC API this script's packages serve (PostgreSQL + PostGIS) must answer.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "system_deps.sh"


def _missing(root: Path) -> list[str]:
    env = {**os.environ, "LSTCLOUD_SYSROOT": str(root)}
    done = subprocess.run(["bash", str(SCRIPT), "--missing"], env=env, capture_output=True,
                          text=True, check=True, timeout=30)
    return done.stdout.split()


def _touch(root: Path, relative: str, *, executable: bool = False) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    if executable:
        path.chmod(0o755)


def test_a_bare_machine_misses_every_package_the_suite_needs(tmp_path: Path) -> None:
    assert _missing(tmp_path) == ["kubectl", "python3-venv", "postgresql", "chromium"]


def test_postgis_follows_the_installed_postgresql_major(tmp_path: Path) -> None:
    _touch(tmp_path, "usr/lib/postgresql/13/bin/initdb", executable=True)
    _touch(tmp_path, "usr/lib/postgresql/15/bin/initdb", executable=True)
    for name in ("kubectl", "chromium"):
        _touch(tmp_path, f"usr/bin/{name}", executable=True)
    _touch(tmp_path, "usr/lib/python3.11/ensurepip/__init__.py")
    assert _missing(tmp_path) == ["postgresql-15-postgis-3"]
    _touch(tmp_path, "usr/share/postgresql/15/extension/postgis.control")
    assert _missing(tmp_path) == []


def test_check_names_what_is_missing_and_fails(tmp_path: Path) -> None:
    env = {**os.environ, "LSTCLOUD_SYSROOT": str(tmp_path)}
    done = subprocess.run(["bash", str(SCRIPT), "--check"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 1
    assert "postgresql" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_readme_command_started_the_postgis_stac_api() -> None:
    """Under ``bash scripts/test.sh`` (as ``.ci/run`` runs it first, on a machine where nothing
    was installed by hand) the STAC API on PostgreSQL + PostGIS is up: the script installed
    them."""
    url = os.environ.get("LSTCLOUD_TEST_STAC_API")
    if not url:
        pytest.skip("not run through bash scripts/test.sh")
    with urllib.request.urlopen(f"{url.rstrip('/')}/collections", timeout=10) as response:
        assert response.status == 200
    assert _missing(Path("/")) == []


def test_without_root_or_sudo_it_says_the_one_line_to_run(tmp_path: Path) -> None:
    """Not root and no password-less sudo: nothing is installed, one line says what to run."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "id").write_text("#!/bin/sh\necho 1000\n")
    (fake_bin / "sudo").write_text("#!/bin/sh\nexit 1\n")  # asks for a password: refused
    for name in ("id", "sudo"):
        (fake_bin / name).chmod(0o755)
    env = {**os.environ, "LSTCLOUD_SYSROOT": str(tmp_path / "root"),
           "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(SCRIPT), "--install"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "[deps] missing system packages; install them, then rerun: "
        "sudo apt-get install -y kubectl python3-venv postgresql chromium"
    ]
