"""A small, deterministic stand-in SuperResolver for the inference tests.

A fixed random U-Net-like net with three 2x average-pool levels (so, like SIF-CNN, its output
depends on the pooling phase: tiles must be aligned to 8 px at 250 m), bicubic 1 km -> 250 m
upsampling and the NaN policy of the SuperResolver protocol. Its receptive field is bounded
analytically (``RECEPTIVE_FIELD_PX``) and checked by a gradient probe in the tests.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as nnf

RECEPTIVE_FIELD_PX = 44
LST_MEAN, LST_STD, NDVI_MEAN, NDVI_STD = 295.0, 8.0, 0.4, 0.2


class StandInNet(nn.Module):
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.c0 = nn.Conv2d(2, 4, 3, padding=1)
        self.c1 = nn.Conv2d(4, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.c3 = nn.Conv2d(4, 4, 3, padding=1)
        self.out = nn.Conv2d(8, 1, 1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f0 = torch.tanh(self.c0(x))
        f1 = torch.tanh(self.c1(nnf.avg_pool2d(f0, 2)))
        f2 = torch.tanh(self.c2(nnf.avg_pool2d(f1, 2)))
        f3 = torch.tanh(self.c3(nnf.avg_pool2d(f2, 2)))
        up = nnf.interpolate(f3, scale_factor=8, mode="nearest")
        return self.out(torch.cat([f0, up], dim=1))


class StandInModel:
    """SuperResolver protocol around :class:`StandInNet`."""

    name = "stand-in"
    receptive_field_px = RECEPTIVE_FIELD_PX
    size_multiple = 8

    def __init__(self, seed: int = 0) -> None:
        self.net = StandInNet(seed).eval()
        self.device = "cpu"
        self.card = {
            "name": self.name,
            "architecture": "stand-in",
            "parameters": sum(p.numel() for p in self.net.parameters()),
            "receptive_field_px": RECEPTIVE_FIELD_PX,
            "sha256": f"stand-in-seed-{seed}",
        }

    def to(self, device: str) -> StandInModel:
        self.net.to(device)
        self.device = device
        return self

    def predict_tensor(self, lst_1km: torch.Tensor, ndvi_250m: torch.Tensor) -> torch.Tensor:
        missing = ~torch.isfinite(lst_1km)
        lst = torch.where(missing, torch.full_like(lst_1km, LST_MEAN), lst_1km)
        ndvi = torch.nan_to_num(ndvi_250m, nan=NDVI_MEAN)
        up = nnf.interpolate((lst - LST_MEAN) / LST_STD, scale_factor=4, mode="bicubic")
        x = torch.cat([up, (ndvi - NDVI_MEAN) / NDVI_STD], dim=1)
        with torch.inference_mode():
            y = (up + 0.5 * self.net(x)) * LST_STD + LST_MEAN
        miss_up = missing.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)
        return torch.where(miss_up, torch.full_like(y, float("nan")), y)

    def predict(self, lst_1km: np.ndarray, ndvi_250m: np.ndarray) -> np.ndarray:
        """Whole-array prediction (inputs padded to multiples of 8 at 250 m, edge mode)."""
        h, w = lst_1km.shape
        ph, pw = (-h) % 2, (-w) % 2
        lst = np.pad(lst_1km, ((0, ph), (0, pw)), mode="edge")
        ndvi = np.pad(ndvi_250m, ((0, 4 * ph), (0, 4 * pw)), mode="edge")
        out = self.predict_tensor(
            torch.from_numpy(lst.astype(np.float32))[None, None],
            torch.from_numpy(ndvi.astype(np.float32))[None, None],
        )
        return out[0, 0, : 4 * h, : 4 * w].numpy()


def make_standin() -> StandInModel:
    return StandInModel(seed=0)


def structured_inputs(
    ny: int, nx: int, *, seed: int = 0, cloud_fraction: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """1 km LST (ny, nx) and 250 m NDVI (4ny, 4nx) with texture everywhere and NaN holes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:ny, 0:nx]
    lst = 290 + 10 * np.sin(y / 7.0) * np.cos(x / 5.0) + rng.normal(0, 2, (ny, nx))
    lst[rng.random((ny, nx)) < cloud_fraction] = np.nan
    ndvi = np.clip(rng.normal(0.4, 0.25, (4 * ny, 4 * nx)), -0.2, 0.95)
    ndvi[rng.random((4 * ny, 4 * nx)) < 0.02] = np.nan
    return lst.astype(np.float32), ndvi.astype(np.float32)


class SlowStandInModel(StandInModel):
    """The same model, sleeping in every call (keeps a prediction running long enough)."""

    def __init__(self, seed: int = 0, delay: float = 0.15) -> None:
        super().__init__(seed)
        self.delay = delay

    def predict_tensor(self, lst_1km: torch.Tensor, ndvi_250m: torch.Tensor) -> torch.Tensor:
        import time

        time.sleep(self.delay)
        return super().predict_tensor(lst_1km, ndvi_250m)


class FailingStandInModel(StandInModel):
    """Raises on any batch holding the sentinel LST value (a day that cannot be predicted)."""

    SENTINEL = 123.0

    def predict_tensor(self, lst_1km: torch.Tensor, ndvi_250m: torch.Tensor) -> torch.Tensor:
        if bool((lst_1km == self.SENTINEL).any()):
            raise RuntimeError("corrupt input at s3://bucket/input.zarr?sig=secret")
        return super().predict_tensor(lst_1km, ndvi_250m)


class BallastModel(StandInModel):
    """The stand-in model carrying 8 MB of extra weights (would show up in a shipped graph);
    a fresh card sha256 per instance, so each test gets its own plugin key."""

    def __init__(self, seed: int = 0) -> None:
        import time

        super().__init__(seed)
        self.ballast = np.ones(2_000_000, np.float32)
        self.card = {**self.card, "sha256": f"ballast-{seed}-{time.time_ns()}"}


def set_worker_env(key: str, value: str | None) -> None:
    """Set (or drop) an environment variable in the process running this (a Dask worker)."""
    import os

    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value
