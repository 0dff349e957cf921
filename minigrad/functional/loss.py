"""Loss functions: ``cross_entropy``."""

from ..ops import softmax as softmax_ops
from .tensors import Tensor, as_array, as_tensor


def cross_entropy(input, target, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits ``input`` (N, C) against class indices ``target`` (N,).

    ``target`` may be a Tensor or an array of integers; see ``ops.softmax.CrossEntropy`` for the math.
    """
    target = target._data if isinstance(target, Tensor) else target
    x = as_tensor(input)
    return softmax_ops.CrossEntropy.apply(x, target=as_array(target, device=x.device),
                                          label_smoothing=label_smoothing, reduction=reduction)
