"""Softmax, log-softmax and the cross-entropy loss on class indices.

Softmax over the axis ``dim``:  s_j = e^{x_j} / sum_k e^{x_k}. Subtracting max_k x_k first changes nothing
(it cancels) and keeps e^{x} from overflowing.
"""

import numpy as np

from ..autograd import Function
from ..backend import get_array_module


def log_softmax_array(x, dim):
    """log s_j = x_j - log sum_k e^{x_k}, computed stably (max subtracted)."""
    xp = get_array_module(x)
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))


class Softmax(Function):
    """s = softmax(x) along ``dim``.

    Jacobian ds_i/dx_j = s_i (delta_ij - s_j), so the vector-Jacobian product is
        dL/dx = s * (g - sum_j g_j s_j)          (sum along ``dim``, broadcast back)
    """

    @staticmethod
    def forward(ctx, x, dim=-1):
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=dim, keepdims=True))
        s = e / e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(s)
        ctx.dim = dim
        return s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved
        return s * (g - (g * s).sum(axis=ctx.dim, keepdims=True))


class LogSoftmax(Function):
    """y = log softmax(x) = x - log sum_k e^{x_k} along ``dim``.

    dy_i/dx_j = delta_ij - s_j, so
        dL/dx = g - s * sum_i g_i                 (s = e^y, sum along ``dim``)
    """

    @staticmethod
    def forward(ctx, x, dim=-1):
        y = log_softmax_array(x, dim)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        xp = get_array_module(g)
        return g - xp.exp(y) * g.sum(axis=ctx.dim, keepdims=True)


def check_class_targets(target, n, num_classes):
    """Raise a clear error unless ``target`` is N integer class ids in [0, num_classes).

    The range is read on the host only for a NumPy target. For a CuPy one, reading it would make every batch
    wait for the GPU twice; there ``CrossEntropy`` gives each row whose label is out of range a NaN loss and
    gradient instead (:func:`nan_where_out_of_range`), never a plausible wrong one.
    """
    xp = get_array_module(target)
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy expects integer class indices as target, got dtype {target.dtype}")
    if target.shape != (n,):
        raise ValueError(f"cross_entropy expects target of shape ({n},) for input of {n} rows, "
                         f"got {tuple(target.shape)}")
    if n and xp is np and (target.min() < 0 or target.max() >= num_classes):
        bad = target[(target < 0) | (target >= num_classes)]
        raise ValueError(f"cross_entropy expects class indices in [0, {num_classes}), got "
                         f"{np.unique(bad).tolist()[:10]}")


def nan_where_out_of_range(values, target, num_classes):
    """``values`` (one row per label) with NaN in every row whose label is outside [0, num_classes).

    Computed where the arrays are, with no read back to the host.
    """
    xp = get_array_module(values)
    bad = (target < 0) | (target >= num_classes)
    return xp.where(bad.reshape(bad.shape + (1,) * (values.ndim - 1)), xp.asarray(xp.nan, dtype=values.dtype),
                    values)


class CrossEntropy(Function):
    """Cross-entropy of logits x (N, C) against class indices t (N,), with optional label smoothing.

    Pinto & Silva eq. (2):  L = -(1/N) sum_i log softmax(x_i)[t_i].
    With label smoothing eps (Szegedy et al.; the U-Net paper uses 0.1) the one-hot target becomes
        q_ij = (1 - eps) [j = t_i] + eps / C,      L_i = -sum_j q_ij log s_ij
    which is PyTorch's definition. Because sum_j q_ij = 1, the gradient is simply
        dL_i/dx_ij = s_ij - q_ij
    (softmax minus target), scaled by the upstream gradient and by 1/N for reduction='mean'.
    """

    @staticmethod
    def forward(ctx, x, target, label_smoothing=0.0, reduction="mean"):
        xp = get_array_module(x)
        if x.ndim != 2:
            raise ValueError(f"cross_entropy expects input logits of shape (N, C), got {tuple(x.shape)}")
        n, c = x.shape
        target = xp.asarray(target)
        check_class_targets(target, n, c)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        logp = log_softmax_array(x, 1)
        rows = xp.arange(n)
        loss = -logp[rows, target]
        if xp is not np:                               # the range was not read on the host
            loss = nan_where_out_of_range(loss, target, c)
        if label_smoothing:
            loss = (1 - label_smoothing) * loss - label_smoothing * logp.mean(axis=1)
        ctx.save_for_backward(logp, target)
        ctx.eps, ctx.reduction = label_smoothing, reduction
        if reduction == "none":
            return loss
        total = loss.sum()
        return total / n if reduction == "mean" else total

    @staticmethod
    def backward(ctx, g):
        logp, target = ctx.saved
        xp = get_array_module(logp)
        n, c = logp.shape
        dx = xp.exp(logp)                              # s
        dx -= ctx.eps / c                              # - eps/C on every class
        dx[xp.arange(n), target] -= 1 - ctx.eps        # - (1 - eps) on the true class
        if xp is not np:
            dx = nan_where_out_of_range(dx, target, c)
        if ctx.reduction == "none":
            return dx * g[:, None]
        return dx * (g / n if ctx.reduction == "mean" else g)
