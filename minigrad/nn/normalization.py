"""Batch normalisation layers, with PyTorch's arguments, initialisation and state_dict names.

    bn = BatchNorm2d(32)            # after a convolution with 32 output channels
    y = bn(x)                       # training mode: batch statistics, running statistics updated
    bn.eval(); y = bn(x)            # evaluation: the running statistics, a fixed per-channel affine map

``forward`` calls ``minigrad.functional.batch_norm``; the math (forward and the derivation of the backward) is
in ``minigrad.ops.batchnorm.BatchNorm``.
"""

import numpy as np

from .. import functional as F
from . import init
from .module import Module, Parameter


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; they differ only in the input shapes they accept.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance before the square root.
        momentum: weight of each new batch in the running statistics,
            running = (1 - momentum) running + momentum batch_stat; None gives the cumulative moving average
            (the plain mean of every batch's statistics so far): momentum = 1 / num_batches_tracked.
        affine: learn a per-channel scale ``weight`` (gamma, initially 1) and shift ``bias`` (beta,
            initially 0).
        bias: with ``affine``, whether to learn the shift too (keyword-only, as in PyTorch 2.13).
        track_running_stats: keep ``running_mean`` (initially 0), ``running_var`` (initially 1) and
            ``num_batches_tracked`` buffers and use them in evaluation; without, batch statistics are
            used in evaluation too.
    """

    ranks, shapes = (), ""  # the input ranks accepted, and how to describe them; set by the subclasses

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype="float32", *, bias=True):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"{type(self).__name__} needs num_features >= 1, got {num_features}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        """PyTorch's initialisation: the running statistics reset, weight 1 and bias 0."""
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x):
        name, shape = type(self).__name__, tuple(x.shape)
        if x.ndim not in self.ranks:
            raise ValueError(f"{name} expects input of shape {self.shapes}, got {shape}")
        if shape[1] != self.num_features:
            raise ValueError(f"{name}({self.num_features}) expects input of shape {self.shapes} with "
                             f"C = {self.num_features}, got {shape}")
        counting = self.training and self.track_running_stats
        momentum = self.momentum
        if momentum is None:  # cumulative moving average: the k-th batch gets weight 1/k
            momentum = 1.0 / (int(self.num_batches_tracked._data) + 1) if counting else 0.0
        # Batch statistics in training, and always when no running statistics are kept.
        use_batch_stats = self.training or self.running_mean is None
        y = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                         training=use_batch_stats, momentum=momentum, eps=self.eps)
        if counting:
            self.num_batches_tracked._data += 1  # in place, once the step has succeeded (0-d int64 array)
            self.num_batches_tracked._bump_version()
        return y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) features or (N, C, L) sequences, each channel over N (and L)."""

    ranks, shapes = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, each channel over N, H and W (Ioffe & Szegedy, 2015)."""

    ranks, shapes = (4,), "(N, C, H, W)"
