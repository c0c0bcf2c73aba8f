"""Receptive fields measured by a gradient probe: the halo that chunked inference needs.

The probe runs a function in eval mode (BatchNorm is then a fixed per-channel affine map, so the
output at a pixel depends only on the inputs in its receptive field), back-propagates from one
output pixel, and takes the largest distance (Chebyshev, in pixels) at which any input gradient
is non-zero. The probe is repeated for several output positions (pooling makes the field depend
on the pixel's phase), optionally for several random inputs (a dead ReLU could hide a path).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from lstcloud.errors import LstcloudError

__all__ = ["halo_px", "measure_pipeline_receptive_field", "measure_receptive_field"]


def _radius(grad: torch.Tensor, centre: tuple[int, int]) -> int:
    """Largest Chebyshev distance (pixels) from ``centre`` to a non-zero-gradient pixel."""
    nz = torch.nonzero(grad.abs().sum(dim=tuple(range(grad.ndim - 2))) > 0)
    if nz.numel() == 0:
        return 0
    cy, cx = centre
    return int(torch.maximum((nz[:, 0] - cy).abs(), (nz[:, 1] - cx).abs()).max())


def _block_radius(grad: torch.Tensor, block: tuple[int, int], *, pixels_per_block: int) -> int:
    """Largest Chebyshev distance, in whole coarse blocks, from the coarse block ``block`` to
    the block of a non-zero-gradient pixel (``pixels_per_block`` pixels per block side)."""
    nz = torch.nonzero(grad.abs().sum(dim=tuple(range(grad.ndim - 2))) > 0)
    if nz.numel() == 0:
        return 0
    by, bx = block
    ys, xs = nz[:, 0] // pixels_per_block, nz[:, 1] // pixels_per_block
    return int(torch.maximum((ys - by).abs(), (xs - bx).abs()).max())


def measure_receptive_field(
    module: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    *,
    in_channels: int = 2,
    size: int = 256,
    phases: int = 8,
    trials: int = 1,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> int:
    """Receptive-field radius (pixels) of a same-size image-to-image function.

    Parameters
    ----------
    module : nn.Module or callable
        Maps ``(1, in_channels, size, size)`` to ``(1, C, size, size)``. A module is deep-copied,
        put in eval mode and converted to ``dtype``.
    in_channels : int
        Input channels.
    size : int
        Probe image size; must exceed twice the field (an error says so otherwise).
    phases : int
        Output positions probed: the centre shifted by ``0 .. phases-1`` pixels in both axes.
    trials : int
        Random inputs per position.
    seed : int
        Random seed.
    dtype : torch.dtype
        Probe precision (a structurally zero gradient is exactly zero in any precision).

    Returns
    -------
    int
        The largest radius over all probes.
    """
    fn = _prepare(module, dtype)
    gen = torch.Generator().manual_seed(seed)
    radius = 0
    centre0 = size // 2 - phases // 2
    for _ in range(trials):
        # one batch element per phase: eval-mode layers treat samples independently
        x = torch.randn(phases, in_channels, size, size, generator=gen, dtype=dtype)
        x.requires_grad_(True)
        y = fn(x)
        idx = torch.arange(phases)
        y[idx, :, centre0 + idx, centre0 + idx].sum().backward()
        assert x.grad is not None
        for phase in range(phases):
            centre = (centre0 + phase, centre0 + phase)
            r = _radius(x.grad[phase : phase + 1], centre)
            _check_inside(r, centre, size)
            radius = max(radius, r)
    return radius


def measure_pipeline_receptive_field(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    size_1km: int = 64,
    factor: int = 4,
    phases: int = 8,
    trials: int = 1,
    seed: int = 0,
    lst_range: tuple[float, float] = (270.0, 320.0),
    dtype: torch.dtype = torch.float32,
) -> int:
    """Halo in fine pixels that ``fn(lst_coarse, ndvi_fine) -> fine`` needs around chunks
    aligned to the coarse grid.

    Inputs are ``(1, 1, s, s)`` coarse LST and ``(1, 1, f s, f s)`` NDVI (``dtype``). For every
    probed output pixel, the farthest influencing input (LST pixel or NDVI pixel) is counted in
    whole coarse pixels from the output's own coarse pixel; the result is that count times
    ``factor``: a chunk whose edges lie on the coarse grid needs this many fine pixels (this
    many / ``factor`` coarse pixels) of context on each side.
    """
    gen = torch.Generator().manual_seed(seed)
    fine = size_1km * factor
    radius = 0
    centre0 = fine // 2 - phases // 2
    lo, hi = lst_range
    idx = torch.arange(phases)
    for _ in range(trials):
        lst = lo + (hi - lo) * torch.rand(phases, 1, size_1km, size_1km, generator=gen, dtype=dtype)
        ndvi = torch.rand(phases, 1, fine, fine, generator=gen, dtype=dtype) * 0.9
        lst.requires_grad_(True)
        ndvi.requires_grad_(True)
        y = fn(lst, ndvi)
        y[idx, :, centre0 + idx, centre0 + idx].sum().backward()
        lst_grad = lst.grad if lst.grad is not None else torch.zeros_like(lst)
        ndvi_grad = ndvi.grad if ndvi.grad is not None else torch.zeros_like(ndvi)
        for phase in range(phases):
            centre = (centre0 + phase, centre0 + phase)
            block = (centre[0] // factor, centre[1] // factor)
            sl = slice(phase, phase + 1)
            blocks = max(
                _block_radius(ndvi_grad[sl], block, pixels_per_block=factor),
                _block_radius(lst_grad[sl], block, pixels_per_block=1),
            )
            _check_inside(blocks, block, size_1km)
            radius = max(radius, blocks * factor)
    return radius


def halo_px(radius: int, *, multiple: int = 8) -> int:
    """``radius`` rounded up to a multiple of ``multiple`` (the network's pooling alignment)."""
    return int(math.ceil(radius / multiple) * multiple) if radius > 0 else 0


def _prepare(
    module: nn.Module | Callable[[torch.Tensor], torch.Tensor], dtype: torch.dtype
) -> Callable:
    if isinstance(module, nn.Module):
        probe = copy.deepcopy(module).eval().to(dtype)
        for p in probe.parameters():
            p.requires_grad_(False)
        return probe
    return module


def _check_inside(radius: int, centre: Sequence[int], size: int) -> None:
    if min(centre) - radius <= 0 or max(centre) + radius >= size - 1:
        raise LstcloudError(
            f"the receptive field ({radius} px) reaches the probe's border (size {size}): "
            "probe with a larger size"
        )
