"""The ingest summary: counts, failures with reasons, JSON form."""

from __future__ import annotations

import datetime as dt
import json

from lstcloud.ingest.summary import IngestSummary, TileDayOutcome


def test_summary_counts_and_names_every_failure() -> None:
    d = dt.date(2024, 7, 1)
    summary = IngestSummary(cube_url="s3://bucket/cube.zarr", found=5)
    summary.outcomes += [
        TileDayOutcome(date=d, tile="h18v04", state="complete", valid_lst=10, bytes_read=100),
        TileDayOutcome(date=d, tile="h19v04", state="empty", reasons=("no valid day LST",)),
        TileDayOutcome(date=d, tile="h18v05", state="skipped"),
        TileDayOutcome(date=d, tile="h19v05", state="failed",
                       reasons=("GranuleReadError: MOD21A1D.A2024183.h19v05 is truncated",)),
    ]
    assert summary.written == 2
    assert summary.skipped == 1
    assert [o.tile for o in summary.failed] == ["h19v05"]
    assert not summary.ok
    text = summary.format()
    assert "5 granules found" in text and "1 failed" in text
    failure = "FAILED 2024-07-01 h19v05: GranuleReadError: MOD21A1D.A2024183.h19v05 is truncated"
    assert failure in text
    assert "empty  2024-07-01 h19v04" in text
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["written"] == 2 and data["counts"]["failed"] == 1
    assert data["failed"][0]["reasons"][0].startswith("GranuleReadError")
    assert data["bytes_read"] == 100


def test_no_input_is_reported_but_not_a_failure() -> None:
    d = dt.date(2024, 7, 1)
    summary = IngestSummary(cube_url="cube.zarr", found=2)
    summary.outcomes += [
        TileDayOutcome(date=d, tile="h18v04", state="complete", retries=("cube write: 503",)),
        TileDayOutcome(date=d, tile="h19v04", state="no_input",
                       reasons=("no MOD21A1D granule for h19v04 2024-07-01 in the catalogue",)),
    ]
    assert summary.ok and summary.failed == [] and summary.written == 1
    assert [o.tile for o in summary.no_input] == ["h19v04"]
    text = summary.format()
    assert "1 without input" in text and "0 failed" in text
    assert "no input 2024-07-01 h19v04: no MOD21A1D granule" in text
    assert "(1 transient errors retried)" in text
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["no_input"][0]["tile"] == "h19v04" and data["failed"] == []
    assert data["retries"] == 1 and data["counts"] == {"complete": 1, "no_input": 1}
