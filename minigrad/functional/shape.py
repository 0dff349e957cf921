"""Joining and reshaping: ``cat``, ``stack`` and ``flatten``."""

from ..ops import shape as shape_ops
from .tensors import as_tensor


def cat(tensors, dim=0):
    """Join tensors along an existing axis; see ``ops.shape.Concatenate``."""
    return shape_ops.Concatenate.apply(*(as_tensor(t) for t in tensors), dim=dim)


def stack(tensors, dim=0):
    """Join tensors along a new axis; see ``ops.shape.Stack``."""
    return shape_ops.Stack.apply(*(as_tensor(t) for t in tensors), dim=dim)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge the axes start_dim..end_dim into one (a reshape); dL/dx = g reshaped back to x's shape.
    See ``ops.shape.Reshape``."""
    return as_tensor(input).flatten(start_dim, end_dim)
