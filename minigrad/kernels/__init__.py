"""Kernels: each op's slow inner loops, written three ways side by side.

A kernel exists only where plain array code is slow: several passes over memory that one fused loop can
do in one, or loops NumPy cannot vectorise. Every kernel module holds

    name_reference(...)   the formula in array code (NumPy, or CuPy: it uses ``xp``), the version to read first
    name_numba(...)       the same formula as explicit loops compiled by numba for the CPU (``cache=True``)
    name_cuda(...)        the same formula as a CuPy kernel for an NVIDIA GPU, compiled on first use

and the tests check that the three agree (the CUDA ones where a GPU exists). :func:`choose` picks the one
to run for an array: numba for NumPy arrays, the CUDA kernel for CuPy arrays, the reference where the
faster one is missing or switched off (``MINIGRAD_NUMBA=0``, ``MINIGRAD_CUDA_KERNELS=0``).
"""

import functools
import os

import numpy as np

from ..backend import get_array_module


def enabled(xp=np):
    """Whether to use the numba kernels for arrays of module ``xp``."""
    return xp is np and os.environ.get("MINIGRAD_NUMBA", "1") != "0"


def cuda_enabled(xp):
    """Whether to use the CUDA kernels for arrays of module ``xp`` (CuPy)."""
    return xp is not np and os.environ.get("MINIGRAD_CUDA_KERNELS", "1") != "0"


def choose(xp, reference, numba=None, cuda=None):
    """The implementation to run for arrays of module ``xp``: numba's on the CPU, the CUDA kernel on a GPU,
    the reference otherwise."""
    if xp is np:
        return numba if numba is not None and enabled(xp) else reference
    return cuda if cuda is not None and cuda_enabled(xp) else reference


def channels_last(x):
    """x (N, C, H, W) as a C-contiguous (N, H, W, C) array: a view when its memory is already laid out so.

    Convolution and pooling kernels read images channels-last (see ``minigrad.kernels.im2col``)."""
    return get_array_module(x).ascontiguousarray(x.transpose(0, 2, 3, 1))


@functools.lru_cache(maxsize=None)
def cuda_elementwise(in_params, out_params, operation, name):
    """A ``cupy.ElementwiseKernel``, built once (CuPy compiles it for the GPU at its first call).

    The kernel runs ``operation`` once for every element of its (non-raw) arguments; ``i`` is that
    element's index. Arguments marked ``raw`` are indexed by hand, with C-order indices."""
    import cupy
    return cupy.ElementwiseKernel(in_params, out_params, operation, name)


@functools.lru_cache(maxsize=None)
def cuda_reduction(in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name):
    """A ``cupy.ReductionKernel``: ``map_expr`` per element, combined with ``reduce_expr`` over the axes."""
    import cupy
    return cupy.ReductionKernel(in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name)
