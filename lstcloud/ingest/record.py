"""Writing the completion record of an ingested (day, tile): the only place the ingest writes
records (the workers after their data, the driver for a (day, tile) its search failed).

A record is written only AFTER the data of its (day, tile): a crash in between leaves no
record, i.e. "missing", which the next run redoes. A record that cannot be written (after the
retries) turns the outcome into ``failed`` with the reason; it is never raised, so the run
goes on and its summary is printed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from lstcloud.core.backoff import RetryPolicy, RetryTally
from lstcloud.core.redact import redact_url
from lstcloud.cube.status import TileDayStatus, write_status
from lstcloud.ingest.summary import TileDayOutcome

__all__ = ["record_outcome"]


def record_outcome(
    outcome: TileDayOutcome,
    *,
    cube_url: str,
    storage_options: Mapping[str, Any] | None,
    retry: RetryPolicy,
    tally: RetryTally,
    extra: Mapping[str, Any] | None = None,
) -> TileDayOutcome:
    """Write the status record of ``outcome`` and return it with the attempts counted.

    Parameters
    ----------
    outcome
        What happened to the (day, tile); its state, reasons and items go into the record.
    cube_url, storage_options
        The input cube.
    retry, tally
        The backoff for the write, and the counts of the (day, tile) so far (the write's
        attempts are added to them).
    extra
        Free details stored in the record (valid pixels, timings, the QC policy ...).
    """
    status = TileDayStatus(
        state="complete" if outcome.state == "skipped" else outcome.state,
        reasons=outcome.reasons,
        items=outcome.items,
        extra=dict(extra or {}),
    )
    where = f"{outcome.date} {outcome.tile} in the cube {redact_url(str(cube_url))}"
    try:
        retry.call(
            lambda: write_status(
                cube_url,
                outcome.date,
                outcome.tile,
                status,
                storage_options=dict(storage_options or {}),
            ),
            what=f"status record {where}",
            tally=tally,
        )
    except Exception as exc:  # whatever the store raised: the run goes on, reported
        # the data may be written but unrecorded: it reads as missing and is redone next run
        reason = f"could not write the status record: {type(exc).__name__}: {exc}"
        return dataclasses.replace(
            outcome,
            state="failed",
            reasons=(*outcome.reasons, reason),
            attempts=tally.attempts,
            retries=tuple(tally.retried),
        )
    return dataclasses.replace(outcome, attempts=tally.attempts, retries=tuple(tally.retried))
