"""``lstcloud demo --workdir DIR`` (an interface outside checks rely on): it leaves
``DIR/input.zarr``, ``DIR/product.zarr`` and ``DIR/quicklook.png``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _smallest_demo(workdir: Path) -> subprocess.CompletedProcess:
    """``lstcloud demo`` at its smallest: one tile, one day, one worker, the bicubic baseline
    (the CNN over a whole 4800 x 4800 tile takes minutes on two cores; its path is tested
    elsewhere)."""
    return subprocess.run(
        [sys.executable, "-m", "lstcloud", "demo", "--workdir", str(workdir),
         "--tiles", "h18v04", "--days", "1", "--workers", "1", "--model", "bicubic"],
        cwd=workdir.parent, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
def test_demo_leaves_the_input_cube_the_product_and_the_quicklook(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = _smallest_demo(workdir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("input.zarr", "product.zarr", "quicklook.png"):
        assert (workdir / name).exists(), name
        assert str(workdir / name) in result.stdout  # it prints where everything is
    assert (workdir / "quicklook.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    import lstcloud

    product = lstcloud.open_product(str(workdir / "product.zarr"))
    assert product.lst_250m.dims == ("time", "y", "x")
    assert product.lst_250m.attrs["units"] == "K"
    assert product.attrs["complete_days"] == ["2024-07-01"]
    values = product.lst_250m.isel(time=0, y=slice(0, None, 16), x=slice(0, None, 16)).values
    assert np.isfinite(values).mean() > 0.3
    assert 250 < np.nanmedian(values) < 340
    cube = lstcloud.open_cube(str(workdir / "input.zarr"))
    assert {"lst_day", "ndvi"} <= set(cube.data_vars)

    # the demo again, over a product an older model wrote (as after an upgrade): its own product
    # is replaced, with a warning (`lstcloud predict` itself refuses, tests/inference/test_identity)
    import zarr

    group = zarr.open_group(str(workdir / "product.zarr"), mode="r+")
    sha = group.attrs["lstcloud_model_sha256"]
    group.attrs["lstcloud_model_sha256"] = "0" * 64
    again = _smallest_demo(workdir)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "the demo replaces its own product" in again.stderr
    replaced = lstcloud.open_product(str(workdir / "product.zarr"))
    assert replaced.attrs["lstcloud_model_sha256"] == sha
    assert replaced.attrs["complete_days"] == ["2024-07-01"]
