"""The Wald protocol: degrade, super-resolve back, score against the real 1 km LST.

The real 1 km LST is degraded to 4 km and the 250 m NDVI to 1 km with the same operator H
(``gaussian`` by default: the published code's Gaussian PSF with MTF 0.1 at the coarse Nyquist
frequency then bicubic decimation; ``mean`` (4x4 block mean) and ``l4`` (block mean of T^4,
then ^(1/4)) are the alternatives), taken from :mod:`lstcloud.ops`, the module the training
loss uses. Each method
super-resolves the 4 km LST 4x with the 1 km NDVI, and the output is scored against the real
1 km LST. The reference is therefore MODIS itself: these figures measure consistency under
the scale-invariance hypothesis, not accuracy against an independent truth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from lstcloud import ops
from lstcloud.errors import ConfigError

from .datasets import detect_layout, fill_nearest, iter_dev_samples, iter_mod11a1_patches
from .methods import Method
from .metrics import score
from .results import ProtocolResult, SamplePanel

__all__ = [
    "DEGRADATION_NAMES",
    "WaldConfig",
    "WaldSample",
    "canonical_degradation",
    "degrade",
    "evaluate_wald",
    "get_degrader",
    "wald_samples",
]

log = logging.getLogger(__name__)

Degrader = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class WaldConfig:
    """Options of the Wald protocol.

    Attributes
    ----------
    degradation
        Name of H (``"gaussian"``, ``"mean"``, ``"l4"``; ``"block-mean"`` is accepted for
        ``"mean"``).
    factor
        Scale factor (4: 1 km -> 4 km, 250 m -> 1 km).
    border_px
        Pixels dropped along the patch edges before scoring (0 = score the whole patch).
    min_valid
        A degraded (coarse) LST pixel is NaN when less than this fraction of its block is
        valid (1.0: only complete blocks; nothing is invented under clouds).
    n_panels
        Samples kept for the side-by-side figure.
    """

    degradation: str = "gaussian"
    factor: int = 4
    border_px: int = 0
    min_valid: float = 1.0
    n_panels: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "degradation", canonical_degradation(self.degradation))
        if not 0 < self.min_valid <= 1:
            raise ConfigError(f"min_valid must be in (0, 1], got {self.min_valid}")
        if self.factor != 4:
            raise ConfigError(f"factor: only 4 is supported, got {self.factor}")
        if self.border_px < 0:
            raise ConfigError(f"border_px must be >= 0, got {self.border_px}")


@dataclass(frozen=True)
class WaldSample:
    """One input of the Wald protocol: real 1 km LST (K) and, if any, 250 m NDVI on its grid/4."""

    name: str
    lst_1km: np.ndarray
    ndvi_250m: np.ndarray | None = None


def wald_samples(
    root: str | Path,
    *,
    band: Literal["day", "night"] = "day",
    names: Sequence[str] | None = None,
    limit: int | None = None,
) -> tuple[Iterator[WaldSample], bool]:
    """Wald inputs from a data folder of either layout, and whether they carry NDVI.

    ``aster-dev`` folders give LST + NDVI (on the LST grid / 4, by geotransform; the ASTER
    files are not opened); ``mod11a1-patches`` folders give LST only (``band`` day or night).
    """
    layout = detect_layout(root)
    if layout == "aster-dev":
        dev = iter_dev_samples(root, names=names, limit=limit, with_aster=False)
        return (
            (WaldSample(s.name, s.lst_1km.data, s.ndvi_250m.data) for s in dev),
            True,
        )
    patches = iter_mod11a1_patches(root, band=band, names=names, limit=limit)
    return (WaldSample(p.name, p.lst_1km.data) for p in patches), False


DEGRADATION_NAMES: tuple[str, ...] = ("gaussian", "mean", "l4")
_ALIASES = {"block-mean": "mean"}


def canonical_degradation(name: str) -> str:
    """The canonical name of H (``gaussian``, ``mean``, ``l4``; ``block-mean`` = ``mean``)."""
    canonical = _ALIASES.get(name, name)
    if canonical not in DEGRADATION_NAMES:
        raise ConfigError(
            f"unknown degradation {name!r}; choose one of {', '.join(DEGRADATION_NAMES)}"
        )
    return canonical


def get_degrader(name: str, *, min_valid: float = 1.0) -> tuple[Degrader, str]:
    """Return H called ``name`` as ``f(image) -> image / 4`` and where it comes from.

    ``lstcloud.ops.degrade_np``: the operator the training loss uses; NaN-aware, a coarse
    pixel is NaN when less than ``min_valid`` of its block is valid.
    """
    method = canonical_degradation(name)

    def apply(image: np.ndarray) -> np.ndarray:
        return ops.degrade_np(image, method=method, factor=4, min_valid=min_valid)

    return apply, "lstcloud.ops.degrade_np"


def degrade(image: np.ndarray, degrader: Degrader, *, factor: int = 4) -> np.ndarray:
    """Apply H to an image whose shape is divisible by ``factor``."""
    image = np.asarray(image, np.float32)
    if image.shape[0] % factor or image.shape[1] % factor:
        raise ConfigError(f"image shape {image.shape} is not divisible by {factor}")
    out = degrader(image)
    expected = (image.shape[0] // factor, image.shape[1] // factor)
    if out.shape != expected:
        raise ConfigError(f"degradation returned shape {out.shape}, expected {expected}")
    return out


def _crop(image: np.ndarray, factor: int) -> np.ndarray:
    h, w = image.shape
    return image[: h - h % factor, : w - w % factor]


def evaluate_wald(
    samples: Iterable[WaldSample],
    methods: Sequence[Method],
    *,
    data: str,
    config: WaldConfig | None = None,
) -> ProtocolResult:
    """Run the Wald protocol over ``samples`` with every method.

    Parameters
    ----------
    samples
        Real 1 km LST (and 250 m NDVI for guided methods).
    methods
        Methods to score (see :func:`lstcloud.evaluate.methods.resolve_methods`).
    data
        Description of the data (recorded in metrics.json).
    config
        Protocol options.

    Returns
    -------
    ProtocolResult
        Per-sample scores against the real 1 km LST and the arrays for the report.
    """
    config = config or WaldConfig()
    degrader, h_source = get_degrader(config.degradation, min_valid=config.min_valid)
    # L4 is a radiance-like aggregation of kelvin values: NDVI (may be < 0) takes the block mean.
    ndvi_degrader = (
        degrader if config.degradation != "l4" else get_degrader("mean", min_valid=0.0)[0]
    )
    result = ProtocolResult(
        protocol="wald",
        data=data,
        reference_label="MODIS LST 1 km (Wald: input degraded to 4 km)",
        config={**asdict(config), "degradation_source": h_source},
        method_sources={m.name: m.source for m in methods},
    )
    f = config.factor
    for sample in samples:
        truth = _crop(np.asarray(sample.lst_1km, np.float32), f)
        lst_4km = degrade(truth, degrader, factor=f)
        ndvi_1km = None
        if sample.ndvi_250m is not None:
            ndvi = fill_nearest(np.asarray(sample.ndvi_250m, np.float32))
            ndvi = ndvi[: truth.shape[0] * f, : truth.shape[1] * f]
            if ndvi.shape != (truth.shape[0] * f, truth.shape[1] * f):
                raise ConfigError(f"sample {sample.name}: NDVI {ndvi.shape} is not {f}x the LST")
            ndvi_1km = degrade(ndvi, ndvi_degrader, factor=f)
        mask = np.isfinite(truth)
        if config.border_px:
            b = config.border_px
            inner = np.zeros_like(mask)
            inner[b:-b, b:-b] = True
            mask &= inner
        predictions: dict[str, np.ndarray] = {}
        for method in methods:
            if method.needs_ndvi and ndvi_1km is None:
                raise ConfigError(
                    f"method {method.name!r} needs NDVI; sample {sample.name} has none"
                )
            pred = method.predict(lst_4km, ndvi_1km)
            if pred.shape != truth.shape:
                raise ConfigError(
                    f"method {method.name!r} returned {pred.shape} for {sample.name}, "
                    f"expected {truth.shape}"
                )
            scores = score(pred, truth, mask=mask)
            result.add_score(sample.name, method.name, scores)
            result.add_pairs(method.name, pred, truth, mask & np.isfinite(pred))
            predictions[method.name] = pred
        if len(result.panels) < config.n_panels:
            result.panels.append(
                SamplePanel(
                    name=sample.name,
                    coarse=lst_4km,
                    ndvi=ndvi_1km,
                    predictions=predictions,
                    reference=np.where(mask, truth, np.nan),
                )
            )
    if not result.per_sample:
        raise ConfigError(f"no samples to evaluate in {data}")
    result.check_training_overlap(methods)
    return result
