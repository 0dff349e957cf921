"""Gradient clipping, as ``torch.nn.utils``.

Both replace ``p.grad`` by a new array instead of writing into it: minigrad never changes a gradient array
in place, because the same array may be the gradient of more than one tensor (see ``minigrad.autograd``).
"""

import math

from ..backend import get_array_module


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    total = (sum over every gradient element g of |g|^p)^(1/p)   (p = norm_type; 'inf' takes max |g|)
    If total > max_norm, every gradient is multiplied by max_norm / (total + 1e-6), which keeps the
    direction of the step and shortens it. Returns ``total`` (before clipping), as PyTorch does.
    """
    grads = [p for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    xp = get_array_module(grads[0].grad)
    if norm_type in (math.inf, "inf"):
        total = max(float(xp.abs(p.grad).max()) for p in grads)
    else:
        total = sum(float((xp.abs(p.grad) ** norm_type).sum()) for p in grads) ** (1.0 / norm_type)
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for p in grads:
            p.grad = p.grad * p.grad.dtype.type(scale)
    return total


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element into [-clip_value, clip_value]."""
    for p in parameters:
        if p.grad is not None:
            p.grad = get_array_module(p.grad).clip(p.grad, -clip_value, clip_value)
