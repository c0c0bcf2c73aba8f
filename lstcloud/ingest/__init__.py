"""STAC-driven ingest of MODIS LST and 250 m NDVI into the input datacube.

Layers: :mod:`~lstcloud.ingest.sources` (which products, per provider) ->
:mod:`~lstcloud.ingest.plan` (granules -> (day, tile) tasks) -> :mod:`~lstcloud.ingest.task`
(read, decode, write, record on a worker) -> :mod:`~lstcloud.ingest.run` (the driver on a Dask
cluster) -> :mod:`~lstcloud.ingest.summary` (what happened); :mod:`~lstcloud.ingest.qc` resolves
the QC policy per product.
"""

from __future__ import annotations

from lstcloud.core.backoff import RetryPolicy
from lstcloud.ingest.plan import TileDayTask, plan_tasks
from lstcloud.ingest.qc import resolve_qc_policies
from lstcloud.ingest.run import ingest, parse_window
from lstcloud.ingest.sources import DEFAULT_SOURCES, Sources, sources_for
from lstcloud.ingest.summary import IngestSummary, TileDayOutcome
from lstcloud.ingest.task import ingest_tile_day

__all__ = [
    "DEFAULT_SOURCES",
    "IngestSummary",
    "RetryPolicy",
    "Sources",
    "TileDayOutcome",
    "TileDayTask",
    "ingest",
    "ingest_tile_day",
    "parse_window",
    "plan_tasks",
    "resolve_qc_policies",
    "sources_for",
]
