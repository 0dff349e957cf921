"""Batch normalisation with ``torch.nn.functional.batch_norm``'s arguments; the math is in
``minigrad.ops.batchnorm``."""

import math

from ..autograd import check_dtype
from ..backend import get_array_module
from ..ops.batchnorm import BatchNorm
from .tensors import Tensor, as_tensor


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Normalise each channel of input (N, C, ...) by its mean and variance, then scale by weight and shift by
    bias: with this batch's statistics when training (running_mean and running_var updated in place),
    with the running ones otherwise. ``torch.nn.functional.batch_norm``'s arguments and semantics.

    Args:
        input: (N, C), (N, C, L) or (N, C, H, W) (any rank >= 2: the axes after C are flattened into L).
        running_mean, running_var: (C,) arrays or Tensors. In training (if not None) they are updated in
            place, outside the graph: running = (1 - momentum) running + momentum batch_stat, with the
            unbiased batch variance for running_var. In evaluation they normalise the input.
        weight, bias: gamma and beta, (C,) Tensors (differentiable) or None (1 and 0).
        training: normalise with this batch's mean and biased variance (True) or the running ones (False).
        momentum: weight of the new batch in the running statistics.
        eps: added to the variance before the square root.

    See ``ops.batchnorm.BatchNorm`` for the forward and backward math.
    """
    x = as_tensor(input)
    check_arguments(x, _raw(running_mean), _raw(running_var), weight, bias, training)
    xp = get_array_module(x._data)
    channels = x.shape[1]
    weight = Tensor._wrap(xp.ones(channels, x.dtype)) if weight is None else as_tensor(weight)
    bias = Tensor._wrap(xp.zeros(channels, x.dtype)) if bias is None else as_tensor(bias)
    y = BatchNorm.apply(x, weight, bias, running_mean=_raw(running_mean), running_var=_raw(running_var),
                        training=bool(training), momentum=momentum, eps=eps)
    if training:  # the running statistics were written in place: their Tensors' versions go up
        for t in (running_mean, running_var):
            if isinstance(t, Tensor):
                t._bump_version()
    return y


def _raw(t):
    return t._data if isinstance(t, Tensor) else t


def check_arguments(x, running_mean, running_var, weight, bias, training):
    """Raise a clear error, naming the expected and received shapes, for any input batch_norm cannot take
    (the dtypes of the Tensor inputs are checked by ``BatchNorm.apply``, as for every op)."""
    shape = tuple(x.shape)
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects input of shape (N, C), (N, C, L) or (N, C, H, W), got {shape}")
    channels = shape[1]
    for name, v in [("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)]:
        if v is None:
            continue
        if not hasattr(v, "shape") or tuple(v.shape) != (channels,):
            received = tuple(v.shape) if hasattr(v, "shape") else type(v).__name__
            raise ValueError(f"batch_norm expects {name} of shape (C,) = ({channels},) for input of shape "
                             f"{shape} with C = {channels} channels, got {received}")
        if name.startswith("running"):
            check_dtype("batch_norm", v.dtype, name)   # the input, weight and bias: by Function.apply
    if training and shape[0] * math.prod(shape[2:]) <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input of shape {shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm in evaluation mode (training=False) needs running_mean and running_var; "
                         "with training=True it normalises with the batch's own statistics instead")
