"""Every module imports on its own (no import cycles), and the public entry points exist."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import PROJECT_ROOT

SCRIPT = textwrap.dedent(
    """
    import importlib, pkgutil, sys
    import lstcloud
    names = sorted(m.name for m in pkgutil.walk_packages(lstcloud.__path__, "lstcloud.")
                   if not m.name.endswith("__main__"))
    failures = []
    for name in names:
        for loaded in [m for m in sys.modules if m == "lstcloud" or m.startswith("lstcloud.")]:
            del sys.modules[loaded]
        try:
            importlib.import_module(name)
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    print(len(names))
    print("\\n".join(failures))
    """
)


def test_every_module_imports_first() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    count, *failures = result.stdout.splitlines()
    assert int(count) > 40
    assert [f for f in failures if f] == []


def test_public_entry_points() -> None:
    import lstcloud

    for name in ("open_cube", "open_product", "load_model"):
        assert callable(getattr(lstcloud, name))
    from lstcloud.readers import read_granule

    assert callable(read_granule)
