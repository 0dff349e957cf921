"""The convolution layer."""

import math

import numpy as np

from .. import functional as F
from ..functional.convolution import pair
from . import init
from .module import Module, Parameter


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) images with PyTorch's arguments and default initialisation.

    weight (out_channels, in_channels, kH, kW) and bias (out_channels,) start as U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = in_channels * kH * kW (``kaiming_uniform_`` with a = sqrt(5), as
    PyTorch). ``forward`` calls ``minigrad.functional.conv2d``; the math of the forward and backward pass
    is in ``minigrad.ops.conv.Conv2d``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype="float32"):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"Conv2d needs positive channel counts, got in={in_channels}, out={out_channels}")
        if groups != 1:
            raise ValueError(f"Conv2d: only groups=1 is implemented, got groups={groups}")
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d: only padding_mode='zeros' is implemented, got {padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", 1)
        self.stride = pair(stride, "stride", 1)
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", 0)
        self.dilation = pair(dilation, "dilation", 1)
        self.weight = Parameter(np.zeros((out_channels, in_channels, *self.kernel_size), dtype=dtype))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0, 0), "valid"):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        return text + ("" if self.bias is not None else ", bias=False")
