"""Kernels: each op's slow inner loops, written three ways side by side.

A kernel exists only where plain array code is slow: several passes over memory that one fused loop can
do in one, or loops NumPy cannot vectorise. Every kernel module holds

    name_reference(...)   the formula in array code (NumPy, or CuPy: it uses ``xp``), the version to read first
    name_numba(...)       the same formula as explicit loops compiled by numba for the CPU (``cache=True``)
    name_cuda(...)        the same formula as a CuPy kernel for an NVIDIA GPU, compiled on first use

and the tests check that the three agree (the CUDA ones where a GPU exists). :func:`choose` picks the one
to run for an array: numba for NumPy arrays, the CUDA kernel for CuPy arrays, the reference where the
faster one is missing or switched off (``MINIGRAD_NUMBA=0``, ``MINIGRAD_CUDA_KERNELS=0``).

Compiled loops do not check their indices: an array smaller than the loop bounds assume is read or
written out of bounds (a crash, or silently changed memory). So every ``name_numba`` and ``name_cuda`` is
a Python function that first checks, with :func:`expect` and :func:`expect_ints`, the shapes, dtypes and
layouts its loops rely on, and raises a TypeError or ValueError naming the kernel and the argument. The
checks look at shapes and flags only: their cost does not grow with the arrays.
"""

import functools
import numbers
import os

import numpy as np

from ..backend import device_of, get_array_module


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


FLOATS = frozenset([np.dtype(np.float32), np.dtype(np.float64)])     # the dtypes the kernels are compiled for
ARRAY_KIND = {"cpu": "NumPy", "cuda": "CuPy"}


def expect(who, name, array, shape=None, dtype=FLOATS, contiguous=False, writable=False, device="cpu"):
    """Check that argument ``name`` of kernel ``who`` is an array that kernel's loops can index; return it.

    shape: the sizes it must have, a tuple with None where any size will do (its length fixes ndim);
    dtype: a dtype, or a frozenset of the dtypes allowed (None: any); contiguous: C order required;
    writable: the kernel writes into it; device: "cpu" for a NumPy array, "cuda" for a CuPy array.
    Raises TypeError for another kind of object or dtype, ValueError for another shape or layout.
    """
    if not (isinstance(array, np.ndarray) if device == "cpu" else _on_device(array, device)):
        raise TypeError(f"{who}: {name} must be a {ARRAY_KIND[device]} array, got {type(array).__name__}")
    if dtype is not None and not (array.dtype in dtype if type(dtype) is frozenset else array.dtype == dtype):
        allowed = sorted(str(d) for d in dtype) if type(dtype) is frozenset else [str(np.dtype(dtype))]
        raise TypeError(f"{who}: {name} must have dtype {' or '.join(allowed)}, got {array.dtype}")
    if shape is not None and array.shape != shape and not _fits(array.shape, shape):
        raise ValueError(f"{who}: {name} must have shape {_show(shape)}, got {tuple(array.shape)}")
    if contiguous or writable:
        _expect_flags(who, name, array, contiguous, writable and device == "cpu")
    return array


def _on_device(array, device):
    return hasattr(array, "shape") and hasattr(array, "dtype") and device_of(array) == device


def _fits(actual, spec):
    if len(actual) != len(spec):
        return False
    for a, s in zip(actual, spec):
        if s is not None and a != s:
            return False
    return True


def _show(spec):
    """A shape spec as text, ``*`` where any size will do: (3, *)."""
    sizes = ["*" if s is None else str(int(s)) for s in spec]
    return "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"


def _expect_flags(who, name, array, contiguous, writable):
    flags = array.flags
    if contiguous and not flags.c_contiguous:
        raise ValueError(f"{who}: {name} must be C-contiguous, got strides {array.strides} for shape "
                         f"{tuple(array.shape)}")
    if writable and not flags.writeable:
        raise ValueError(f"{who}: {name} is written to, but got a read-only array")


def expect_ints(who, name, values, count, minimum):
    """Check that ``values`` (sizes, strides, paddings of kernel ``who``) is a sequence of ``count`` ints,
    each at least ``minimum``; return it, or raise a ValueError naming the kernel and the argument."""
    try:
        ok = len(values) == count and all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                          and v >= minimum for v in values)
    except TypeError:                                   # not a sequence
        ok = False
    if not ok:
        raise ValueError(f"{who}: {name} must be {count} ints >= {minimum}, got {values!r}")
    return values


def expect_geometry(who, kernel, stride, padding, dilation, out, out_name="out"):
    """A window geometry of convolution or pooling: kernel, stride, dilation and out pairs of ints >= 1,
    padding a pair of ints >= 0 (dilation None where the kernel has none)."""
    expect_ints(who, "kernel", kernel, 2, 1)
    expect_ints(who, "stride", stride, 2, 1)
    expect_ints(who, "padding", padding, 2, 0)
    if dilation is not None:
        expect_ints(who, "dilation", dilation, 2, 1)
    expect_ints(who, out_name, out, 2, 1)


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
