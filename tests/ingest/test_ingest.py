"""End to end: a real STAC API on 127.0.0.1 serving MODIS-format granules, ingested on a real
Dask cluster with worker processes into a local folder and an S3 (moto) bucket, then bad input:
a truncated granule, a missing asset, an all-cloud day, a catalogue that fails.

The reference values come from an independent path: the granule decoded directly with
``read_granule``, never from the cube code.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import pytest

from lstcloud.cube import TileDayStatus, open_cube, read_status, write_status
from lstcloud.errors import ConfigError
from lstcloud.grid import CubeGrid
from lstcloud.ingest import RetryPolicy, ingest
from lstcloud.readers import read_granule
from lstcloud.samples.granules import corrupt_file, write_hdf4
from lstcloud.samples.stac import build_sample_catalog
from lstcloud.stacserver import StacServer

pytestmark = pytest.mark.slow

TILE = "h18v04"
DAYS = [dt.date(2024, 7, 1) + dt.timedelta(days=i) for i in range(4)]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """CMR-STAC-shaped catalogue of MOD21A1D + MOD09GQ HDF4 granules, one tile, four days."""
    root = tmp_path_factory.mktemp("lpcloud")
    return build_sample_catalog(
        root, provider="lpcloud", tiles=[TILE], dates=DAYS, products=["MOD21A1D", "MOD09GQ"],
        seed=3,
    )


@pytest.fixture(scope="module")
def server(catalog: Any) -> Any:
    with StacServer(catalog.collections, catalog.items) as srv:
        yield srv


def _href(catalog: Any, product: str, date: dt.date) -> str:
    for item in catalog.items:
        if item["id"].startswith(f"{product}.A{date:%Y%j}.{TILE}"):
            return item["assets"]["data"]["href"]
    raise KeyError((product, date))


def _tile_day(ds: Any, var: str, date: dt.date, resolution: str) -> np.ndarray:
    grid = CubeGrid([TILE])
    sy, sx = grid.tile_slices(TILE, resolution)
    dims = ("y_1km", "x_1km") if resolution == "1km" else ("y_250m", "x_250m")
    sel = ds[var].sel(time=np.datetime64(date, "ns")).isel({dims[0]: sy, dims[1]: sx})
    return np.asarray(sel.values)


def test_ingest_writes_the_decoded_granules_and_a_rerun_writes_nothing(
    catalog: Any, server: Any, store_url: str, store_options: Any, dask_client: Any
) -> None:
    days = DAYS[:2]
    summary = ingest(
        provider="lpcloud", stac_url=server.url, region=TILE, start=days[0], end=days[-1],
        cube_url=store_url, client=dask_client, storage_options=store_options, progress=False,
    )
    assert summary.ok, summary.format()
    assert summary.found == 4  # 2 days x (MOD21A1D + MOD09GQ)
    assert summary.written == 2 and summary.skipped == 0
    sizes = sum(Path(_href(catalog, p, d)).stat().st_size for p in ("MOD21A1D", "MOD09GQ")
                for d in days)
    assert summary.bytes_read == sizes > 0  # the granule files read, counted
    assert summary.to_dict()["bytes_read"] == sizes

    ds = open_cube(store_url, storage_options=store_options)
    crs = pyproj.CRS.from_wkt(ds["spatial_ref"].attrs["crs_wkt"])
    assert "Sinusoidal" in crs.to_wkt() and crs.ellipsoid.semi_major_metre == 6371007.181
    for day in days:
        lst = read_granule(_href(catalog, "MOD21A1D", day), "MOD21A1D")
        ndvi = read_granule(_href(catalog, "MOD09GQ", day), "MOD09GQ")
        got_lst = _tile_day(ds, "lst_day", day, "1km")
        want_lst = lst["LST_1KM"].values
        assert np.isfinite(want_lst).sum() > 10_000
        np.testing.assert_array_equal(np.isnan(got_lst), np.isnan(want_lst))
        np.testing.assert_allclose(got_lst, want_lst, rtol=0, atol=1e-4, equal_nan=True)
        got_ndvi = _tile_day(ds, "ndvi", day, "250m")
        np.testing.assert_allclose(got_ndvi, ndvi["NDVI"].values, atol=1e-6, equal_nan=True)
        assert np.nanmin(got_lst) > 200 and np.nanmax(got_lst) < 350

    records = read_status(store_url, storage_options=store_options)
    assert {(d, TILE) for d in days} <= set(records)
    assert all(records[(d, TILE)].state == "complete" for d in days)

    again = ingest(
        provider="lpcloud", stac_url=server.url, region=TILE, start=days[0], end=days[-1],
        cube_url=store_url, client=dask_client, storage_options=store_options, progress=False,
    )
    assert again.written == 0 and again.skipped == 2 and again.found == 0
    assert read_status(store_url, storage_options=store_options) == records


def test_bad_input_is_named_recorded_and_the_rest_of_the_run_completes(
    catalog: Any, tmp_path: Path, dask_client: Any
) -> None:
    items = copy.deepcopy(catalog.items)
    # day 2: the LST granule is a truncated download
    truncated = tmp_path / Path(_href(catalog, "MOD21A1D", DAYS[1])).name
    shutil.copy(_href(catalog, "MOD21A1D", DAYS[1]), truncated)
    corrupt_file(truncated, mode="truncate")
    # day 3: the 250 m item is missing from the catalogue
    # day 4: the LST granule is entirely cloud
    cloudy = write_hdf4(tmp_path / "cloudy", product="MOD21A1D", tile=TILE, date=DAYS[3],
                        seed=3, cloud_fraction=1.0)
    kept = []
    for item in items:
        if item["id"].startswith(f"MOD21A1D.A{DAYS[1]:%Y%j}"):
            item["assets"]["data"]["href"] = str(truncated)
        if item["id"].startswith(f"MOD21A1D.A{DAYS[3]:%Y%j}"):
            item["assets"]["data"]["href"] = str(cloudy)
        if item["id"].startswith(f"MOD09GQ.A{DAYS[2]:%Y%j}"):
            continue
        kept.append(item)
    cube = str(tmp_path / "cube.zarr")
    with StacServer(catalog.collections, kept) as srv:
        summary = ingest(provider="lpcloud", stac_url=srv.url, region=TILE, start=DAYS[0],
                         end=DAYS[3], cube_url=cube, client=dask_client, progress=False)
    states = {o.date: o.state for o in summary.outcomes}
    # day 3: its LST is kept (lst_only), the missing 250 m granule named
    assert states == {DAYS[0]: "complete", DAYS[1]: "failed", DAYS[2]: "lst_only",
                      DAYS[3]: "empty"}, summary.format()
    reasons = {o.date: " ".join(o.reasons) for o in summary.outcomes}
    assert truncated.name in reasons[DAYS[1]]  # names the granule
    assert "no MOD09GQ granule" in reasons[DAYS[2]]
    assert "no valid day LST" in reasons[DAYS[3]]
    text = summary.format()
    assert f"FAILED {DAYS[1].isoformat()} {TILE}" in text

    assert [o.date for o in summary.failed] == [DAYS[1]]  # no granule is not a failure
    assert f"lst only {DAYS[2].isoformat()} {TILE}: no MOD09GQ granule" in text

    records = read_status(cube)
    assert records[(DAYS[1], TILE)].state == "failed"
    assert records[(DAYS[2], TILE)].state == "lst_only"
    assert "in the catalogue" in records[(DAYS[2], TILE)].reasons[0]
    assert truncated.name in " ".join(records[(DAYS[1], TILE)].reasons)
    ds = open_cube(cube)
    assert np.isnan(_tile_day(ds, "lst_day", DAYS[1], "1km")).all()  # nothing half-written
    assert np.isfinite(_tile_day(ds, "lst_day", DAYS[0], "1km")).any()
    assert np.isnan(_tile_day(ds, "lst_day", DAYS[3], "1km")).all()
    assert np.isfinite(_tile_day(ds, "ndvi", DAYS[3], "250m")).any()

    # once the catalogue is repaired, a rerun redoes the failed day; the no-input day is
    # searched again only on request (it lies outside the search the failed day needs)
    with StacServer(catalog.collections, catalog.items) as srv:
        again = ingest(provider="lpcloud", stac_url=srv.url, region=TILE, start=DAYS[0],
                       end=DAYS[3], cube_url=cube, client=dask_client, progress=False)
        assert again.ok, again.format()
        assert again.skipped == 2 and again.written == 1
        (kept,) = [o for o in again.outcomes if o.state == "lst_only"]
        assert kept.date == DAYS[2] and "not searched again" in kept.reasons[-1]
        assert read_status(cube)[(DAYS[1], TILE)].state == "complete"
        third = ingest(provider="lpcloud", stac_url=srv.url, region=TILE, start=DAYS[0],
                       end=DAYS[3], cube_url=cube, client=dask_client, progress=False,
                       recheck_no_input=True)
    assert third.ok and third.written == 1 and third.skipped == 3, third.format()
    assert read_status(cube)[(DAYS[2], TILE)].state == "complete"


def test_a_failing_catalogue_fails_the_days_with_the_url_and_never_raises(
    catalog: Any, server: Any, tmp_path: Path, dask_client: Any, fault_proxy_factory: Any
) -> None:
    proxy = fault_proxy_factory(server.url, fault="500", count=-1)
    cube = str(tmp_path / "cube.zarr")
    summary = ingest(provider="lpcloud", stac_url=proxy.url, region=TILE, start=DAYS[0],
                     end=DAYS[0], cube_url=cube, client=dask_client, progress=False)
    assert [o.state for o in summary.outcomes] == ["failed"]
    reason = " ".join(summary.outcomes[0].reasons)
    assert "catalogue search" in reason and "127.0.0.1" in reason
    assert read_status(cube)[(DAYS[0], TILE)].state == "failed"
    # said as it is, once: one retry cycle for the run, not one per product (issue 24, item 4)
    assert len(proxy.requests) == 5
    assert "catalogue search for MOD21A1D, MOD09GQ failed: the STAC catalogue" in reason
    assert "answered HTTP 500 (server error) 5 times" in reason
    assert summary.format().count("answered HTTP 500") == 1


def test_a_transient_catalogue_error_is_retried(
    catalog: Any, server: Any, tmp_path: Path, dask_client: Any, fault_proxy_factory: Any
) -> None:
    proxy = fault_proxy_factory(server.url, fault="503", count=2)
    cube = str(tmp_path / "cube.zarr")
    summary = ingest(provider="lpcloud", stac_url=proxy.url, region=TILE, start=DAYS[0],
                     end=DAYS[0], cube_url=cube, client=dask_client, progress=False)
    assert summary.ok, summary.format()
    assert summary.written == 1
    assert sum(1 for r in proxy.requests if r.fault) == 2


def test_the_cli_ingests_and_prints_a_summary(
    server: Any, tmp_path: Path, dask_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from lstcloud.cli.main import main

    cube = str(tmp_path / "cli.zarr")
    argv = ["ingest", "--provider", "lpcloud", "--stac-url", server.url, "--region", TILE,
            "--start", DAYS[0].isoformat(), "--end", DAYS[0].isoformat(), "--cube", cube,
            "--scheduler", dask_client.scheduler.address, "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["written"] == 1 and out["failed"] == [] and out["found"] == 2


# ---------------------------------------------------------------------- S3 faults and costs
#: chunk objects of the data variables (not the coordinates that create_cube writes)
DATA_CHUNKS = r"/(lst_day|qc_day|view_time_day|ndvi|ndvi_qc)/c/"


def test_transient_s3_errors_in_cube_and_record_writes_are_retried(
    catalog: Any, server: Any, s3_bucket: str, s3_proxy: Any, proxy_options: Any,
    s3_storage_options: Any, dask_client: Any,
) -> None:
    """A real S3 (moto) behind a proxy that answers 503 ServiceUnavailable to the first three
    chunk PUTs and 500 InternalError to the first status-record PUT: the ingest completes with the
    right data, and the retries are counted in the outcome and its record."""
    cube = f"{s3_bucket}/faults.zarr"
    s3_proxy.add_fault("PUT", DATA_CHUNKS, status=503, code="ServiceUnavailable", count=3)
    s3_proxy.add_fault("PUT", r"/_lstcloud/status/", status=500, code="InternalError", count=1)
    summary = ingest(
        provider="lpcloud", stac_url=server.url, region=TILE, start=DAYS[0], end=DAYS[0],
        cube_url=cube, client=dask_client, storage_options=proxy_options, progress=False,
        retry=RetryPolicy(attempts=6, base=0.05),
    )
    assert summary.ok and summary.written == 1, summary.format()
    assert s3_proxy.faults_served == 4
    (outcome,) = summary.outcomes
    assert outcome.attempts >= 2
    assert all("transient storage error" in r for r in outcome.retries)
    assert sum(r.startswith("cube write") for r in outcome.retries) >= 1
    assert sum(r.startswith("status record") for r in outcome.retries) == 1
    assert all(DAYS[0].isoformat() in r and TILE in r and cube in r for r in outcome.retries)
    assert summary.retries == len(outcome.retries) >= 2
    assert f"{summary.retries} transient errors retried" in summary.format()

    # the data read back straight from moto equals the independent decode
    record = read_status(cube, storage_options=s3_storage_options)[(DAYS[0], TILE)]
    assert record.state == "complete"
    # the record lists the retries made before it was written (not those of its own write)
    assert record.extra["retries"] == [r for r in outcome.retries if r.startswith("cube write")]
    assert record.extra["attempts"] >= 2
    ds = open_cube(cube, storage_options=s3_storage_options)
    want = read_granule(_href(catalog, "MOD21A1D", DAYS[0]), "MOD21A1D")["LST_1KM"].values
    np.testing.assert_allclose(_tile_day(ds, "lst_day", DAYS[0], "1km"), want, atol=1e-4,
                               equal_nan=True)
    ndvi = read_granule(_href(catalog, "MOD09GQ", DAYS[0]), "MOD09GQ")["NDVI"].values
    np.testing.assert_allclose(_tile_day(ds, "ndvi", DAYS[0], "250m"), ndvi, atol=1e-6,
                               equal_nan=True)


def test_a_permanent_s3_error_fails_fast_naming_the_day_tile_and_cube(
    server: Any, s3_bucket: str, s3_proxy: Any, proxy_options: Any, s3_storage_options: Any,
    dask_client: Any,
) -> None:
    cube = f"{s3_bucket}/denied.zarr"
    s3_proxy.add_fault("PUT", DATA_CHUNKS, status=403, code="AccessDenied", count=-1)
    summary = ingest(
        provider="lpcloud", stac_url=server.url, region=TILE, start=DAYS[0], end=DAYS[0],
        cube_url=cube, client=dask_client, storage_options=proxy_options, progress=False,
        retry=RetryPolicy(attempts=6, base=0.05),
    )
    (outcome,) = summary.outcomes
    assert outcome.state == "failed"
    assert outcome.attempts == 1 and outcome.retries == ()  # not retried
    reason = outcome.reasons[0]
    assert DAYS[0].isoformat() in reason and TILE in reason and cube in reason
    assert "CubeError" in reason and "injected fault" in reason
    record = read_status(cube, storage_options=s3_storage_options)[(DAYS[0], TILE)]
    assert record.state == "failed"


def test_a_rerun_reads_only_the_window_records_and_writes_nothing(
    server: Any, s3_bucket: str, s3_proxy: Any, proxy_options: Any, s3_storage_options: Any,
    dask_client: Any,
) -> None:
    """Store requests counted at the S3 proxy: the rerun of a complete window makes no write, far
    fewer than a tenth of the first run's requests, and never touches other days' records."""
    cube = f"{s3_bucket}/rerun.zarr"
    days = DAYS[:1]
    kwargs = dict(provider="lpcloud", stac_url=server.url, region=TILE, start=days[0],
                  end=days[-1], cube_url=cube, client=dask_client, progress=False)
    first = ingest(storage_options=proxy_options, **kwargs)
    assert first.ok and first.written == 1, first.format()
    first_requests = s3_proxy.count()
    # the cube's history: records of 40 other days (written straight to S3, not counted)
    history = [dt.date(2023, 1, 1) + dt.timedelta(days=i) for i in range(40)]
    for day in history:
        write_status(cube, day, TILE, TileDayStatus("complete"),
                     storage_options=s3_storage_options)
    s3_proxy.clear()

    again = ingest(storage_options=proxy_options, **kwargs)
    assert again.written == 0 and again.skipped == 1 and again.found == 0
    assert s3_proxy.count("PUT", "POST", "DELETE") == 0  # writes nothing
    assert s3_proxy.count() * 10 < first_requests, (s3_proxy.count(), first_requests)
    touched = " ".join(r.path for r in s3_proxy.requests)
    assert not any(day.isoformat() in touched for day in history)
    status_reads = [r for r in s3_proxy.requests if "_lstcloud" in r.path]
    assert status_reads and len(status_reads) <= 2 * len(days)  # a listing + a GET per day


def test_an_item_without_its_data_asset_names_the_item_and_the_asset(
    catalog: Any, tmp_path: Path, dask_client: Any
) -> None:
    items = copy.deepcopy(catalog.items)
    (item,) = [i for i in items if i["id"].startswith(f"MOD09GQ.A{DAYS[0]:%Y%j}")]
    del item["assets"]["data"]  # the item is served, its granule asset is not
    cube = str(tmp_path / "cube.zarr")
    with StacServer(catalog.collections, items) as srv:
        summary = ingest(provider="lpcloud", stac_url=srv.url, region=TILE, start=DAYS[0],
                         end=DAYS[0], cube_url=cube, client=dask_client, progress=False)
    (outcome,) = summary.outcomes
    assert outcome.state == "failed"
    reason = outcome.reasons[0]
    assert f"item {item['id']} has no 'data' asset" in reason
    assert reason.startswith("MissingAssetError")
    assert f"item {item['id']} has no 'data' asset" in read_status(cube)[(DAYS[0], TILE)].reasons[0]


def test_tiles_without_granules_are_no_input_not_failures(
    server: Any, tmp_path: Path, dask_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """h19v04 has no granule in the catalogue (think ocean): recorded ``no_input``, exit 0; a
    rerun with nothing else to do does not search again and writes nothing."""
    from lstcloud.cli.main import main
    from lstcloud.cube import day_complete

    cube = str(tmp_path / "cube.zarr")
    argv = ["ingest", "--provider", "lpcloud", "--stac-url", server.url, "--region",
            f"{TILE},h19v04", "--start", DAYS[0].isoformat(), "--end", DAYS[0].isoformat(),
            "--cube", cube, "--scheduler", dask_client.scheduler.address, "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["written"] == 1 and out["failed"] == []
    assert [(o["tile"], o["reasons"]) for o in out["no_input"]] == [
        ("h19v04", [f"no MOD21A1D granule for h19v04 {DAYS[0]} in the catalogue",
                    f"no MOD09GQ granule for h19v04 {DAYS[0]} in the catalogue"])]
    records = read_status(cube)
    assert records[(DAYS[0], "h19v04")].state == "no_input"
    assert day_complete(cube, DAYS[0], [TILE, "h19v04"])  # no granule does not hold the day
    assert not day_complete(cube, DAYS[0], [TILE, "h19v04"], strict=True)

    again = ingest(provider="lpcloud", stac_url=server.url, region=f"{TILE},h19v04",
                   start=DAYS[0], end=DAYS[0], cube_url=cube, client=dask_client, progress=False)
    assert again.ok and again.found == 0 and again.written == 0 and again.skipped == 1
    assert [o.tile for o in again.no_input] == ["h19v04"]
    assert read_status(cube) == records  # nothing rewritten


def test_the_qc_policy_of_an_ingest_is_configurable(
    catalog: Any, server: Any, tmp_path: Path, dask_client: Any
) -> None:
    loose = {"MOD21A1D": {"mandatory_qa": [0, 1, 2], "cloud_flag": [0, 1, 2, 3]}}
    cubes = {}
    for name, policy in (("default", None), ("loose", loose)):
        cubes[name] = str(tmp_path / f"{name}.zarr")
        summary = ingest(provider="lpcloud", stac_url=server.url, region=TILE, start=DAYS[0],
                         end=DAYS[0], cube_url=cubes[name], client=dask_client, progress=False,
                         qc_policy=policy)
        assert summary.ok, summary.format()
    href = _href(catalog, "MOD21A1D", DAYS[0])
    want_default = read_granule(href, "MOD21A1D")["LST_1KM"].values
    want_loose = read_granule(href, "MOD21A1D", qc_policy=loose["MOD21A1D"])["LST_1KM"].values
    assert np.isfinite(want_loose).sum() > np.isfinite(want_default).sum()
    for name, want in (("default", want_default), ("loose", want_loose)):
        got = _tile_day(open_cube(cubes[name]), "lst_day", DAYS[0], "1km")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    record = read_status(cubes["loose"])[(DAYS[0], TILE)]
    assert record.extra["qc_policy"]["MOD21A1D"]["cloud_flag"] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024-07-05", "2024-07-01", "start 2024-07-05 is after end 2024-07-01"),
        ("2024-13-01", "2024-07-01", "start: '2024-13-01' is not a date"),
        ("2024-07-01", "yesterday-ish", "end: 'yesterday-ish' is not a date"),
    ],
)
def test_bad_dates_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], start: str, end: str, message: str
) -> None:
    from lstcloud.cli.main import main

    argv = ["ingest", "--provider", "lpcloud", "--stac-url", "http://127.0.0.1:9", "--region",
            TILE, "--start", start, "--end", end, "--cube", str(tmp_path / "c.zarr")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "c.zarr").exists()
    with pytest.raises(ConfigError, match=r"is after end|is not a date"):
        ingest(provider="lpcloud", stac_url="http://127.0.0.1:9", region=TILE, start=start,
               end=end, cube_url=str(tmp_path / "c.zarr"))


def test_a_bad_qc_policy_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lstcloud.cli.main import main

    argv = ["ingest", "--provider", "lpcloud", "--stac-url", "http://127.0.0.1:9", "--region",
            TILE, "--start", "2024-07-01", "--end", "2024-07-01", "--cube",
            str(tmp_path / "c.zarr"), "--qc-policy", '{"MOD21A1D": {"cloud_flag": [9]}}']
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cloud_flag" in err[0], err


def test_recording_a_failed_search_survives_store_errors(
    server: Any, s3_bucket: str, s3_proxy: Any, proxy_options: Any, s3_storage_options: Any,
    fault_proxy_factory: Any,
) -> None:
    """The catalogue fails (404) and so does the status-record PUT: the run still ends with a
    summary naming both; a transient record error is retried."""
    stac = fault_proxy_factory(server.url, fault="404", count=-1)
    kwargs = dict(provider="lpcloud", stac_url=stac.url, region=TILE, start=DAYS[0],
                  end=DAYS[0], storage_options=proxy_options, progress=False,
                  retry=RetryPolicy(attempts=3, base=0.01))

    s3_proxy.add_fault("PUT", r"/_lstcloud/status/", status=403, code="AccessDenied", count=-1)
    summary = ingest(cube_url=f"{s3_bucket}/denied.zarr", **kwargs)
    (outcome,) = summary.outcomes
    assert outcome.state == "failed" and not summary.ok
    assert "catalogue search for" in outcome.reasons[0]
    assert "could not write the status record" in outcome.reasons[-1]
    assert f"2024-07-01 {TILE} in the cube {s3_bucket}/denied.zarr" in outcome.reasons[-1]
    assert "FAILED 2024-07-01" in summary.format()

    s3_proxy.clear()
    s3_proxy.add_fault("PUT", r"/_lstcloud/status/", status=503, code="ServiceUnavailable",
                       count=1)
    cube = f"{s3_bucket}/retried.zarr"
    summary = ingest(cube_url=cube, **kwargs)
    (outcome,) = summary.outcomes
    assert len(outcome.retries) == 1 and s3_proxy.faults_served == 1
    assert read_status(cube, storage_options=s3_storage_options)[(DAYS[0], TILE)].state == "failed"


def test_an_ingest_region_across_the_antimeridian_is_refused_before_any_cube(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--region 170,-10,-170,10`` (8 tiles) once built a cube 36 tiles wide; now it exits 2
    with one line naming the two boxes to ingest instead, and nothing is created."""
    from lstcloud.cli.main import main

    cube = tmp_path / "c.zarr"
    argv = ["ingest", "--provider", "lpcloud", "--stac-url", "http://127.0.0.1:9", "--region",
            "170,-10,-170,10", "--start", "2024-07-01", "--end", "2024-07-01", "--cube",
            str(cube)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "antimeridian" in err[0], err
    assert "'170,-10,180,10'" in err[0] and "'-180,-10,-170,10'" in err[0]
    assert not cube.exists()


def test_ingest_into_an_existing_cube_says_no_library_warning(
    server: Any, tmp_path: Path, dask_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24, item 2: ``ZarrUserWarning: Object at status is not recognized ...`` was printed
    on every ingest into an existing cube. Under ``-W error::UserWarning`` (as here) it would
    fail the second ingest; the CLI says nothing but its summary."""
    import warnings

    from lstcloud.cli.main import main

    cube = str(tmp_path / "cube.zarr")
    for day in DAYS[:2]:  # the second one appends to the cube the first created
        argv = ["ingest", "--provider", "lpcloud", "--stac-url", server.url, "--region", TILE,
                "--start", str(day), "--end", str(day), "--cube", cube, "--no-progress",
                "--scheduler", dask_client.scheduler.address]
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            assert main(argv) == 0, capsys.readouterr()
        out, err = capsys.readouterr()
        assert "1 (day, tile) written" in out
        assert "Warning" not in err and "warning" not in err, err
    # each granule's own collection is recorded (issue 24, item 7)
    collections = read_status(cube)[(DAYS[0], TILE)].extra["collections"]
    assert len(collections) == 2 and set(collections.values()) == {"061"}
