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
    assert lines[0] == "date,lst_k,quality"
    assert [line.split(",")[0] for line in lines[1:]] == ["2024-01-02", "2024-01-03"]
    assert "pixel row" in captured.err


def test_query_point_json_to_file(product, tmp_path):
    url, _ = product
    out = tmp_path / "p.json"
    assert main(["query", "point", "--product", url, "--lon", "3.1", "--lat", "45.7",
                 "--format", "json", "--out", str(out)]) == 0
    assert len(json.loads(out.read_text())["series"]) == 10


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
                 "--date", "2024-01-02", "--end", "2024-01-04", "--stats"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("date,mean_k,")
    assert len(lines) == 4 and 280 < float(lines[1].split(",")[1]) < 290


def test_query_bbox_needs_out_or_stats(product, capsys):
    url, _ = product
    assert main(["query", "bbox", "--product", url, "--bbox", "3.0,45.65,3.2,45.8",
                 "--date", "2024-01-02"]) == 1
    assert "--out" in capsys.readouterr().err
