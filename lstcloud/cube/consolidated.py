"""Consolidated metadata of lstcloud's Zarr v3 cubes (the input cube and the product).

Both cubes carry consolidated metadata (the ``consolidated_metadata`` field of the root
``zarr.json``), so that plain ``xarray.open_zarr(url)`` opens them in one request and with no
warning. Every writer that changes metadata (creating the template, appending days to the time
axis, updating group attributes) calls :func:`consolidate` afterwards; writing chunk data does
not change metadata and needs nothing. zarr-python warns that consolidated metadata is not yet
part of the Zarr v3 specification; the store stays readable without it (readers fall back to
listing), and :func:`open_consolidated` opens both kinds.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lstcloud.storage import default_storage_options, protocol_of, strip_protocol

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["consolidate", "open_consolidated"]

# zarr's warnings about lstcloud's own record folders, silenced process-wide (below)
_OUR_RECORDS = (
    "Object at _lstcloud is not recognized",
    # the cube creator's record, _lstcloud/writer/creator.json (lstcloud.cube.writer)
    "Object at writer is not recognized",
    # the ingest records (_lstcloud/status) and the product's day markers (_lstcloud/days)
    "Object at status is not recognized",
    "Object at days is not recognized",
)
_QUIET = ("Consolidated metadata is currently not part", *_OUR_RECORDS)


def _ignore_our_records() -> None:
    """Silence zarr's "not recognized" warnings about lstcloud's own record folders, process-wide.

    ``_lstcloud/`` (day markers, tile status, the writer's record) holds JSON objects, not Zarr
    nodes, and zarr-python warns about them whenever it lists a cube's members: not only in
    :func:`consolidate` and :func:`open_consolidated` (which :func:`_quiet` covers) but in every
    ``Dataset.to_zarr`` onto a cube, since xarray lists the members first (an ingest appending a
    day printed it). These filters name only our folders.
    """
    for message in _OUR_RECORDS:
        warnings.filterwarnings("ignore", message=f"{message}.*")


_ignore_our_records()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        for message in _QUIET:
            warnings.filterwarnings("ignore", message=f"{message}.*")
        yield


def consolidate(store: Any, *, storage_options: dict[str, Any] | None = None) -> None:
    """Write (or refresh) the consolidated metadata of the Zarr group at ``store``.

    ``store`` is a zarr store (``LocalStore``, ``FsspecStore``) or a local path / fsspec URL
    (then ``storage_options`` apply, over those of the environment).
    """
    import zarr

    if isinstance(store, str):
        url = store
        if protocol_of(url) == "file":
            store = zarr.storage.LocalStore(strip_protocol(url))
        else:
            options = {**default_storage_options(url), **(storage_options or {})}
            store = zarr.storage.FsspecStore.from_url(url, storage_options=options)
    with _quiet():
        zarr.consolidate_metadata(store)


def open_consolidated(store: Any, **kwargs: Any) -> xr.Dataset:
    """``xr.open_zarr(store, consolidated=True, **kwargs)``, or unconsolidated for old stores.

    A store written before its metadata was consolidated opens by listing (quietly); anything
    else (missing store, bad metadata) raises as :func:`xarray.open_zarr` does.
    """
    import xarray as xr
    import zarr

    try:
        return xr.open_zarr(store, consolidated=True, **kwargs)
    except (KeyError, ValueError, zarr.errors.MetadataValidationError) as exc:
        if "consolidated" not in str(exc).lower():
            raise
    with _quiet():
        return xr.open_zarr(store, consolidated=False, **kwargs)
