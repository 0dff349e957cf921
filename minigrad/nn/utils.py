"""Gradient clipping, as ``torch.nn.utils``.

Both replace ``p.grad`` by a new array instead of writing into it: minigrad never changes a gradient array
in place, because the same array may be the gradient of more than one tensor (see ``minigrad.autograd``).
Both take an iterable of Tensors or a single Tensor, as PyTorch's do, and refuse settings that would
clip wrongly (a max_norm <= 0, NaN, a negative clip_value) with a SettingsError.
"""

import math
import numbers

from ..backend import get_array_module
from ..errors import DivergenceError, SettingsError
from ..tensor import Tensor


def as_parameters(parameters):
    """A single Tensor as a list of one (as PyTorch allows), any other iterable of Tensors as a list."""
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def check_setting(function, name, value, low, low_open):
    """``value`` as a float if it is a finite real number > low (``low_open``) or >= low; else SettingsError."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= low if low_open else value < low):
        raise SettingsError(f"{function}: {name} must be a finite number {'>' if low_open else '>='} {low}, "
                            f"got {value!r}")
    return float(value)


def norm_order(norm_type):
    """norm_type as a float p > 0, or math.inf for 'inf' (the max norm)."""
    if norm_type in (math.inf, "inf"):
        return math.inf
    return check_setting("clip_grad_norm_", "norm_type", norm_type, 0.0, low_open=True)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    total = (sum over every gradient element g of |g|^p)^(1/p)   (p = norm_type > 0; 'inf' takes max |g|)
    If total > max_norm, every gradient is multiplied by max_norm / (total + 1e-6), which keeps the
    direction of the step and shortens it. Returns ``total`` (before clipping), as PyTorch does. max_norm
    must be finite and > 0. A NaN or infinite total raises DivergenceError with ``error_if_nonfinite``;
    without it (the default) the gradients are scaled by the non-finite factor anyway and the total is
    returned, as in PyTorch.
    """
    max_norm = check_setting("clip_grad_norm_", "max_norm", max_norm, 0.0, low_open=True)
    p = norm_order(norm_type)
    grads = [t for t in as_parameters(parameters) if t.grad is not None]
    if not grads:
        return 0.0
    xp = get_array_module(grads[0].grad)
    if p == math.inf:
        total = max(float(xp.abs(t.grad).max()) for t in grads)
    else:
        total = sum(float((xp.abs(t.grad) ** p).sum()) for t in grads) ** (1.0 / p)
    if error_if_nonfinite and not math.isfinite(total):
        raise DivergenceError(f"The total norm of order {float(p)} for gradients from `parameters` is non-finite, "
                              "so it cannot be clipped. To disable this error and scale the gradients by the "
                              "non-finite norm anyway, set `error_if_nonfinite=False`")
    scale = max_norm / (total + 1e-6)
    if scale < 1.0 or math.isnan(scale):
        for t in grads:
            t.grad = t.grad * t.grad.dtype.type(scale)
    return total


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element into [-clip_value, clip_value]; clip_value finite and >= 0."""
    clip_value = check_setting("clip_grad_value_", "clip_value", clip_value, 0.0, low_open=False)
    for p in as_parameters(parameters):
        if p.grad is not None:
            p.grad = get_array_module(p.grad).clip(p.grad, -clip_value, clip_value)
