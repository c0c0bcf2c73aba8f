"""Storage URLs through fsspec: local folders, ``file://``, ``s3://`` and ``https://`` alike.

S3 endpoints and credentials come from the standard AWS variables (``AWS_ACCESS_KEY_ID`` ...),
``LSTCLOUD_S3_ENDPOINT`` (an S3-API endpoint such as MinIO or a local moto server) or an explicit
``storage_options`` dict. Nothing here logs credentials.
"""

from __future__ import annotations

import os
from typing import Any

import fsspec

__all__ = ["default_storage_options", "filesystem", "join", "protocol_of", "strip_protocol"]


def protocol_of(url: str) -> str:
    """Return the fsspec protocol of ``url`` (``"file"`` for plain paths)."""
    if "://" not in str(url):
        return "file"
    return str(url).split("://", 1)[0]


def default_storage_options(url: str) -> dict[str, Any]:
    """Storage options for ``url`` from the environment (S3 endpoint override)."""
    if protocol_of(url) in ("s3", "s3a"):
        endpoint = os.environ.get("LSTCLOUD_S3_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            return {"client_kwargs": {"endpoint_url": endpoint}}
    return {}


def filesystem(
    url: str, storage_options: dict[str, Any] | None = None
) -> fsspec.AbstractFileSystem:
    """Return the fsspec filesystem for ``url``; explicit options override the environment."""
    options = {**default_storage_options(url), **(storage_options or {})}
    return fsspec.filesystem(protocol_of(url), **options)


def strip_protocol(url: str) -> str:
    """Path of ``url`` as its filesystem expects it."""
    return fsspec.core.strip_protocol(str(url))


def join(url: str, *parts: str) -> str:
    """Join path parts onto a URL or local path with ``/``."""
    out = str(url).rstrip("/")
    for part in parts:
        out = f"{out}/{str(part).strip('/')}"
    return out
