"""Dropout."""

from ..ops import dropout as dropout_ops
from .tensors import as_tensor


def dropout(input, p=0.5, training=True):
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p) when training;
    the identity otherwise. See ``ops.dropout.Dropout``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    return dropout_ops.Dropout.apply(as_tensor(input), p=p)
