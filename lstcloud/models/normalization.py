"""Z-score normalisation of the network inputs (LST in kelvin, NDVI), stored with the model."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lstcloud.errors import ConfigError

__all__ = ["Normalization"]


@dataclass(frozen=True)
class Normalization:
    """Means and standard deviations of LST (K) and NDVI used to z-score the network inputs.

    Attributes
    ----------
    lst_mean, lst_std : float
        Statistics of the 1 km LST in kelvin (the network's LST input and output share them).
    ndvi_mean, ndvi_std : float
        Statistics of the 250 m NDVI.
    """

    lst_mean: float
    lst_std: float
    ndvi_mean: float
    ndvi_std: float

    def __post_init__(self) -> None:
        for name in ("lst_mean", "lst_std", "ndvi_mean", "ndvi_std"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ConfigError(f"normalization {name} must be finite, got {value}")
            object.__setattr__(self, name, value)
        for name in ("lst_std", "ndvi_std"):
            if getattr(self, name) <= 0:
                value = getattr(self, name)
                raise ConfigError(f"normalization {name} must be positive, got {value}")

    @classmethod
    def from_arrays(cls, lst: Any, ndvi: Any) -> Normalization:
        """Statistics of the finite values of ``lst`` (K) and ``ndvi`` (NaN ignored).

        Accepts numpy arrays or sequences of arrays (e.g. one per training sample).
        """
        lst_values = _finite(lst, "lst")
        ndvi_values = _finite(ndvi, "ndvi")
        return cls(
            lst_mean=float(lst_values.mean()),
            lst_std=float(max(lst_values.std(), 1e-6)),
            ndvi_mean=float(ndvi_values.mean()),
            ndvi_std=float(max(ndvi_values.std(), 1e-6)),
        )

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form (stored in ``model.json``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalization:
        """Inverse of :meth:`to_dict`; a missing or extra key raises ``ConfigError``."""
        expected = {"lst_mean", "lst_std", "ndvi_mean", "ndvi_std"}
        if set(data) != expected:
            raise ConfigError(f"normalization needs exactly {sorted(expected)}, got {sorted(data)}")
        return cls(**{k: float(v) for k, v in data.items()})

    # z-scoring helpers (numpy or torch)
    def lst_to_z(self, lst: Any) -> Any:
        """``(lst - lst_mean) / lst_std``."""
        return (lst - self.lst_mean) / self.lst_std

    def lst_from_z(self, z: Any) -> Any:
        """``z * lst_std + lst_mean``."""
        return z * self.lst_std + self.lst_mean

    def ndvi_to_z(self, ndvi: Any) -> Any:
        """``(ndvi - ndvi_mean) / ndvi_std``."""
        return (ndvi - self.ndvi_mean) / self.ndvi_std


def _finite(values: Any, name: str) -> np.ndarray:
    if isinstance(values, (list, tuple)):
        flat = (
            np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in values])
            if len(values)
            else np.empty(0)
        )
    else:
        flat = np.asarray(values, dtype=np.float64).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        raise ConfigError(f"no finite {name} value to compute the normalisation from")
    return flat
