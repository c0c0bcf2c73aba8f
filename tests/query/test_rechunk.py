"""The time-series-optimised copy holds the same data with long time chunks."""

from __future__ import annotations

import numpy as np

from lstcloud.query import load_product, point_series, product_info, rechunk_for_timeseries


def test_rechunked_copy_is_identical_with_time_chunks(product, tmp_path):
    url, truth = product
    out = str(tmp_path / "ts.zarr")
    rechunk_for_timeseries(url, out, time_chunk=4, space_chunk=32)
    copy = load_product(out)
    assert copy["lst_250m"].encoding["chunks"] == (4, 32, 32)
    assert copy.sizes == {"time": 10, "y": 96, "x": 96}
    np.testing.assert_array_equal(copy["lst_250m"].values, truth["lst_250m"].values)
    np.testing.assert_array_equal(copy["lst_250m_quality"].values,
                                  truth["lst_250m_quality"].values)
    np.testing.assert_array_equal(copy["time"].values, truth["time"].values)
    a = point_series(load_product(url), lon=3.1, lat=45.7)
    b = point_series(copy, lon=3.1, lat=45.7)
    np.testing.assert_array_equal(a["lst_250m"].values, b["lst_250m"].values)
    assert product_info(out).complete_days == product_info(url).complete_days
