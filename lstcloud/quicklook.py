"""Quick-look PNG of one day: 1 km LST input, 250 m NDVI and 250 m LST output side by side."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from lstcloud.core.errors import CubeError
from lstcloud.core.redact import redact_url

__all__ = ["write_quicklook"]


def _decimate(array: Any, max_px: int) -> tuple[np.ndarray, int]:
    """Every ``step``-th pixel of a lazy 2-D DataArray, sliced before anything is read."""
    step = max(1, int(np.ceil(max(array.shape) / max_px)))
    y, x = array.dims
    picked = array.isel({y: slice(None, None, step), x: slice(None, None, step)})
    return np.asarray(picked.values), step


def _guide_missing_share(product: Any, day: np.datetime64, max_px: int) -> float:
    """Share of the drawn output pixels flagged ``guide_missing`` (no 250 m guide that day)."""
    from lstcloud.cube.quality import QualityFlag

    if "lst_250m_quality" not in product:
        return 0.0
    flags, _ = _decimate(product["lst_250m_quality"].sel(time=day), max_px)
    computed = flags != 255
    if not computed.any():
        return 0.0
    return float(((flags & int(QualityFlag.GUIDE_MISSING)) > 0)[computed].mean())


def write_quicklook(
    *,
    cube_url: str,
    product_url: str,
    date: dt.date,
    path: str | Path,
    storage_options: dict[str, Any] | None = None,
    max_px: int = 1200,
    dpi: int = 110,
) -> Path:
    """Write a PNG with the day's 1 km LST, 250 m NDVI and 250 m LST output side by side.

    Parameters
    ----------
    cube_url, product_url
        The input cube and the product cube.
    date
        The day to show.
    path
        Output PNG path.
    storage_options
        fsspec options for both cubes.
    max_px
        Largest side drawn per panel at 250 m (larger areas are decimated, never resampled);
        the 1 km panel uses a quarter of it so the three panels show the same pixels per km.
    dpi
        Figure resolution.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    from lstcloud.cube import open_input_cube, open_product

    day = np.datetime64(date, "ns")
    cube = open_input_cube(cube_url, storage_options=storage_options)
    product = open_product(product_url, storage_options=storage_options)
    for name, ds, url in (("input cube", cube, cube_url), ("product", product, product_url)):
        if day not in ds["time"].values:
            raise CubeError(f"{date} is not on the time axis of the {name} {redact_url(url)}")
    lst_1km, step1 = _decimate(cube["lst_day"].sel(time=day), max(1, max_px // 4))
    ndvi, step = _decimate(cube["ndvi"].sel(time=day), max_px)
    out, _ = _decimate(product["lst_250m"].sel(time=day), max_px)
    unguided = _guide_missing_share(product, day, max_px)
    finite = np.concatenate([a[np.isfinite(a)] for a in (lst_1km, out)])
    vmin, vmax = np.percentile(finite, [2, 98]) if finite.size else (270.0, 320.0)

    fig, axes = plt.subplots(1, 3, figsize=(15, 5.4), constrained_layout=True)
    panels = (
        (
            lst_1km,
            f"MODIS LST 1 km (input){f' 1/{step1}' if step1 > 1 else ''}",
            "inferno",
            (vmin, vmax),
            "K",
        ),
        (
            ndvi,
            f"NDVI 250 m (guide){f' 1/{step}' if step > 1 else ''}"
            + ("" if np.isfinite(ndvi).any() else "\nmissing that day"),
            "YlGn",
            (-0.1, 0.9),
            "",
        ),
        (
            out,
            f"LST 250 m ({product.attrs.get('lstcloud_model_name', 'model')})"
            + (f"\n{unguided:.0%} interpolated: no NDVI guide that day" if unguided else ""),
            "inferno",
            (vmin, vmax),
            "K",
        ),
    )
    for ax, (values, title, cmap, (lo, hi), unit) in zip(axes, panels, strict=True):
        image = ax.imshow(values, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, shrink=0.8, label=unit)
    complete = date.isoformat() in product.attrs.get("complete_days", [])
    state = "" if complete else "  [day NOT complete: missing chunks are blank]"
    fig.suptitle(f"lstcloud {date.isoformat()}  (blank = no data: cloud, water, fill){state}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
