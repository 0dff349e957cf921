"""CPU kernels compiled with numba, each beside the plain NumPy reference it must agree with.

A kernel exists only where NumPy is slow: several passes over memory that one fused loop can do in one,
or loops NumPy cannot vectorise. Every kernel module holds

    name_reference(...)   the formula in NumPy (or CuPy: it uses ``xp``), the version to read first
    name_numba(...)       the same formula as an explicit loop compiled by numba (``cache=True``)

and the tests check the two agree. ``enabled(xp)`` decides which runs: numba for NumPy arrays unless the
environment sets ``MINIGRAD_NUMBA=0``; the reference for CuPy arrays (numba compiles CPU code).
"""

import os

import numpy as np

from ..backend import get_array_module


def enabled(xp=np):
    """Whether to use the numba kernels for arrays of module ``xp``."""
    return xp is np and os.environ.get("MINIGRAD_NUMBA", "1") != "0"


def channels_last(x):
    """x (N, C, H, W) as a C-contiguous (N, H, W, C) array: a view when its memory is already laid out so.

    Convolution and pooling kernels read images channels-last (see ``minigrad.kernels.im2col``)."""
    return get_array_module(x).ascontiguousarray(x.transpose(0, 2, 3, 1))
