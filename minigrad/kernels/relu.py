"""The ReLU backward pass, dL/dx = g where y > 0 and 0 elsewhere, in one pass over memory.

NumPy's ``g * (y > 0)`` makes two passes and a temporary boolean array, on one core; the numba loop reads
g and y once, writes the result once, on every core; on a GPU one thread computes one element. Both work
on the arrays' memory as one flat run, so they need g and y to be laid out alike and densely (C order, or
channels-last as ``conv2d`` leaves its output, or any other axis order) and of one dtype they are compiled
for (:func:`compiled_loops_take`); otherwise the reference runs. The result has g's layout. Arrays of
different shapes, or of no floating dtype, are an error.
"""

import numba
import numpy as np

from ..backend import get_array_module
from . import FLOATS, Kernel, expect, gpu_kernel, launch

cuda = None                           # numba.cuda, bound at the first GPU launch (see kernels.gpu_kernel)

FLOATING = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64, np.longdouble))


def relu_backward_reference(g, y):
    """dL/dx = g * [y > 0] (any array module)."""
    return g * (y > 0)


def dense_flat(a):
    """A 1-D view of all of ``a``'s elements in memory order, if they fill one dense block; else None."""
    order = np.argsort(a.strides, kind="stable")[::-1]          # axes from the largest stride to the smallest
    in_memory_order = a.transpose(order)
    return in_memory_order.reshape(-1) if in_memory_order.flags.c_contiguous else None


@numba.njit(parallel=True, cache=True)
def _relu_backward(g, y, out):
    for i in numba.prange(g.size):
        out[i] = g[i] * (y[i] > 0)                                # as the reference, NaN * 0 included


def check_relu_arguments(who, g, y, device):
    """g and y floating arrays of one shape (the reference would broadcast others; the kernel would overrun)."""
    expect(who, "g", g, dtype=FLOATING, device=device)
    expect(who, "y", y, shape=g.shape, dtype=FLOATING, device=device)


def compiled_loops_take(g, y):
    """Whether the flat loops can run: one compiled dtype, one layout, memory without gaps."""
    return (g.dtype == y.dtype and g.dtype in FLOATS and g.strides == y.strides
            and dense_flat(g) is not None)


def relu_backward_numba(g, y):
    """Same contract as :func:`relu_backward_reference`, for NumPy arrays that :func:`compiled_loops_take`."""
    check_relu_arguments("relu_backward_numba", g, y, "cpu")
    out = np.empty_like(g)                                       # the same layout as g (order 'K')
    _relu_backward(dense_flat(g), dense_flat(y), dense_flat(out))
    return out


@gpu_kernel
def _relu_backward_gpu(g, y, out):
    i = cuda.grid(1)
    if i < g.size:
        out[i] = g[i] * (y[i] > 0)


def relu_backward_cuda(g, y):
    """Same contract as :func:`relu_backward_reference`, for CuPy arrays that :func:`compiled_loops_take`."""
    check_relu_arguments("relu_backward_cuda", g, y, "cuda")
    out = get_array_module(g).empty_like(g)                      # the same layout as g
    _relu_backward_gpu[launch(g.size)](dense_flat(g), dense_flat(y), dense_flat(out))
    return out


relu_backward = Kernel("relu_backward", relu_backward_reference, relu_backward_numba, relu_backward_cuda,
                       fast=compiled_loops_take)
