"""``lstcloud query``, ``lstcloud info`` and ``lstcloud catalog publish`` from the command line."""

from __future__ import annotations

import json

import rasterio

from lstcloud.cli.main import main


def test_query_point_prints_csv(product, capsys):
    url, _ = product
    assert main(["query", "point", "--product", url, "--lon", "3.1", "--lat", "45.7",
                 "--start", "2024-01-02", "--end", "2024-01-03"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0] == "date,lst_k,quality,flags,complete"
    assert [line.split(",")[0] for line in lines[1:]] == ["2024-01-02", "2024-01-03"]
    assert [line.split(",")[-1] for line in lines[1:]] == ["true", "true"]
    assert "warning" not in captured.err
    assert "pixel row" in captured.err


def test_query_point_json_to_file(product, tmp_path):
    url, _ = product
    out = tmp_path / "p.json"
    assert main(["query", "point", "--product", url, "--lon", "3.1", "--lat", "45.7",
                 "--format", "json", "--out", str(out)]) == 0
    series = json.loads(out.read_text())["series"]
    assert len(series) == 10


def test_flag_names_decode_the_quality_bits() -> None:
    """The query shows each day's flags by name, ``guide_missing`` included (issue 24)."""
    from lstcloud.cube.quality import flag_names

    assert flag_names(0) == "ok" and flag_names(255) == "not_computed"
    assert flag_names(32 | 8) == "near_invalid+guide_missing"


def test_query_bbox_writes_a_lonlat_geotiff(product, tmp_path):
    url, _ = product
    out = tmp_path / "box.tif"
    assert main(["query", "bbox", "--product", url, "--bbox", "3.0,45.65,3.2,45.8",
                 "--date", "2024-01-02", "--out", str(out), "--crs", "EPSG:4326"]) == 0
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 4326
        assert src.count == 1


def test_query_errors_exit_1_with_a_message(product, capsys):
    url, _ = product
    assert main(["query", "point", "--product", url, "--lon", "50", "--lat", "45.7"]) == 1
    assert "outside the product grid" in capsys.readouterr().err


def test_info_text_and_json(product, capsys):
    url, _ = product
    assert main(["info", url]) == 0
    text = capsys.readouterr().out
    assert "missing     6 day(s)" in text
    assert main(["info", url, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["complete_days"]) == 4


def test_query_bbox_stats_prints_csv(product, capsys):
    url, _ = product
    assert main(["query", "bbox", "--product", url, "--bbox", "3.0,45.65,3.2,45.8",
                 "--date", "2024-01-01", "--end", "2024-01-03", "--stats"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("date,mean_k,") and lines[0].endswith(",complete")
    assert len(lines) == 4 and 280 < float(lines[1].split(",")[1]) < 290


def test_query_bbox_needs_out_or_stats(product, capsys):
    url, _ = product
    assert main(["query", "bbox", "--product", url, "--bbox", "3.0,45.65,3.2,45.8",
                 "--date", "2024-01-02"]) == 2  # a usage error (issue 24: exit codes)
    assert "--out" in capsys.readouterr().err


# ---------------------------------------------------------------- days without their marker
# The sample product has days 0-2 and 4 complete: 2024-01-04 and 2024-01-06..10 have no
# completion marker (a killed predict leaves such days with whatever chunks it wrote).


def test_query_point_flags_days_without_a_marker_in_csv_and_json(product, capsys, tmp_path):
    url, _ = product
    assert main(["query", "point", "--product", url, "--lon", "3.1", "--lat", "45.7",
                 "--start", "2024-01-03", "--end", "2024-01-05"]) == 0
    captured = capsys.readouterr()
    rows = [line.split(",") for line in captured.out.strip().splitlines()[1:]]
    assert [(r[0], r[-1]) for r in rows] == [
        ("2024-01-03", "true"), ("2024-01-04", "false"), ("2024-01-05", "true")
    ]
    assert "1 day(s) without a completion marker" in captured.err and "2024-01-04" in captured.err
    out = tmp_path / "p.json"
    assert main(["query", "point", "--product", url, "--lon", "3.1", "--lat", "45.7",
                 "--format", "json", "--out", str(out)]) == 0
    series = json.loads(out.read_text())["series"]
    assert [r["complete"] for r in series] == [True] * 3 + [False, True] + [False] * 5


def test_query_bbox_refuses_days_without_a_marker_naming_them(product, capsys, tmp_path):
    url, _ = product
    out = tmp_path / "box.tif"
    for extra in (["--stats"], ["--out", str(out)]):
        assert main(["query", "bbox", "--product", url, "--bbox", "3.0,45.65,3.2,45.8",
                     "--date", "2024-01-02", "--end", "2024-01-06", *extra]) == 1
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        assert len(err) == 1 and "2 day(s)" in err[0], err
        assert "2024-01-04, 2024-01-06" in err[0] and "--allow-partial" in err[0]
        assert captured.out == ""
    assert not out.exists()


def test_query_bbox_allow_partial_flags_the_days(product, capsys, tmp_path):
    url, _ = product
    assert main(["query", "bbox", "--product", url, "--bbox", "3.0,45.65,3.2,45.8",
                 "--date", "2024-01-03", "--end", "2024-01-04", "--stats",
                 "--allow-partial"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0].endswith(",complete")
    assert [(line[:10], line.rsplit(",", 1)[1]) for line in lines[1:]] == [
        ("2024-01-03", "true"), ("2024-01-04", "false")
    ]
    assert "2024-01-04" in captured.err and "allow-partial" in captured.err
    out = tmp_path / "box.tif"
    assert main(["query", "bbox", "--product", url, "--bbox", "3.0,45.65,3.2,45.8",
                 "--date", "2024-01-03", "--end", "2024-01-04", "--out", str(out),
                 "--allow-partial"]) == 0
    with rasterio.open(out) as src:
        assert src.count == 2
        assert src.tags()["incomplete_days"] == "2024-01-04"
    nc = tmp_path / "box.nc"
    assert main(["query", "bbox", "--product", url, "--bbox", "3.0,45.65,3.2,45.8",
                 "--date", "2024-01-03", "--end", "2024-01-04", "--out", str(nc),
                 "--allow-partial"]) == 0
    import xarray as xr

    with xr.open_dataset(nc, engine="h5netcdf") as ds:
        assert ds["day_complete"].values.tolist() == [True, False]
