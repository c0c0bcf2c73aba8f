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
