"""Fixtures of the inference tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture()
def cluster_client(dask_client: Any) -> Any:
    """The session's real LocalCluster client (2 worker processes, 1 thread each)."""
    return dask_client
