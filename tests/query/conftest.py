"""Fixtures of the query tests: a small product cube on the real MODIS 250 m grid."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from tests.query.sample_product import write_sample_product


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, xr.Dataset]:
    """``(url, truth)``: a 10-day product with days 0-2 and 4 complete, and its in-memory data."""
    url = str(Path(tmp_path_factory.mktemp("product")) / "product.zarr")
    truth = write_sample_product(url, complete=[0, 1, 2, 4]).load()
    return url, truth
