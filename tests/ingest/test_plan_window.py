"""``plan_window``: which (day, tile) an ingest rerun redoes, as a table of cases."""

from __future__ import annotations

import datetime as dt

import pytest

from lstcloud.cube.status import TileDayStatus
from lstcloud.ingest.plan import plan_window

D1, D2, D3 = (dt.date(2024, 7, d) for d in (1, 2, 3))
A, B = "h18v04", "h19v04"


def _records(states: dict[tuple[dt.date, str], str]) -> dict[tuple[dt.date, str], TileDayStatus]:
    return {key: TileDayStatus(state=state) for key, state in states.items()}  # type: ignore[arg-type]


CASES = [
    # (id, records, dates, tiles, recheck, wanted, skipped, kept)
    ("fresh window: everything", {}, [D1, D2], [A], False,
     {(D1, A), (D2, A)}, [], []),
    ("complete and empty are skipped", {(D1, A): "complete", (D2, A): "empty"}, [D1, D2], [A],
     False, set(), [(D1, A), (D2, A)], []),
    ("failed is redone", {(D1, A): "failed", (D2, A): "complete"}, [D1, D2], [A], False,
     {(D1, A)}, [(D2, A)], []),
    ("no_input alone is not searched again", {(D1, A): "no_input"}, [D1], [A], False,
     set(), [], [(D1, A)]),
    ("no_input inside the search made anyway is searched again",
     {(D1, A): "failed", (D2, A): "no_input", (D3, A): "failed"}, [D1, D2, D3], [A], False,
     {(D1, A), (D2, A), (D3, A)}, [], []),
    ("no_input outside the days searched is kept",
     {(D1, A): "no_input", (D2, A): "failed", (D3, A): "complete"}, [D1, D2, D3], [A], False,
     {(D2, A)}, [(D3, A)], [(D1, A)]),
    ("no_input of a tile not searched is kept",
     {(D1, A): "failed", (D1, B): "no_input"}, [D1], [A, B], False,
     {(D1, A)}, [], [(D1, B)]),
    ("recheck searches every no_input", {(D1, A): "no_input", (D2, A): "complete"}, [D1, D2],
     [A], True, {(D1, A)}, [(D2, A)], []),
]


@pytest.mark.parametrize(
    ("records", "dates", "tiles", "recheck", "wanted", "skipped", "kept"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_plan_window(records, dates, tiles, recheck, wanted, skipped, kept) -> None:
    plan = plan_window(_records(records), dates, tiles, recheck)
    assert plan.wanted == frozenset(wanted)
    assert list(plan.skipped) == skipped
    assert list(plan.kept) == kept
    assert plan.search_dates == sorted({d for d, _ in wanted})
    assert plan.search_tiles == sorted({t for _, t in wanted})
