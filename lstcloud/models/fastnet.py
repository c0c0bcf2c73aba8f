"""An inference copy of a network: BatchNorm folded into the convolutions, channels_last.

In eval mode a ``Conv2d -> BatchNorm2d`` pair is one convolution with rescaled weights and a
bias, so folding removes a full pass over every feature map; channels_last (NHWC) is the layout
oneDNN's convolutions run fastest in. Measured on the SIF-CNN U-Net at a 1408 px window, one CPU
thread: 1.20 Mpx/s per CPU second as trained, 1.82 channels_last, 2.02 folded and channels_last
(outputs equal to ~1e-6 in z units, i.e. ~1e-5 K).

:class:`InferenceNetwork` keeps the copy in step with the source network: it is rebuilt whenever
a parameter or buffer of the source changed (its in-place version counter moved, as after an
optimiser step or ``load_state_dict``) or moved to another device, so a network still being
trained is never served stale weights. The source network is never modified.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["InferenceNetwork", "fold_batchnorm"]


def fold_batchnorm(network: nn.Module) -> nn.Module:
    """An eval-mode deep copy of ``network`` with every ``Conv2d -> BatchNorm2d`` pair of a
    ``nn.Sequential`` folded into one convolution (the BatchNorm becomes ``Identity``)."""
    folded = copy.deepcopy(network).eval()
    for module in folded.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in itertools.pairwise(names):
            conv, bn = module._modules[first], module._modules[second]
            if (
                isinstance(conv, nn.Conv2d)
                and isinstance(bn, nn.BatchNorm2d)
                and bn.track_running_stats
                and bn.running_mean is not None
            ):
                module._modules[first] = fuse_conv_bn_eval(conv, bn)
                module._modules[second] = nn.Identity()
    for p in folded.parameters():
        p.requires_grad_(False)
    return folded


class InferenceNetwork:
    """Serve a folded, channels_last copy of ``network`` for inference (no autograd).

    Parameters
    ----------
    network
        The source network (left untouched).
    """

    def __init__(self, network: nn.Module) -> None:
        self.source = network
        self._copy: nn.Module | None = None
        self._stamp: tuple | None = None

    def _current_stamp(self) -> tuple:
        tensors = [*self.source.parameters(), *self.source.buffers()]
        return tuple((id(t), t._version, t.device, t.dtype) for t in tensors)

    def network(self) -> nn.Module:
        """The up-to-date inference copy (the source itself while it is in training mode)."""
        if self.source.training:
            return self.source
        stamp = self._current_stamp()
        if self._copy is None or stamp != self._stamp:
            # plain (not inference-mode) tensors, usable under no_grad too
            with torch.inference_mode(False), torch.no_grad():
                self._copy = fold_batchnorm(self.source).to(memory_format=torch.channels_last)
            self._stamp = stamp
        return self._copy

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Run ``x`` (NCHW) through the copy in channels_last layout."""
        return self.network()(x.contiguous(memory_format=torch.channels_last))
