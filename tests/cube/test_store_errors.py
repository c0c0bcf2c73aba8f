"""Storage errors of the cube on a real S3 API (moto) behind a fault-injecting proxy: transient
ones raise ``TransientCubeError`` (retryable), permanent ones a plain ``CubeError``; both name
the cube, the date and the tile."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from lstcloud.cube import (
    TileDayStatus,
    TransientCubeError,
    create_cube,
    read_status,
    write_status,
    write_tile_day,
)
from lstcloud.errors import CubeError, TransientError
from lstcloud.grid import CubeGrid
from tests.ingest.s3proxy import S3FaultProxy

D1 = dt.date(2021, 7, 1)
TILE = "h18v04"


@pytest.fixture
def proxied(s3_endpoint: str, s3_bucket: str, s3_storage_options: dict[str, Any]
            ) -> Iterator[tuple[S3FaultProxy, str, dict[str, Any]]]:
    proxy = S3FaultProxy(s3_endpoint)
    options = {
        "key": s3_storage_options["key"],
        "secret": s3_storage_options["secret"],
        "client_kwargs": {"endpoint_url": proxy.url},
        "config_kwargs": {"retries": {"total_max_attempts": 1}},  # botocore's retries off
    }
    url = f"{s3_bucket}/cube.zarr"
    create_cube(url, grid=CubeGrid([TILE], chunks_1km=600), dates=[D1], storage_options=options)
    try:
        yield proxy, url, options
    finally:
        proxy.close()


@pytest.mark.parametrize(("status", "code"), [(503, "ServiceUnavailable"), (503, "SlowDown"),
                                              (500, "InternalError")])
def test_transient_write_errors_are_retryable_and_named(proxied: Any, status: int, code: str
                                                        ) -> None:
    proxy, url, options = proxied
    proxy.add_fault("PUT", r"/lst_day/c/", status=status, code=code, count=-1)
    with pytest.raises(TransientCubeError) as info:
        write_tile_day(url, date=D1, tile=TILE, arrays={"lst_day": np.zeros((1200, 1200))},
                       storage_options=options)
    assert isinstance(info.value, CubeError) and isinstance(info.value, TransientError)
    assert url in str(info.value) and "2021-07-01" in str(info.value) and TILE in str(info.value)
    assert "lst_day" in str(info.value)


def test_permanent_write_errors_are_cube_errors(proxied: Any) -> None:
    proxy, url, options = proxied
    proxy.add_fault("PUT", r"/lst_day/c/", status=403, code="AccessDenied", count=-1)
    with pytest.raises(CubeError) as info:
        write_tile_day(url, date=D1, tile=TILE, arrays={"lst_day": np.zeros((1200, 1200))},
                       storage_options=options)
    assert not isinstance(info.value, TransientError)
    assert url in str(info.value)


def test_status_record_errors_are_classified_and_named(proxied: Any) -> None:
    proxy, url, options = proxied
    proxy.add_fault("PUT", r"/_lstcloud/status/", status=503, code="ServiceUnavailable", count=1)
    with pytest.raises(TransientCubeError, match=f"2021-07-01 {TILE} in the cube {url}"):
        write_status(url, D1, TILE, TileDayStatus("complete"), storage_options=options)
    write_status(url, D1, TILE, TileDayStatus("complete"), storage_options=options)  # recovered
    proxy.add_fault("PUT", r"/_lstcloud/status/", status=403, code="AccessDenied", count=1)
    with pytest.raises(CubeError) as info:
        write_status(url, D1, TILE, TileDayStatus("failed"), storage_options=options)
    assert not isinstance(info.value, TransientError)
    proxy.add_fault("GET", r"list-type=2", status=503, code="ServiceUnavailable", count=1)
    with pytest.raises(TransientCubeError, match="cannot list the status records"):
        read_status(url, storage_options=options, dates=[D1])
    assert read_status(url, storage_options=options, dates=[D1])[(D1, TILE)].state == "complete"
