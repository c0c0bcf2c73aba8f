"""Fixed colour maps and ranges of the variables the service draws, so that days compare."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from lstcloud.cube.product import LST_VAR, QUALITY_VAR, SPREAD_VAR

__all__ = [
    "MASK_VAR",
    "STYLES",
    "UNCERTAINTY_VAR",
    "LayerStyle",
    "drawable_layers",
    "with_quality_mask",
]

#: The model's per-pixel uncertainty (K), once products carry it.
UNCERTAINTY_VAR = "lst_250m_uncertainty"
#: Derived layer: 1 where ``lst_250m_quality`` has any flag set (255 = not computed excluded).
MASK_VAR = "quality_mask"


@dataclass(frozen=True)
class LayerStyle:
    """How one variable is drawn: a matplotlib colour map over a fixed range."""

    variable: str
    label: str
    units: str
    cmap: str
    vmin: float
    vmax: float

    @property
    def colorscalerange(self) -> tuple[float, float]:
        """``(vmin, vmax)``."""
        return (self.vmin, self.vmax)


STYLES: dict[str, LayerStyle] = {
    LST_VAR: LayerStyle(LST_VAR, "land-surface temperature", "K", "turbo", 250.0, 330.0),
    SPREAD_VAR: LayerStyle(SPREAD_VAR, "ensemble spread", "K", "magma", 0.0, 2.0),
    UNCERTAINTY_VAR: LayerStyle(UNCERTAINTY_VAR, "uncertainty", "K", "magma", 0.0, 2.0),
    MASK_VAR: LayerStyle(MASK_VAR, "quality flag set", "", "Greys", 0.0, 1.0),
}


def with_quality_mask(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` plus the lazy :data:`MASK_VAR` layer (NaN where no flag, so it draws nothing)."""
    if QUALITY_VAR not in ds:
        return ds
    q = ds[QUALITY_VAR]
    flagged = (q != 0) & (q != 255)
    mask = xr.where(flagged, np.float32(1.0), np.float32(np.nan)).astype("float32")
    mask.attrs = {"long_name": "a quality flag is set", "grid_mapping": "spatial_ref"}
    out = ds.assign({MASK_VAR: mask})
    for name in ds.coords:  # xr.where drops the coordinates' CF attributes (axis, units)
        out[name].attrs = dict(ds[name].attrs)
    return out


def drawable_layers(ds: xr.Dataset) -> list[LayerStyle]:
    """The styled layers present in ``ds`` (LST first)."""
    return [style for name, style in STYLES.items() if name in ds]
