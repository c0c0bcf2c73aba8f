"""Running the service with uvicorn (127.0.0.1 by default; the product URL logged redacted)."""

from __future__ import annotations

import logging
from typing import Any

from lstcloud.core.redact import redact_url
from lstcloud.serve.limits import ServeLimits

__all__ = ["run"]

log = logging.getLogger(__name__)


def run(
    product: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: ServeLimits | None = None,
    storage_options: dict[str, Any] | None = None,
) -> None:
    """Serve ``product`` until interrupted.

    Parameters
    ----------
    product
        The product cube's URL (local folder or ``s3://``; credentials from the environment).
    host, port
        Where to listen; ``127.0.0.1`` keeps the service on this machine (give ``0.0.0.0``
        in a container behind a Kubernetes Service).
    limits
        Bounds of one request (:class:`~lstcloud.serve.limits.ServeLimits`).
    storage_options
        fsspec options for ``s3://``.
    """
    import uvicorn

    from lstcloud.serve.app import create_app

    app = create_app(product, limits=limits, storage_options=storage_options)
    log.warning("lstcloud serve: %s on http://%s:%d/", redact_url(product), host, port)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=True)
