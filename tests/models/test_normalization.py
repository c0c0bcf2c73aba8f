"""Normalization: statistics ignoring NaN, round trip, validation."""

from __future__ import annotations

import numpy as np
import pytest

from lstcloud.errors import ConfigError
from lstcloud.models import Normalization


def test_from_arrays_ignores_nan_and_accepts_lists() -> None:
    lst = np.array([[290.0, np.nan], [300.0, 310.0]], np.float32)
    ndvi = [np.array([0.2, np.nan, 0.4]), np.array([[0.6]])]
    norm = Normalization.from_arrays(lst, ndvi)
    assert norm.lst_mean == pytest.approx(300.0)
    assert norm.lst_std == pytest.approx(np.std([290.0, 300.0, 310.0]))
    assert norm.ndvi_mean == pytest.approx(0.4)
    z = norm.lst_to_z(np.float32(310.0))
    assert norm.lst_from_z(z) == pytest.approx(310.0)
    assert norm.ndvi_to_z(0.4) == pytest.approx(0.0)


def test_round_trip_and_errors() -> None:
    norm = Normalization(lst_mean=295, lst_std=8, ndvi_mean=0.4, ndvi_std=0.2)
    assert Normalization.from_dict(norm.to_dict()) == norm
    assert isinstance(norm.to_dict()["lst_mean"], float)
    with pytest.raises(ConfigError, match="lst_std"):
        Normalization(lst_mean=295, lst_std=0, ndvi_mean=0.4, ndvi_std=0.2)
    with pytest.raises(ConfigError, match="finite"):
        Normalization(lst_mean=float("nan"), lst_std=1, ndvi_mean=0.4, ndvi_std=0.2)
    with pytest.raises(ConfigError, match="exactly"):
        Normalization.from_dict({"lst_mean": 1.0})
    with pytest.raises(ConfigError, match="no finite lst"):
        Normalization.from_arrays(np.full(4, np.nan), np.ones(4))
