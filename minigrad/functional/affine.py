"""Matrix products: ``matmul`` and the affine map of a fully connected layer, ``linear``."""

from ..ops import linear as linear_ops
from ..tensor import matmul  # noqa: F401  (re-exported by the package)
from .tensors import as_tensor


def linear(input, weight, bias=None):
    """input @ weight^T + bias for input (..., in), weight (out, in), bias (out,); see ``ops.linear.Linear``."""
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return linear_ops.Linear.apply(*(as_tensor(t) for t in inputs))
