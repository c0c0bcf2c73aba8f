"""Completion records on a local folder and on S3: complete, empty, failed, missing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from lstcloud.cube import (
    TileDayStatus,
    create_cube,
    day_complete,
    pending,
    read_status,
    tile_day_state,
    write_status,
    write_tile_day,
)
from lstcloud.cube.status import status_url
from lstcloud.errors import ConfigError, CubeError, LstcloudWarning
from lstcloud.grid import CubeGrid
from lstcloud.storage import filesystem, strip_protocol

D1, D2 = dt.date(2021, 7, 1), dt.date(2021, 7, 2)


def test_records_tell_the_states_apart(store_url, store_options):
    opts = {"storage_options": store_options}
    done = TileDayStatus("complete", items=("MOD11A1.A2021182.h18v04.061",), extra={"valid": 12})
    empty = TileDayStatus("empty", reasons=("all pixels cloudy",))
    failed = TileDayStatus(
        "failed",
        reasons=("GranuleReadError: truncated https://host/a.hdf?sig=SECRET&se=2030",),
    )
    write_status(store_url, D1, "h18v04", done, **opts)
    write_status(store_url, D1, "h19v04", empty, **opts)
    write_status(store_url, "2021-07-02", "h18v04", failed, **opts)

    records = read_status(store_url, **opts)
    assert records == {(D1, "h18v04"): done, (D1, "h19v04"): empty, (D2, "h18v04"): failed}
    assert records[(D1, "h18v04")].extra == {"valid": 12}
    assert read_status(store_url, date=D2, **opts) == {(D2, "h18v04"): failed}
    # secrets never reach the record
    assert "SECRET" not in records[(D2, "h18v04")].reasons[0]
    assert "sig=***" in records[(D2, "h18v04")].reasons[0]

    assert tile_day_state(store_url, D1, "h18v04", **opts) == "complete"
    assert tile_day_state(store_url, D1, "h19v04", **opts) == "empty"
    assert tile_day_state(store_url, D2, "h18v04", **opts) == "failed"
    assert tile_day_state(store_url, D2, "h19v04", **opts) == "missing"
    assert day_complete(store_url, D1, ["h18v04", "h19v04"], **opts)
    assert not day_complete(store_url, D2, ["h18v04"], **opts)  # failed
    assert not day_complete(store_url, D1, ["h18v04", "h20v04"], **opts)  # missing
    assert pending(store_url, dates=[D1, D2], tiles=["h19v04", "h18v04"], **opts) == [
        (D2, "h18v04"),
        (D2, "h19v04"),
    ]

    # a rerun that succeeds replaces the failed record
    write_status(store_url, D2, "h18v04", TileDayStatus("complete"), **opts)
    assert tile_day_state(store_url, D2, "h18v04", **opts) == "complete"

    # where the record lives
    target = status_url(store_url, D1, "h18v04")
    assert target.endswith("/_lstcloud/status/2021-07-01/h18v04.json")
    assert filesystem(target, store_options).exists(strip_protocol(target))


def test_no_records_and_unreadable_records(tmp_path):
    url = str(tmp_path / "cube.zarr")
    assert read_status(url) == {}
    assert pending(url, dates=[D1], tiles=["h18v04"]) == [(D1, "h18v04")]
    write_status(url, D1, "h18v04", TileDayStatus("complete"))
    broken = tmp_path / "cube.zarr/_lstcloud/status/2021-07-01/h19v04.json"
    broken.write_text('{"state": "compl')  # cut short by hand
    with pytest.warns(LstcloudWarning, match="h19v04"):
        records = read_status(url)
    assert set(records) == {(D1, "h18v04")}
    assert tile_day_state(url, D1, "h19v04") == "missing"
    # no temporary files are left beside the records
    assert sorted(p.name for p in broken.parent.iterdir()) == ["h18v04.json", "h19v04.json"]


def test_status_record_validation():
    with pytest.raises(ConfigError, match="state"):
        TileDayStatus("done")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="sequences"):
        TileDayStatus("failed", reasons="one string")  # type: ignore[arg-type]
    record = TileDayStatus("failed", reasons=["x"], items=["a", "b"])
    assert record.reasons == ("x",) and not record.done
    assert TileDayStatus.from_dict(record.to_dict()) == record
    with pytest.raises(ConfigError):
        write_status("/tmp/nowhere", D1, "h18v04", {"state": "complete"})  # type: ignore[arg-type]


def test_record_is_written_only_after_the_data(tmp_path):
    url = str(tmp_path / "cube.zarr")
    create_cube(url, grid=CubeGrid(["h18v04"], chunks_1km=600), dates=[D1])
    status = TileDayStatus("complete")
    with pytest.raises(CubeError):
        write_tile_day(
            url,
            date=D1,
            tile="h18v04",
            arrays={"lst_day": np.zeros((10, 10))},
            status=status,
        )
    assert tile_day_state(url, D1, "h18v04") == "missing"
    write_tile_day(
        url, date=D1, tile="h18v04", arrays={"lst_day": np.zeros((1200, 1200))}, status=status
    )
    assert tile_day_state(url, D1, "h18v04") == "complete"


def test_crash_between_data_and_record_reads_as_missing(tmp_path, monkeypatch):
    """Data written, then the process dies before its record: the tile-day is redone, not 'done'."""
    import lstcloud.cube.status as status_module
    from lstcloud.cube import open_cube

    url = str(tmp_path / "cube.zarr")
    create_cube(url, grid=CubeGrid(["h18v04"], chunks_1km=600), dates=[D1])

    def power_cut(*args, **kwargs):
        raise SystemExit("power cut")

    monkeypatch.setattr(status_module, "write_status", power_cut)
    arrays = {"lst_day": np.full((1200, 1200), 301.0)}
    with pytest.raises(SystemExit):
        write_tile_day(url, date=D1, tile="h18v04", arrays=arrays, status=TileDayStatus("complete"))
    assert float(open_cube(url).lst_day.isel(time=0).mean()) == 301.0  # the data is there
    assert tile_day_state(url, D1, "h18v04") == "missing"  # but nothing says it is complete
    assert pending(url, dates=[D1], tiles=["h18v04"]) == [(D1, "h18v04")]


def test_read_status_of_a_window_reads_only_its_days(tmp_path, monkeypatch):
    """``dates=`` lists and reads only the window's ``status/<date>/`` prefixes (counted through
    a wrapper around the fsspec filesystem), whatever the cube's history holds."""
    import lstcloud.cube.status as status_module

    url = str(tmp_path / "cube.zarr")
    history = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(30)]
    for day in [*history, D1, D2]:
        for tile in ("h18v04", "h19v04"):
            write_status(url, day, tile, TileDayStatus("complete"))

    touched: list[str] = []
    real = status_module.filesystem

    class Counting:
        def __init__(self, fs):
            self._fs = fs

        def find(self, path, **kwargs):
            touched.append(f"find {path}")
            return self._fs.find(path, **kwargs)

        def cat(self, paths, **kwargs):
            touched.extend(f"cat {p}" for p in paths)
            return self._fs.cat(paths, **kwargs)

    monkeypatch.setattr(status_module, "filesystem", lambda *a, **k: Counting(real(*a, **k)))
    window = read_status(url, dates=[D2, D1, D1])
    assert set(window) == {(d, t) for d in (D1, D2) for t in ("h18v04", "h19v04")}
    assert len(touched) == 2 + 4  # a listing per day, a read per record
    assert not any(day.isoformat() in " ".join(touched) for day in history)
    touched.clear()
    assert len(read_status(url)) == 64  # the old call: every record
    assert len([t for t in touched if t.startswith("cat")]) == 64
    assert read_status(url, dates=[]) == {}
    assert read_status(url, dates=[dt.date(1999, 1, 1)]) == {}
    with pytest.raises(ConfigError, match="not both"):
        read_status(url, date=D1, dates=[D1])


def test_no_input_is_done_unless_strict(tmp_path):
    url = str(tmp_path / "cube.zarr")
    ocean = TileDayStatus("no_input", reasons=("no MOD21A1D granule for h19v04 in the catalogue",))
    write_status(url, D1, "h18v04", TileDayStatus("complete"))
    write_status(url, D1, "h19v04", ocean)
    assert ocean.done and TileDayStatus.from_dict(ocean.to_dict()) == ocean
    assert tile_day_state(url, D1, "h19v04") == "no_input"
    assert read_status(url, dates=[D1])[(D1, "h19v04")] == ocean
    assert day_complete(url, D1, ["h18v04", "h19v04"])
    assert not day_complete(url, D1, ["h18v04", "h19v04"], strict=True)
    assert pending(url, dates=[D1], tiles=["h18v04", "h19v04"]) == []
    assert pending(url, dates=[D1], tiles=["h18v04", "h19v04"], strict=True) == [(D1, "h19v04")]
