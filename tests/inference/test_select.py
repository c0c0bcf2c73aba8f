"""``select_days`` and ``day_input_state``: which days a prediction computes, as tables."""

from __future__ import annotations

import datetime as dt

import pytest

from lstcloud.cube.status import TileDayStatus
from lstcloud.inference.select import InputState, day_input_state, select_days

D1, D2, D3 = (dt.date(2024, 7, d) for d in (1, 2, 3))
READY = InputState(ready=True, digest="aaaa")
CHANGED = InputState(ready=True, digest="bbbb")
UNREADY = InputState(ready=False, reason="input incomplete: tile(s) h18v04 failed", digest="cc")

CASES = [
    # (id, done markers, inputs, overwrite, todo, skipped, changed, unready days)
    ("nothing done: all ready days", {}, {D1: READY, D2: READY}, False, [D1, D2], [], [], []),
    ("complete with the same input: skipped", {D1: {"input_status": "aaaa"}},
     {D1: READY, D2: READY}, False, [D2], [D1], [], []),
    ("complete from an older lstcloud (no digest): skipped", {D1: {}}, {D1: READY}, False,
     [], [D1], [], []),
    ("complete but its input changed: redone", {D1: {"input_status": "aaaa"}}, {D1: CHANGED},
     False, [D1], [], [D1], []),
    ("overwrite redoes complete days", {D1: {"input_status": "aaaa"}}, {D1: READY}, True,
     [D1], [], [], []),
    ("input not whole: left out", {}, {D1: UNREADY, D2: READY}, False, [D2], [], [], [D1]),
    ("complete, input now not whole: kept as it is", {D1: {"input_status": "aaaa"}},
     {D1: UNREADY}, False, [], [D1], [], []),
    ("overwrite does not compute an unready day", {D1: {"input_status": "cc"}}, {D1: UNREADY},
     True, [], [], [], [D1]),
]


@pytest.mark.parametrize(
    ("done", "inputs", "overwrite", "todo", "skipped", "changed", "unready"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_select_days(done, inputs, overwrite, todo, skipped, changed, unready) -> None:
    chosen = select_days(done, inputs, overwrite)
    assert list(chosen.todo) == todo
    assert list(chosen.skipped) == skipped
    assert list(chosen.changed) == changed
    assert [d for d, _ in chosen.unready] == unready
    assert all(reason for _, reason in chosen.unready)


TILES = ["h18v04", "h19v04"]
STATE_CASES = [
    # (id, states per tile (None: no record), ready, reason words, no_input)
    ("every tile complete", {"h18v04": "complete", "h19v04": "complete"}, True, [], []),
    ("empty and no_input are done", {"h18v04": "empty", "h19v04": "no_input"}, True, [],
     ["h19v04"]),
    ("a failed tile keeps the day out", {"h18v04": "complete", "h19v04": "failed"}, False,
     ["h19v04 failed", "boom"], []),
    ("a tile without record keeps the day out", {"h18v04": "complete", "h19v04": None}, False,
     ["h19v04 missing (no ingest record)"], []),
]


@pytest.mark.parametrize(
    ("states", "ready", "words", "no_input"),
    [case[1:] for case in STATE_CASES],
    ids=[case[0] for case in STATE_CASES],
)
def test_day_input_state(states, ready, words, no_input) -> None:
    records = {
        (D1, tile): TileDayStatus(state=state, reasons=("boom",) if state == "failed" else (),
                                  items=(f"MOD21A1D.{tile}",))
        for tile, state in states.items()
        if state is not None
    }
    got = day_input_state(D1, TILES, records, where="s3://bucket/input.zarr")
    assert got.ready is ready
    assert list(got.no_input) == no_input
    for word in words:
        assert word in got.reason
    assert ("s3://bucket/input.zarr" in got.reason) is not ready
    # the digest follows the records: another granule for a tile changes it
    other = {k: TileDayStatus(state=v.state, reasons=v.reasons, items=("MOD21A1D.v2",))
             for k, v in records.items()}
    if records:
        assert day_input_state(D1, TILES, other, where="x").digest != got.digest
