"""``JobResult``: the ``lstcloud run`` summary names every failed (day, tile); config errors
exit 2."""

from __future__ import annotations

import datetime as dt

from lstcloud.ingest import IngestSummary, TileDayOutcome
from lstcloud.jobs import JobResult

DAY = dt.date(2024, 7, 2)


def _failed(day: dt.date, tile: str, reason: str) -> TileDayOutcome:
    return TileDayOutcome(date=day, tile=tile, state="failed", reasons=(reason,))


def test_the_summary_names_every_failed_tile() -> None:
    ingested = IngestSummary(
        cube_url="s3://bucket/input.zarr",
        outcomes=[
            _failed(DAY, "h18v04", "S3 503 on lst_day"),
            _failed(DAY, "h19v04", "corrupt MOD09GQ granule"),
            TileDayOutcome(date=DAY, tile="h18v05", state="complete"),
        ],
    )
    result = JobResult(date=DAY, ingest=ingested, predict=None, collection=None, seconds=1.0,
                       days=(DAY,))
    text = result.format()
    assert not result.ok
    assert "failed for 2 tile(s)" in text
    assert "  h18v04: S3 503 on lst_day" in text
    assert "  h19v04: corrupt MOD09GQ granule" in text


def test_a_window_summary_names_the_day_of_each_failure() -> None:
    days = (DAY - dt.timedelta(days=1), DAY)
    ingested = IngestSummary(
        cube_url="input.zarr",
        outcomes=[_failed(days[0], "h18v04", "timeout"), _failed(days[1], "h18v04", "404")],
    )
    text = JobResult(date=DAY, ingest=ingested, predict=None, collection=None, seconds=1.0,
                     days=days).format()
    assert f"  {days[0]} h18v04: timeout" in text
    assert f"  {days[1]} h18v04: 404" in text


def test_a_config_error_exits_2_from_ingest_and_from_predict(tmp_path, capsys) -> None:
    from lstcloud.cli.main import main

    window = ["--start", "2024-07-05", "--end", "2024-07-01"]
    ingest = ["ingest", "--provider", "lpcloud", "--stac-url", "http://127.0.0.1:9",
              "--region", "h18v04", "--cube", str(tmp_path / "c.zarr"), *window]
    predict = ["predict", "--cube", str(tmp_path / "c.zarr"), "--model", "bicubic",
               "--out", str(tmp_path / "p.zarr"), *window]
    for argv in (ingest, predict):
        assert main(argv) == 2, argv[0]
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"lstcloud {argv[0]}: error:"), err
