"""Dropout (Srivastava et al., 2014), in the 'inverted' form PyTorch uses."""

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..random import device_rng, get_rng


def uniform_like(x):
    """Uniform [0, 1) float32 samples of x's shape, on x's device, drawn from minigrad's seeded generators.

    On a GPU the draw happens there (no host-to-device copy of the mask), from the device's one generator,
    seeded from minigrad's: ``manual_seed`` makes GPU dropout masks repeatable too, though not equal to the
    CPU's.
    """
    xp = get_array_module(x)
    if xp is np:
        return get_rng().random(x.shape, dtype=np.float32)
    return device_rng(xp).random(x.shape, dtype=xp.float32)


class Dropout(Function):
    """Training-time dropout with keep probability 1 - p.

    Forward: draw m_i ~ Bernoulli(1 - p) once per element and scale the survivors so the expected output
    equals the input, y_i = x_i m_i / (1 - p). (Evaluation uses y = x; ``functional.dropout`` skips the op.)
    Backward: y is linear in x with the mask fixed, so dL/dx_i = g_i m_i / (1 - p).
    """

    @staticmethod
    def forward(ctx, x, p=0.5):
        xp = get_array_module(x)
        keep = uniform_like(x) >= p
        scale = xp.asarray(keep, dtype=x.dtype) * (x.dtype.type(1.0 / (1.0 - p)) if p < 1 else 0)
        ctx.save_for_backward(scale)
        return x * scale

    @staticmethod
    def backward(ctx, g):
        (scale,) = ctx.saved
        return g * scale
