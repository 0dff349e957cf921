"""The ReLU backward pass, dL/dx = g where y > 0 and 0 elsewhere, in one pass over memory.

NumPy's ``g * (y > 0)`` makes two passes and a temporary boolean array, on one core; the numba loop reads
g and y once, writes the result once, on every core. It works on the arrays' memory as one flat run, so it
needs g and y to be laid out alike and densely (C order, or channels-last as ``conv2d`` leaves its output,
or any other axis order) and of one dtype it is compiled for; otherwise the reference runs. Arrays of
different shapes, or of no floating dtype, are an error.
"""

import numba
import numpy as np

from . import FLOATS, cuda_elementwise, expect

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


def relu_backward_numba(g, y):
    """Same contract as :func:`relu_backward_reference`, for NumPy arrays."""
    check_relu_arguments("relu_backward_numba", g, y, "cpu")
    if g.strides != y.strides or g.dtype != y.dtype or g.dtype not in FLOATS:
        return relu_backward_reference(g, y)
    flat_g, flat_y = dense_flat(g), dense_flat(y)
    if flat_g is None or flat_y is None:
        return relu_backward_reference(g, y)
    out = np.empty_like(g)                                       # the same layout as g (order 'K')
    _relu_backward(flat_g, flat_y, dense_flat(out))
    return out


def relu_backward_cuda(g, y):
    """Same contract as :func:`relu_backward_reference`, for CuPy arrays: one kernel, one pass."""
    check_relu_arguments("relu_backward_cuda", g, y, "cuda")
    kernel = cuda_elementwise("T g, T y", "T out", "out = g * (T)(y > 0)", "minigrad_relu_backward")
    return kernel(g, y)
