"""Every script of ``benchmarks/`` still imports against the package (they run outside CI, by
hand; ``benchmarks/train.py`` once imported a private name a refactor had removed) and parses
its own ``--help``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


def test_there_are_benchmarks() -> None:
    names = {p.stem for p in BENCHMARKS}
    assert {"continent", "inference", "ingest", "outside", "train"} <= names


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_the_benchmark_imports_and_shows_its_usage(script: Path) -> None:
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                          timeout=300, cwd=script.parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "usage:" in done.stdout
