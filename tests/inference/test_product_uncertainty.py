"""The calibrated sigma in the product, end to end on a real cluster: the model's own sigma,
stored to its storage step."""

from __future__ import annotations

import datetime as dt

import numpy as np

from lstcloud.cube.product import UNCERTAINTY_STEP_K, open_product
from lstcloud.inference.predict import predict_cube
from tests.inference.cubes import day_inputs, write_input_cube
from tests.models.test_uncertainty import _CalibratedStandIn, _section

D0 = dt.date(2021, 7, 1)


def test_predicted_product_stores_the_models_sigma_to_1_128_kelvin(
    tmp_path, cluster_client
) -> None:
    """End to end: `predict_cube` writes the model's own sigma (as predict_with_uncertainty
    gives it for the whole day, away from the region's edge), rounded to its storage step."""
    lst, ndvi = day_inputs(40, 36, [D0])
    cube = write_input_cube(tmp_path / "in.zarr", lst=lst, ndvi=ndvi, days=[D0],
                            chunks_1km=(20, 18))
    model = _CalibratedStandIn(_section())
    out = str(tmp_path / "product.zarr")
    summary = predict_cube(cube_url=cube, model=model, out_url=out, start=D0, end=D0,
                           client=cluster_client, device="cpu", tile_1km=12)
    assert summary.written == (D0,), summary.format()
    product = open_product(out)
    stored = product["lst_250m_uncertainty"].values[0]
    assert "1/128 K" in product["lst_250m_uncertainty"].attrs["comment"]
    finite = np.isfinite(stored)
    np.testing.assert_array_equal(finite, np.isfinite(product["lst_250m"].values[0]))
    assert finite.mean() > 0.5
    steps = stored[finite] / UNCERTAINTY_STEP_K
    np.testing.assert_array_equal(steps, np.round(steps))
    _, direct = model.predict_with_uncertainty(lst[0], ndvi[0])
    m = model.uncertainty_halo_px + 8
    inner = (slice(m, -m), slice(m, -m))
    assert np.nanmax(np.abs(stored[inner] - direct[inner])) <= UNCERTAINTY_STEP_K / 2 + 1e-3
