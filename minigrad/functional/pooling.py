"""2-D pooling with ``torch.nn.functional``'s signatures; the math is in ``minigrad.ops.pool``.

The settings (kernel_size, stride, padding, dilation, output_size) are checked by the ops themselves, which
need the input's size to do so (``ops.pool.pool_geometry``); ``minigrad.nn``'s pooling layers run the same
checks (``pool_settings``, ``adaptive_settings``) when they are made.
"""

from ..ops.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from ..ops.pool import adaptive_settings, pool_settings  # noqa: F401  (for the layers)
from .tensors import as_tensor


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling over (N, C, H, W) or (C, H, W); see ``ops.pool.MaxPool2d`` for the math."""
    return MaxPool2d.apply(as_tensor(input), kernel_size=kernel_size, stride=stride, padding=padding,
                           dilation=dilation, ceil_mode=ceil_mode)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling over (N, C, H, W) or (C, H, W); see ``ops.pool.AvgPool2d`` for the math."""
    return AvgPool2d.apply(as_tensor(input), kernel_size=kernel_size, stride=stride, padding=padding,
                           ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                           divisor_override=divisor_override)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to ``output_size`` (int, or pair of ints or None); 1 is global average pooling.
    See ``ops.pool.AdaptiveAvgPool2d``."""
    return AdaptiveAvgPool2d.apply(as_tensor(input), output_size=output_size)
