"""Pooling layers: MaxPool2d, AvgPool2d and AdaptiveAvgPool2d, with PyTorch's arguments and reprs.

Each layer's ``forward`` calls one function of ``minigrad.functional``, whose op (in ``minigrad.ops.pool``)
has the math. The settings are checked when the layer is made, with the checks the ops themselves run, so
a bad kernel or padding fails at model construction, not mid-epoch.
"""

from .. import functional as F
from ..functional.pooling import adaptive_settings, pool_settings
from .module import Module


class MaxPool2d(Module):
    """Max pooling over (N, C, H, W) or (C, H, W) inputs; ``stride`` defaults to ``kernel_size``.

    ``return_indices`` is PyTorch's argument but only False is supported (minigrad keeps the winners for
    backward itself).
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        if return_indices:
            raise ValueError("MaxPool2d: return_indices=True is not supported")
        pool_settings("MaxPool2d", kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode
        self.return_indices = False

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Average pooling over (N, C, H, W) or (C, H, W) inputs; ``stride`` defaults to ``kernel_size``."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        pool_settings("AvgPool2d", kernel_size, stride, padding)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` (int, or pair of ints or None); 1 gives global average
    pooling (one value per channel), as in the U-Net encoder's classifier head."""

    def __init__(self, output_size):
        super().__init__()
        adaptive_settings("AdaptiveAvgPool2d", output_size)
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"
