"""Fixtures of the ingest tests: an S3 fault proxy in front of the real (moto) S3 server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.ingest.s3proxy import S3FaultProxy


@pytest.fixture
def s3_proxy(s3_endpoint: str) -> Iterator[S3FaultProxy]:
    """A fault-injecting, request-counting proxy in front of the test S3 server."""
    proxy = S3FaultProxy(s3_endpoint)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def proxy_options(s3_proxy: S3FaultProxy, s3_storage_options: dict[str, Any]) -> dict[str, Any]:
    """s3fs options going through ``s3_proxy``, botocore's own retries off: an injected error
    reaches lstcloud at once (as an outage longer than the client library's retries would)."""
    return {
        "key": s3_storage_options["key"],
        "secret": s3_storage_options["secret"],
        "client_kwargs": {"endpoint_url": s3_proxy.url},
        "config_kwargs": {"retries": {"total_max_attempts": 1}},
        "skip_instance_cache": True,
    }
