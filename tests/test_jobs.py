"""``lstcloud run``: the job YAML is validated field by field; the daily job runs end to end."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from lstcloud.cli.main import main
from lstcloud.errors import ConfigError
from lstcloud.inference.quality import QualityFlag
from lstcloud.jobs import JobConfig, load_job_config, parse_day, run_job

PROJECT = Path(__file__).resolve().parents[1]
GOOD = {
    "provider": "lpcloud",
    "stac_url": "http://127.0.0.1:9/api",
    "region": "h18v04",
    "cube_url": "s3://bucket/input.zarr",
    "product_url": "s3://bucket/product.zarr",
}


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_example_job_file_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSTCLOUD_BUCKET", "my-bucket")
    config = load_job_config(PROJECT / "deploy" / "examples" / "job.yaml")
    assert config.product_url == "s3://my-bucket/product.zarr"
    assert config.region == "europe" and config.publish is not None
    assert config.resolved_device is None


def test_defaults_and_bbox_region(tmp_path: Path) -> None:
    config = load_job_config(_write(tmp_path, {**GOOD, "region": [-5.0, 42.0, 8.0, 51.0]}))
    assert config.model == "default" and config.device == "auto"
    assert config.chunks_1km == 300 and config.scheduler is None
    assert isinstance(config, JobConfig)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"provider": "nasa"}, "provider", "'planetary-computer' or 'lpcloud'"),
        ({"stac_url": "ftp://host/stac"}, "stac_url", "http(s)"),
        ({"region": "atlantis"}, "region", "atlantis"),
        ({"region": [10, 40, 5, 50]}, "region", "W < E"),
        ({"cube_url": "https://example.org/cube.zarr"}, "cube_url", "not a writable store"),
        ({"product_url": ""}, "product_url", "must not be empty"),
        ({"device": "gpu"}, "device", "'auto', 'cpu' or 'cuda'"),
        ({"chunks_1km": 7}, "chunks_1km", "divide 1200"),
        ({"batch_size": 0}, "batch_size", "greater than or equal to 1"),
        ({"lookback_days": -1}, "lookback_days", "greater than or equal to 0"),
        ({"lookback_days": 40}, "lookback_days", "less than or equal to 31"),
        ({"scheduler": "not an address"}, "scheduler", "tcp://host:8786"),
        ({"include_night": "perhaps"}, "include_night", "boolean"),
        ({"modle": "sif-cnn-sr2"}, "modle", "unknown field"),
        ({"publish": {"outdir": "/x"}}, "publish.outdir", "unknown field"),
        ({"publish": {}}, "publish.out_dir", "required field is missing"),
        ({"publish": {"out_dir": "/x", "api_url": "ftp://stac"}}, "publish.api_url", "http"),
        ({"publish": {"out_dir": "/x", "cog": "perhaps"}}, "publish.cog", "boolean"),
    ],
)
def test_each_wrong_field_is_named(tmp_path: Path, change: dict, field: str, words: str) -> None:
    path = _write(tmp_path, {**GOOD, **change})
    with pytest.raises(ConfigError) as info:
        load_job_config(path)
    message = str(info.value)
    assert str(path) in message
    assert any(line.strip().startswith(f"- {field}:") and words in line
               for line in message.splitlines()), message


def test_all_errors_at_once_and_missing_fields(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_job_config(_write(tmp_path, {"provider": "x", "device": "tpu"}))
    message = str(info.value)
    for field in ("provider", "device", "stac_url", "region", "cube_url", "product_url"):
        assert f"- {field}:" in message
    assert "6 error(s)" in message


def test_environment_variables_expand_or_fail_by_name(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUCKET", "b1")
    monkeypatch.delenv("NOPE", raising=False)
    config = load_job_config(_write(tmp_path, {**GOOD, "cube_url": "s3://${BUCKET}/in.zarr"}))
    assert config.cube_url == "s3://b1/in.zarr"
    with pytest.raises(ConfigError, match=r"product_url: environment variable \$\{NOPE\}"):
        load_job_config(_write(tmp_path, {**GOOD, "product_url": "s3://${NOPE}/p.zarr"}))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_job_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("provider: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_job_config(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_job_config(bad)


def test_parse_day() -> None:
    today = dt.date(2024, 3, 1)
    assert parse_day(None, today=today) == dt.date(2024, 2, 29)
    assert parse_day("yesterday", today=today) == dt.date(2024, 2, 29)
    assert parse_day("today", today=today) == today
    assert parse_day("2024-01-05") == dt.date(2024, 1, 5)
    with pytest.raises(ConfigError, match="--date"):
        parse_day("05/01/2024")


def test_cli_check_and_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    good = _write(tmp_path, GOOD)
    assert main(["run", "--config", str(good), "--date", "2024-07-01", "--check"]) == 0
    assert "valid job for 2024-07-01" in capsys.readouterr().out
    bad = _write(tmp_path, {**GOOD, "device": "gpu"})
    assert main(["run", "--config", str(bad), "--date", "2024-07-01", "--check"]) == 2  # usage
    assert "device:" in capsys.readouterr().err


@pytest.mark.slow
def test_run_job_ingests_predicts_and_publishes_a_day(tmp_path: Path, dask_client: Any,
                                                      capsys: pytest.CaptureFixture) -> None:
    from lstcloud.cube import open_input_cube
    from lstcloud.cube.product import open_product
    from lstcloud.models import load_model
    from lstcloud.samples.stac import build_sample_catalog
    from lstcloud.stacserver import StacServer

    day = dt.date(2024, 7, 2)
    catalog = build_sample_catalog(tmp_path / "granules", provider="lpcloud", tiles=["h18v04"],
                                   dates=[day], products=["MOD21A1D", "MOD09GQ"], seed=5)
    with StacServer(catalog.collections, catalog.items) as server:
        data = {**GOOD, "stac_url": server.url, "cube_url": str(tmp_path / "input.zarr"),
                "product_url": str(tmp_path / "product.zarr"), "model": "bicubic",
                "device": "cpu", "publish": {"out_dir": str(tmp_path / "catalog")}}
        config = load_job_config(_write(tmp_path, data))
        result = run_job(config, day, client=dask_client)
        assert result.ok, result.format()
        assert result.predict.written == (day,)
        # the same job through the CLI, as the CronJob runs it: the day is skipped
        job = _write(tmp_path, {**data, "scheduler": dask_client.scheduler.address})
        assert main(["run", "--config", str(job), "--date", day.isoformat()]) == 0
        assert "skipped   1 day(s)" in capsys.readouterr().out

    product = open_product(data["product_url"])
    assert product.attrs["complete_days"] == [day.isoformat()]
    assert product.attrs["lstcloud_model_name"] == "bicubic"
    out = product.lst_250m.sel(time=np.datetime64(day, "ns")).values
    cube = open_input_cube(data["cube_url"]).sel(time=np.datetime64(day, "ns"))
    lst, ndvi = cube.lst_day.values, cube.ndvi.values
    # independent path: the model on the whole tile in memory
    model = load_model("bicubic")
    direct = model.predict(lst, ndvi)
    assert np.isfinite(out).sum() > 1_000_000
    np.testing.assert_array_equal(np.isnan(out), np.isnan(direct))
    m = model.receptive_field_px + 4  # at the cube's edge the pipeline replicates the input
    np.testing.assert_allclose(out[m:-m, m:-m], direct[m:-m, m:-m], atol=1e-3, equal_nan=True)
    quality = product.lst_250m_quality.sel(time=np.datetime64(day, "ns")).values
    rf = model.receptive_field_px  # the region edge is flagged, never silently trusted
    assert (quality[:, :rf] & QualityFlag.REGION_EDGE).all()
    assert not (quality[rf:-rf, rf:-rf] & QualityFlag.REGION_EDGE).any()
    inner = quality[m:-m, m:-m]
    assert (inner == QualityFlag.OK).mean() > 0.2
    np.testing.assert_array_equal((inner & QualityFlag.LST_MISSING) > 0, np.isnan(out[m:-m, m:-m]))
    collection = json.loads((tmp_path / "catalog" / "collection.json").read_text())
    assert collection["type"] == "Collection"
    assert result.collection == tmp_path / "catalog" / "collection.json"


@pytest.mark.slow
def test_a_failed_ingest_is_neither_predicted_nor_published_and_a_retry_fixes_it(
    tmp_path: Path, dask_client: Any, capsys: pytest.CaptureFixture
) -> None:
    import shutil

    from lstcloud.cube.product import complete_days
    from lstcloud.samples.granules import corrupt_file
    from lstcloud.samples.stac import build_sample_catalog
    from lstcloud.stacserver import StacServer

    day = dt.date(2024, 7, 3)
    catalog = build_sample_catalog(tmp_path / "granules", provider="lpcloud", tiles=["h18v04"],
                                   dates=[day], products=["MOD21A1D", "MOD09GQ"], seed=6)
    (lst_item,) = [i for i in catalog.items if i["collection"].upper().startswith("MOD21")]
    granule = Path(lst_item["assets"]["data"]["href"])
    shutil.copy(granule, tmp_path / "good.hdf")
    corrupt_file(granule, mode="truncate")  # a download cut short on the provider's side
    with StacServer(catalog.collections, catalog.items) as server:
        data = {**GOOD, "stac_url": server.url, "cube_url": str(tmp_path / "input.zarr"),
                "product_url": str(tmp_path / "product.zarr"), "model": "bicubic",
                "device": "cpu", "publish": {"out_dir": str(tmp_path / "catalog")},
                "scheduler": dask_client.scheduler.address}
        job = _write(tmp_path, data)
        # the CronJob's first attempt: exit 3 (the Job retries), nothing predicted or published
        assert main(["run", "--config", str(job), "--date", day.isoformat()]) == 3
        out = capsys.readouterr().out
        assert "FAILED" in out and f"not run: the ingest of {day} failed for 1 tile(s)" in out
        assert "h18v04:" in out
        assert complete_days(data["product_url"]) == {}
        assert not (tmp_path / "catalog" / "collection.json").exists()
        result = run_job(load_job_config(job), day, client=dask_client)
        assert result.predict is None and not result.ok
        # the granule is fine again (re-published): the retry ingests, predicts and publishes
        shutil.copy(tmp_path / "good.hdf", granule)
        assert main(["run", "--config", str(job), "--date", day.isoformat()]) == 0, (
            capsys.readouterr().out)
    assert list(complete_days(data["product_url"])) == [day]
    collection = json.loads((tmp_path / "catalog" / "collection.json").read_text())
    assert collection["extent"]["temporal"]["interval"][0][1].startswith(day.isoformat())


def test_job_window_covers_the_lookback_days(tmp_path: Path) -> None:
    from lstcloud.jobs import job_window

    day = dt.date(2024, 3, 1)
    assert job_window(load_job_config(_write(tmp_path, GOOD)), day) == (day,)
    config = load_job_config(_write(tmp_path, {**GOOD, "lookback_days": 2}))
    assert job_window(config, day) == (dt.date(2024, 2, 28), dt.date(2024, 2, 29), day)


@pytest.mark.slow
def test_a_granule_published_late_is_picked_up_by_the_next_daily_run(
    tmp_path: Path, dask_client: Any
) -> None:
    """Day D-1's LST granule is missing from the catalogue when D-1 first runs: the tile is
    ``no_input`` and the day is predicted without it. It appears later: the run of day D (with
    ``lookback_days: 1``) ingests it and predicts D-1 again, with the granule."""
    from lstcloud.cube.product import complete_days, open_product
    from lstcloud.samples.stac import build_sample_catalog
    from lstcloud.stacserver import StacServer

    late, day = dt.date(2024, 7, 4), dt.date(2024, 7, 5)
    catalog = build_sample_catalog(tmp_path / "granules", provider="lpcloud", tiles=["h18v04"],
                                   dates=[late, day], products=["MOD21A1D", "MOD09GQ"], seed=7)
    lst_late = [i for i in catalog.items if i["collection"].upper().startswith("MOD21")
                and late.strftime("A%Y%j") in i["id"]]
    assert len(lst_late) == 1
    first_items = [i for i in catalog.items if i not in lst_late]
    data = {**GOOD, "cube_url": str(tmp_path / "input.zarr"),
            "product_url": str(tmp_path / "product.zarr"), "model": "bicubic", "device": "cpu",
            "lookback_days": 1}
    with StacServer(catalog.collections, first_items) as server:
        config = load_job_config(_write(tmp_path, {**data, "stac_url": server.url}))
        first = run_job(config, late, client=dask_client)
    assert first.ok, first.format()
    assert complete_days(data["product_url"])[late]["tiles_without_input"] == ["h18v04"]
    t = np.datetime64(late, "ns")
    assert np.isnan(open_product(data["product_url"]).lst_250m.sel(time=t).values).all()

    with StacServer(catalog.collections, catalog.items) as server:
        config = load_job_config(_write(tmp_path, {**data, "stac_url": server.url}))
        second = run_job(config, day, client=dask_client)
    assert second.ok, second.format()
    assert second.days == (late, day)
    assert set(second.predict.written) == {late, day}
    assert complete_days(data["product_url"])[late]["tiles_without_input"] == []
    values = open_product(data["product_url"]).lst_250m.sel(time=t).values
    assert np.isfinite(values).mean() > 0.3


def test_a_backfill_window_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from lstcloud.jobs import job_window

    config = load_job_config(_write(tmp_path, {**GOOD, "lookback_days": 2}))
    start, end = dt.date(2024, 6, 1), dt.date(2024, 6, 30)
    window = job_window(config, end, start=start)
    assert window[0] == start and window[-1] == end and len(window) == 30
    with pytest.raises(ConfigError, match="after its last day"):
        job_window(config, start, start=end)
    job = _write(tmp_path, GOOD)
    assert main(["run", "--config", str(job), "--date", "2024-06-01", "--from", "2024-06-30",
                 "--check"]) == 2
    assert "--from 2024-06-30 is after --date 2024-06-01" in capsys.readouterr().err
    assert main(["run", "--config", str(job), "--date", "2024-06-30", "--from", "2024-06-01",
                 "--check"]) == 0
