"""The ASTER protocol: super-resolve the real 1 km LST and score it against ASTER AST_08.

Per sample:

1. every method super-resolves the MODIS 1 km LST 4x with the 250 m NDVI, which was put on the
   LST grid / 4 by geotransform (NDVI pixels the window misses are filled with the nearest
   NDVI value; see :func:`lstcloud.evaluate.datasets.fill_nearest`);
2. the 250 m output (MODIS sinusoidal, LST geotransform / 4) is reprojected **onto the ASTER
   grid** (UTM 31N, ~231.65 m) bilinearly with :func:`rasterio.warp.reproject`; no PSF is
   applied to either side (ASTER is already resampled to ~231.65 m);
3. ASTER (K x 10 in the file) is masked: 0 (outside the scene), the 200 K swath-edge fill and
   anything below ``min_valid_k`` (250 K); the valid mask is then eroded by ``erode_px``
   pixels (3x3 square structuring element, grid edges count as invalid), which drops the
   pixels next to the fill that any resampling contaminates;
4. the scored region is the eroded ASTER mask where every method's output is finite; all
   methods are scored on the same pixels.

``ssim`` averages the SSIM map over the valid region only. ``ssim_bbox`` (extra key) is the
SSIM of the valid region's bounding box with masked pixels filled by the reference mean, the
convention of the independent script behind the reference figures in the science notes; it
is about 0.05 higher because the filled corners of the rotated scene score SSIM ~1.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from rasterio.warp import Resampling, reproject
from scipy import ndimage

from lstcloud.errors import ConfigError

from .datasets import DevSample, GeoRaster, fill_nearest
from .methods import Method
from .metrics import score, ssim_bounding_box
from .results import ProtocolResult, SamplePanel

__all__ = ["AsterConfig", "aster_valid_mask", "evaluate_aster", "to_aster_grid"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AsterConfig:
    """Options of the ASTER protocol.

    Attributes
    ----------
    erode_px
        Margin (ASTER pixels) dropped around every invalid ASTER pixel.
    min_valid_k
        ASTER values below this (K) are invalid.
    fill_values_k
        ASTER fill values (K, after the x0.1 scaling): 0 = outside the scene, 200 = swath edge.
    resampling
        rasterio resampling used to bring the 250 m output onto the ASTER grid.
    n_panels
        Samples kept for the side-by-side figure.
    """

    erode_px: int = 8
    min_valid_k: float = 250.0
    fill_values_k: tuple[float, ...] = (0.0, 200.0)
    resampling: str = "bilinear"
    n_panels: int = 3

    def __post_init__(self) -> None:
        if self.erode_px < 0:
            raise ConfigError(f"erode_px must be >= 0, got {self.erode_px}")
        if self.resampling not in Resampling.__members__:
            raise ConfigError(f"resampling: unknown rasterio resampling {self.resampling!r}")


def aster_valid_mask(aster_k: np.ndarray, *, config: AsterConfig | None = None) -> np.ndarray:
    """Valid ASTER pixels after masking fill / cold values and eroding by ``erode_px``.

    Parameters
    ----------
    aster_k
        ASTER temperature in kelvin (file value x 0.1).
    config
        Protocol options.
    """
    config = config or AsterConfig()
    a = np.asarray(aster_k, np.float64)
    valid = np.isfinite(a) & (a >= config.min_valid_k)
    for fill in config.fill_values_k:
        valid &= ~np.isclose(a, fill, atol=0.05)
    if config.erode_px:
        valid = ndimage.binary_erosion(
            valid, structure=np.ones((3, 3), bool), iterations=config.erode_px, border_value=0
        )
    return valid


def to_aster_grid(
    image: np.ndarray,
    *,
    src: GeoRaster,
    dst: GeoRaster,
    resampling: str = "bilinear",
) -> np.ndarray:
    """Reproject ``image`` (on the grid of ``src``) onto the grid of ``dst``.

    NaN is the nodata value on both sides: destination pixels outside the source, or whose
    resampling kernel meets only invalid pixels, are NaN.
    """
    out = np.full(dst.shape, np.nan, dtype=np.float32)
    reproject(
        source=np.asarray(image, np.float32),
        destination=out,
        src_transform=src.transform,
        src_crs=src.crs,
        src_nodata=np.nan,
        dst_transform=dst.transform,
        dst_crs=dst.crs,
        dst_nodata=np.nan,
        resampling=Resampling[resampling],
    )
    return out


def evaluate_aster(
    samples: Iterable[DevSample],
    methods: Sequence[Method],
    *,
    data: str,
    config: AsterConfig | None = None,
) -> ProtocolResult:
    """Run the ASTER protocol over the development triplets.

    Parameters
    ----------
    samples
        Triplets (see :func:`lstcloud.evaluate.datasets.iter_dev_samples`).
    methods
        Methods to score.
    data
        Description of the data (recorded in metrics.json).
    config
        Protocol options.

    Returns
    -------
    ProtocolResult
        Per-sample scores against ASTER on the ASTER grid and the arrays for the report.
    """
    config = config or AsterConfig()
    result = ProtocolResult(
        protocol="aster",
        data=data,
        reference_label="ASTER AST_08 kinetic temperature (UTM 31N, ~231.65 m)",
        config={
            **asdict(config),
            "direction": "250 m output -> ASTER grid",
            "psf": "none (bilinear interpolation only; ASTER already at ~231.65 m)",
        },
        method_sources={m.name: m.source for m in methods},
        extra_keys=("ssim_bbox",),
    )
    for sample in samples:
        if sample.aster is None:
            raise ConfigError(f"sample {sample.name}: read without its ASTER file (with_aster)")
        lst = sample.lst_1km.data
        ndvi = fill_nearest(sample.ndvi_250m.data)
        aster_mask = aster_valid_mask(sample.aster.data, config=config)
        on_aster: dict[str, np.ndarray] = {}
        sigmas: dict[str, np.ndarray] = {}
        for method in methods:
            if method.predict_with_uncertainty is not None:
                pred, sigma = method.predict_with_uncertainty(lst, ndvi)
                sigmas[method.name] = to_aster_grid(
                    sigma, src=sample.ndvi_250m, dst=sample.aster, resampling=config.resampling)
            else:
                pred = method.predict(lst, ndvi)
            if pred.shape != sample.ndvi_250m.shape:
                raise ConfigError(
                    f"method {method.name!r} returned {pred.shape} for {sample.name}, "
                    f"expected {sample.ndvi_250m.shape}"
                )
            on_aster[method.name] = to_aster_grid(
                pred, src=sample.ndvi_250m, dst=sample.aster, resampling=config.resampling
            )
        region = aster_mask.copy()
        for image in on_aster.values():
            region &= np.isfinite(image)
        reference = np.where(region, sample.aster.data, np.nan).astype(np.float32)
        for name, image in on_aster.items():
            scores = score(image, reference, mask=region)
            scores["ssim_bbox"] = ssim_bounding_box(image, reference, mask=region)
            result.add_score(sample.name, name, scores)
            result.add_pairs(name, image, reference, region)
            if name in sigmas:
                ok = region & np.isfinite(sigmas[name])
                result.uncertainty.setdefault(name, {})[sample.name] = (
                    (image[ok] - sample.aster.data[ok]).astype(np.float64), sigmas[name][ok])
        if len(result.panels) < config.n_panels:
            result.panels.append(
                SamplePanel(
                    name=sample.name,
                    coarse=lst,
                    ndvi=sample.ndvi_250m.data,
                    predictions=on_aster,
                    reference=reference,
                )
            )
    if not result.per_sample:
        raise ConfigError(f"no samples to evaluate in {data}")
    result.check_training_overlap(methods)
    return result
