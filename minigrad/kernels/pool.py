"""Max, average and adaptive average pooling over NCHW arrays: forward and backward, each as a NumPy (xp)
reference, numba loops for the CPU and a numba.cuda kernel for a GPU.

Geometry (checked and computed by ``minigrad.ops.pool``, which calls these): ``kernel`` (kh, kw), ``stride``
(sh, sw), ``padding`` (ph, pw), ``dilation`` (dh, dw) and the output size ``out`` (oh, ow). Window (p, q)
takes the input elements

    x[n, c, p sh - ph + i dh, q sw - pw + j dw]        i = 0 .. kh-1, j = 0 .. kw-1   ("offset" (i, j))

where those rows and columns lie inside the input. Max pooling also returns ``argmax``, the offset
i kw + j of each window's winner (int32), which is all its backward needs.

The references for max and average pooling loop over the kh kw offsets: offset (i, j) of every window at
once is one strided slice of the padded input, shape (N, C, OH, OW), so each step is a whole-array NumPy
(or CuPy) operation. That makes kh kw passes over memory, each with temporaries; the numba kernels instead
visit each output pixel once, read its window and write it, with the images shared out over the cores.
They read and write channels-last memory, (N, H, W, C), as ``conv2d`` produces it: the innermost loop then
runs over the C channels of one pixel, consecutive in memory, which the compiler turns into vector
instructions. Their wrappers take and return (N, C, H, W)-shaped arrays like the references (views of
channels-last memory; an input in another layout is copied first). Adaptive pooling's windows differ in
size, so its reference uses two matrix products instead. The numba.cuda kernels at the end run one GPU
thread per element they write; their backward passes gather each input element's gradient from the windows
that contain it, so no two threads write the same element. The ops call the Kernel entries at the very end
(``max_pool2d_forward``, ...), which run the reference for dtypes other than float32 and float64.
"""

import numbers

import numba
import numpy as np

from ..backend import get_array_module
from . import (FLOATS, Kernel, channels_last, expect, expect_geometry, expect_ints, gpu_device_function, gpu_kernel,
               launch, unravel, window_reaching)

cuda = None                           # numba.cuda, bound at the first GPU launch (see kernels.gpu_kernel)


# ----- helpers of the references ------------------------------------------------------------------------------

def padded_extent(size, kernel, stride, padding, dilation, out):
    """Rows (or columns) of padded array that hold the input after ``padding`` and reach the last window."""
    return max(padding + size, (out - 1) * stride + (kernel - 1) * dilation + 1)


def pad(x, padding, extent, fill):
    """x (N, C, H, W) copied into an (N, C, *extent) array of ``fill``, its corner at (ph, pw)."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (ph, pw) = padding
    out = xp.full((n, c, extent[0], extent[1]), fill, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def window_offset(padded, i, j, stride, dilation, out):
    """Offset (i, j) of every window: a strided view of ``padded``, shape (N, C, OH, OW).

    Window (p, q) starts at padded row p sh and column q sw, so its element (i, j) is at padded row
    i dh + p sh and column j dw + q sw: rows i dh, i dh + sh, ... of the padded array, and likewise columns.
    """
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, out
    top, left = i * dh, j * dw
    return padded[:, :, top:top + (oh - 1) * sh + 1:sh, left:left + (ow - 1) * sw + 1:sw]


def extents(x_shape, kernel, stride, padding, dilation, out):
    return tuple(padded_extent(x_shape[2 + a], kernel[a], stride[a], padding[a], dilation[a], out[a])
                 for a in (0, 1))


# ----- the checks of the numba and CUDA kernels' arguments -----------------------------------------------------

IMAGES = (None, None, None, None)                 # any (N, C, H, W)


def check_forward(who, x, kernel, stride, padding, dilation, out, device):
    """x a floating (N, C, H, W) array, and the window geometry (see ``expect_geometry``)."""
    expect(who, "x", x, shape=IMAGES, device=device)
    expect_geometry(who, kernel, stride, padding, dilation, out)


def check_backward(who, grad, x_shape, device):
    """x_shape four sizes, and grad (N, C, OH, OW) for the same N and C; returns (OH, OW)."""
    n, c, _, _ = expect_ints(who, "x_shape", x_shape, 4, 0)
    expect(who, "grad", grad, shape=(n, c, None, None), device=device)
    return grad.shape[2:]


def check_divisor(who, divisor_override):
    """divisor_override None or a non-zero int (0 would divide by zero)."""
    if divisor_override is not None and (not isinstance(divisor_override, numbers.Integral)
                                         or isinstance(divisor_override, bool) or divisor_override == 0):
        raise ValueError(f"{who}: divisor_override must be None or a non-zero int, got {divisor_override!r}")


def check_max_backward(who, grad, argmax, x_shape, kernel, stride, padding, dilation, device):
    """As check_backward, and argmax an int32 array of grad's shape."""
    out = check_backward(who, grad, x_shape, device)
    expect(who, "argmax", argmax, shape=grad.shape, dtype=np.int32, device=device)
    expect_geometry(who, kernel, stride, padding, dilation, out)


def check_avg(who, kernel, stride, padding, out, divisor_override):
    """Average pooling's geometry (it has no dilation) and divisor_override."""
    expect_geometry(who, kernel, stride, padding, None, out)
    check_divisor(who, divisor_override)


# ----- max pooling --------------------------------------------------------------------------------------------

def max_pool2d_forward_reference(x, kernel, stride, padding, dilation, out):
    """y[n, c, p, q] = max over the window of x, and argmax = the offset i kw + j that attains it.

    PyTorch's rule picks the winner: visiting the window in row-major order, an element replaces the best
    so far if it is the window's first element inside the input, if it is larger, or if it is NaN. So the
    first of several equal maxima wins, and a NaN (the max of anything with a NaN is NaN) always does.
    Padding is -inf and never wins, but it is not an input element, so ``inside`` marks the real ones.
    """
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (ph, pw), (oh, ow) = kernel, padding, out
    padded = pad(x, padding, extents(x.shape, kernel, stride, padding, dilation, out), -np.inf)
    y = xp.full((n, c, oh, ow), -np.inf, dtype=x.dtype)
    argmax = xp.full((n, c, oh, ow), -1, dtype=xp.int32)         # -1: no element of the window seen yet
    top = xp.arange(oh) * stride[0] - ph                          # input row where each window starts
    left = xp.arange(ow) * stride[1] - pw
    for i in range(kh):
        rows = top + i * dilation[0]
        for j in range(kw):
            cols = left + j * dilation[1]
            inside = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]   # (OH, OW)
            v = window_offset(padded, i, j, stride, dilation, out)
            wins = (inside & (argmax < 0)) | (v > y) | xp.isnan(v)
            y = xp.where(wins, v, y)
            argmax = xp.where(wins, xp.int32(i * kw + j), argmax)
    return y, argmax


def max_pool2d_backward_reference(grad, argmax, x_shape, kernel, stride, padding, dilation):
    """dL/dx: each window's gradient goes to its winner, dL/dx[winner] += g[n, c, p, q].

    Offset by offset: the windows whose winner is offset (i, j) add their g to that element, which is the
    same strided slice the forward read. An element that wins several overlapping windows receives the sum.
    """
    xp = get_array_module(grad)
    h, w = x_shape[2:]
    (kh, kw), (ph, pw), out = kernel, padding, argmax.shape[2:]
    dx = xp.zeros(x_shape[:2] + extents(x_shape, kernel, stride, padding, dilation, out), dtype=grad.dtype)
    for i in range(kh):
        for j in range(kw):
            window_offset(dx, i, j, stride, dilation, out)[...] += xp.where(argmax == i * kw + j, grad, 0)
    return xp.ascontiguousarray(dx[:, :, ph:ph + h, pw:pw + w])


@numba.njit(parallel=True, cache=True)
def _max_pool2d_forward(x, y, argmax, kh, kw, sh, sw, ph, pw, dh, dw):
    n, h, w, c = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for b in numba.prange(n):
        for p in range(oh):
            for q in range(ow):
                best, arg = y[b, p, q], argmax[b, p, q]        # the C channels of output pixel (p, q)
                arg[:] = -1                                    # -1: no element of the window seen yet
                for i in range(kh):
                    r = p * sh - ph + i * dh
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        col = q * sw - pw + j * dw
                        if col < 0 or col >= w:
                            continue
                        v = x[b, r, col]
                        for ci in range(c):                    # first element, larger, or NaN (v != v)
                            if arg[ci] < 0 or v[ci] > best[ci] or v[ci] != v[ci]:
                                best[ci] = v[ci]
                                arg[ci] = i * kw + j


@numba.njit(parallel=True, cache=True)
def _max_pool2d_backward(grad, argmax, dx, kh, kw, sh, sw, ph, pw, dh, dw):
    n, h, w, c = dx.shape
    oh, ow = grad.shape[1], grad.shape[2]
    for b in numba.prange(n):
        dx[b] = 0
        for p in range(oh):
            for q in range(ow):
                g, arg = grad[b, p, q], argmax[b, p, q]
                for i in range(kh):
                    r = p * sh - ph + i * dh
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        col = q * sw - pw + j * dw
                        if col < 0 or col >= w:
                            continue
                        target = dx[b, r, col]
                        for ci in range(c):                    # the channels whose winner is tap (i, j)
                            if arg[ci] == i * kw + j:
                                target[ci] += g[ci]


def max_pool2d_forward_numba(x, kernel, stride, padding, dilation, out):
    """Same contract as :func:`max_pool2d_forward_reference`; x a float32/float64 NumPy array."""
    check_forward("max_pool2d_forward_numba", x, kernel, stride, padding, dilation, out, "cpu")
    n, c = x.shape[:2]
    y = np.empty((n,) + tuple(out) + (c,), dtype=x.dtype)
    argmax = np.empty((n,) + tuple(out) + (c,), dtype=np.int32)
    _max_pool2d_forward(channels_last(x), y, argmax, *kernel, *stride, *padding, *dilation)
    return y.transpose(0, 3, 1, 2), argmax.transpose(0, 3, 1, 2)


def max_pool2d_backward_numba(grad, argmax, x_shape, kernel, stride, padding, dilation):
    """Same contract as :func:`max_pool2d_backward_reference`."""
    check_max_backward("max_pool2d_backward_numba", grad, argmax, x_shape, kernel, stride, padding, dilation, "cpu")
    n, c, h, w = x_shape
    dx = np.empty((n, h, w, c), dtype=grad.dtype)
    _max_pool2d_backward(channels_last(grad), channels_last(argmax), dx, *kernel, *stride, *padding, *dilation)
    return dx.transpose(0, 3, 1, 2)


# ----- average pooling ----------------------------------------------------------------------------------------

def window_sizes(size, kernel, stride, padding, out, count_include_pad, xp=np):
    """The divisor's factor along one axis, for each window, by PyTorch's rule.

    A window starting at s = o stride - padding covers [s, min(s + kernel, size + padding)): it is cut off
    where the padding ends (only ceil_mode windows reach that far). With count_include_pad the padding
    it covers counts; without, only the part inside the input [0, size) does.
    """
    start = xp.arange(out) * stride - padding
    end = xp.minimum(start + kernel, size + padding)
    if count_include_pad:
        return end - start
    return xp.minimum(end, size) - xp.maximum(start, 0)


def avg_pool2d_divisor(x_shape, kernel, stride, padding, out, count_include_pad, divisor_override, xp=np):
    """What each window's sum is divided by: (OH, OW), or the scalar ``divisor_override`` when given."""
    if divisor_override:
        return divisor_override
    rows = window_sizes(x_shape[2], kernel[0], stride[0], padding[0], out[0], count_include_pad, xp)
    cols = window_sizes(x_shape[3], kernel[1], stride[1], padding[1], out[1], count_include_pad, xp)
    return rows[:, None] * cols[None, :]


def avg_pool2d_forward_reference(x, kernel, stride, padding, out, count_include_pad, divisor_override):
    """y[n, c, p, q] = (sum of x over the window, padding counting as 0) / divisor[p, q]."""
    xp = get_array_module(x)
    n, c = x.shape[:2]
    dilation = (1, 1)
    padded = pad(x, padding, extents(x.shape, kernel, stride, padding, dilation, out), 0)
    total = xp.zeros((n, c) + tuple(out), dtype=x.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            total += window_offset(padded, i, j, stride, dilation, out)
    divisor = avg_pool2d_divisor(x.shape, kernel, stride, padding, out, count_include_pad, divisor_override, xp)
    return total / xp.asarray(divisor, dtype=x.dtype)


def avg_pool2d_backward_reference(grad, x_shape, kernel, stride, padding, count_include_pad, divisor_override):
    """dL/dx[e] = sum over the windows containing input element e of g[n, c, p, q] / divisor[p, q]."""
    xp = get_array_module(grad)
    h, w = x_shape[2:]
    (ph, pw), out, dilation = padding, grad.shape[2:], (1, 1)
    divisor = avg_pool2d_divisor(x_shape, kernel, stride, padding, out, count_include_pad, divisor_override, xp)
    share = grad / xp.asarray(divisor, dtype=grad.dtype)          # what each element of a window receives
    dx = xp.zeros(x_shape[:2] + extents(x_shape, kernel, stride, padding, dilation, out), dtype=grad.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            window_offset(dx, i, j, stride, dilation, out)[...] += share
    return xp.ascontiguousarray(dx[:, :, ph:ph + h, pw:pw + w])


def divisor(top, left, h, w, kh, kw, ph, pw, count_include_pad, divisor_override):
    """PyTorch's divisor for the window whose corner is input row ``top``, column ``left`` (see window_sizes).

    Compiled for the CPU and, as a device function, for the GPU, where numba.cuda cannot compile the
    builtins min and max: the clipping is written out as conditional expressions."""
    if divisor_override:
        return divisor_override
    bottom = top + kh if top + kh < h + ph else h + ph              # cut off where the padding ends
    right = left + kw if left + kw < w + pw else w + pw
    if not count_include_pad:                                       # only the part inside the input counts
        top, left = (top if top > 0 else 0), (left if left > 0 else 0)
        bottom, right = (bottom if bottom < h else h), (right if right < w else w)
    return (bottom - top) * (right - left)


_divisor, _divisor_gpu = numba.njit(cache=True)(divisor), gpu_device_function(divisor)


@numba.njit(parallel=True, cache=True)
def _avg_pool2d_forward(x, y, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    n, h, w, c = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for b in numba.prange(n):
        for p in range(oh):
            top = p * sh - ph
            for q in range(ow):
                left = q * sw - pw
                total = y[b, p, q]                             # summed into the output, C channels at once
                total[:] = 0
                for i in range(kh):
                    r = top + i
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        col = left + j
                        if col < 0 or col >= w:
                            continue
                        v = x[b, r, col]
                        for ci in range(c):
                            total[ci] += v[ci]
                divisor = _divisor(top, left, h, w, kh, kw, ph, pw, count_include_pad, divisor_override)
                for ci in range(c):
                    total[ci] /= divisor


@numba.njit(parallel=True, cache=True)
def _avg_pool2d_backward(grad, dx, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    n, h, w, c = dx.shape
    oh, ow = grad.shape[1], grad.shape[2]
    for b in numba.prange(n):
        dx[b] = 0
        for p in range(oh):
            top = p * sh - ph
            for q in range(ow):
                left = q * sw - pw
                divisor = _divisor(top, left, h, w, kh, kw, ph, pw, count_include_pad, divisor_override)
                g = grad[b, p, q]
                for i in range(kh):
                    r = top + i
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        col = left + j
                        if col < 0 or col >= w:
                            continue
                        target = dx[b, r, col]
                        for ci in range(c):                    # each element of a window gets g / divisor
                            target[ci] += g[ci] / divisor


def avg_pool2d_forward_numba(x, kernel, stride, padding, out, count_include_pad, divisor_override):
    """Same contract as :func:`avg_pool2d_forward_reference`; x a float32/float64 NumPy array."""
    expect("avg_pool2d_forward_numba", "x", x, shape=IMAGES)
    check_avg("avg_pool2d_forward_numba", kernel, stride, padding, out, divisor_override)
    n, c = x.shape[:2]
    y = np.empty((n,) + tuple(out) + (c,), dtype=x.dtype)
    settings = (bool(count_include_pad), int(divisor_override or 0))     # 0: no override
    _avg_pool2d_forward(channels_last(x), y, *kernel, *stride, *padding, *settings)
    return y.transpose(0, 3, 1, 2)


def avg_pool2d_backward_numba(grad, x_shape, kernel, stride, padding, count_include_pad, divisor_override):
    """Same contract as :func:`avg_pool2d_backward_reference`."""
    out = check_backward("avg_pool2d_backward_numba", grad, x_shape, "cpu")
    check_avg("avg_pool2d_backward_numba", kernel, stride, padding, out, divisor_override)
    n, c, h, w = x_shape
    dx = np.empty((n, h, w, c), dtype=grad.dtype)
    settings = (bool(count_include_pad), int(divisor_override or 0))
    _avg_pool2d_backward(channels_last(grad), dx, *kernel, *stride, *padding, *settings)
    return dx.transpose(0, 3, 1, 2)


# ----- adaptive average pooling -------------------------------------------------------------------------------

def adaptive_pool_matrix(size, out, xp=np, dtype=np.float64):
    """P (out, size) averaging the windows of one axis: P[o, k] = 1 / (end_o - start_o) for start_o <= k < end_o.

    Window o covers [floor(o size / out), ceil((o + 1) size / out)), PyTorch's rule.
    """
    o = xp.arange(out)
    start = (o * size) // out
    end = -((-(o + 1) * size) // out)                                # ceil((o + 1) size / out)
    k = xp.arange(size)
    inside = (start[:, None] <= k[None, :]) & (k[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def apply_to_last_axis(a, matrix):
    """b[..., o] = sum over k of matrix[o, k] a[..., k] for a (..., K), matrix (O, K): one matrix product."""
    return (a.reshape(-1, a.shape[-1]) @ matrix.T).reshape(a.shape[:-1] + (matrix.shape[0],))


def adaptive_avg_pool2d_forward_reference(x, out):
    """Y = P_H X P_W^T for every image plane X (H, W): average over column windows, then over row windows."""
    xp = get_array_module(x)
    rows = adaptive_pool_matrix(x.shape[2], out[0], xp, x.dtype)     # (OH, H)
    cols = adaptive_pool_matrix(x.shape[3], out[1], xp, x.dtype)     # (OW, W)
    t = apply_to_last_axis(x, cols)                                  # (N, C, H, OW)
    return xp.ascontiguousarray(apply_to_last_axis(t.swapaxes(2, 3), rows).swapaxes(2, 3))


def adaptive_avg_pool2d_backward_reference(grad, x_shape):
    """dL/dX = P_H^T G P_W for every plane: the transposed products, in the reverse order."""
    xp = get_array_module(grad)
    rows = adaptive_pool_matrix(x_shape[2], grad.shape[2], xp, grad.dtype)
    cols = adaptive_pool_matrix(x_shape[3], grad.shape[3], xp, grad.dtype)
    t = apply_to_last_axis(grad.swapaxes(2, 3), rows.T).swapaxes(2, 3)   # (N, C, H, OW)
    return apply_to_last_axis(t, cols.T)                                 # (N, C, H, W)


def adaptive_window(o, size, out):
    """[start, end) of window o of ``out`` along an axis of ``size``."""
    return (o * size) // out, -((-(o + 1) * size) // out)


_adaptive_window, _adaptive_window_gpu = numba.njit(cache=True)(adaptive_window), gpu_device_function(adaptive_window)


@numba.njit(parallel=True, cache=True)
def _adaptive_avg_pool2d_forward(x, y):
    n, h, w, c = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for b in numba.prange(n):
        for p in range(oh):
            r0, r1 = _adaptive_window(p, h, oh)
            for q in range(ow):
                c0, c1 = _adaptive_window(q, w, ow)
                total = y[b, p, q]
                total[:] = 0
                for r in range(r0, r1):
                    for col in range(c0, c1):
                        v = x[b, r, col]
                        for ci in range(c):
                            total[ci] += v[ci]
                count = (r1 - r0) * (c1 - c0)
                for ci in range(c):
                    total[ci] /= count


@numba.njit(parallel=True, cache=True)
def _adaptive_avg_pool2d_backward(grad, dx):
    n, h, w, c = dx.shape
    oh, ow = grad.shape[1], grad.shape[2]
    for b in numba.prange(n):
        dx[b] = 0
        for p in range(oh):
            r0, r1 = _adaptive_window(p, h, oh)
            for q in range(ow):
                c0, c1 = _adaptive_window(q, w, ow)
                count = (r1 - r0) * (c1 - c0)
                g = grad[b, p, q]
                for r in range(r0, r1):
                    for col in range(c0, c1):
                        target = dx[b, r, col]
                        for ci in range(c):
                            target[ci] += g[ci] / count


def adaptive_avg_pool2d_forward_numba(x, out):
    """Same contract as :func:`adaptive_avg_pool2d_forward_reference`; x a float32/float64 NumPy array."""
    expect("adaptive_avg_pool2d_forward_numba", "x", x, shape=IMAGES)
    expect_ints("adaptive_avg_pool2d_forward_numba", "out", out, 2, 1)
    n, c = x.shape[:2]
    y = np.empty((n,) + tuple(out) + (c,), dtype=x.dtype)
    _adaptive_avg_pool2d_forward(channels_last(x), y)
    return y.transpose(0, 3, 1, 2)


def adaptive_avg_pool2d_backward_numba(grad, x_shape):
    """Same contract as :func:`adaptive_avg_pool2d_backward_reference`."""
    out = check_backward("adaptive_avg_pool2d_backward_numba", grad, x_shape, "cpu")
    expect_ints("adaptive_avg_pool2d_backward_numba", "grad.shape[2:]", out, 2, 1)
    n, c, h, w = x_shape
    dx = np.empty((n, h, w, c), dtype=grad.dtype)
    _adaptive_avg_pool2d_backward(channels_last(grad), dx)
    return dx.transpose(0, 3, 1, 2)


# ----- the CUDA kernels -----------------------------------------------------------------------------------------
#
# One thread per element written, on channels-last (N, rows, cols, C) arrays: thread i unravels its index
# into (b, row, col, ci). The forward passes read each output's window; the backward passes gather each
# input element's gradient from the windows (p, q) that read it (``window_reaching``), so no two threads
# write the same element. Sums start from ``dtype.type(0)`` and divisors are converted to the array's
# dtype: a float32 kernel computes in float32, as the reference.

@gpu_kernel
def _max_pool2d_forward_gpu(x, y, argmax, kh, kw, sh, sw, ph, pw, dh, dw):
    i = cuda.grid(1)
    if i < y.size:
        _, h, w, _ = x.shape
        b, p, q, ci = unravel(i, y.shape[1], y.shape[2], y.shape[3])
        best = x.dtype.type(0)
        winner = -1                                            # -1: no element of the window seen yet
        for ii in range(kh):
            r = p * sh - ph + ii * dh
            if r < 0 or r >= h:
                continue
            for j in range(kw):
                s = q * sw - pw + j * dw
                if s < 0 or s >= w:
                    continue
                v = x[b, r, s, ci]
                if winner < 0 or v > best or v != v:           # PyTorch's rule: first element, larger, or NaN
                    best = v
                    winner = ii * kw + j
        y[b, p, q, ci] = best
        argmax[b, p, q, ci] = winner


@gpu_kernel
def _max_pool2d_backward_gpu(grad, argmax, dx, kh, kw, sh, sw, ph, pw, dh, dw):
    i = cuda.grid(1)
    if i < dx.size:
        oh, ow = grad.shape[1], grad.shape[2]
        b, r, s, ci = unravel(i, dx.shape[1], dx.shape[2], dx.shape[3])
        total = dx.dtype.type(0)
        for ii in range(kh):
            p = window_reaching(r, ph, ii, dh, sh, oh)
            if p < 0:
                continue
            for j in range(kw):
                q = window_reaching(s, pw, j, dw, sw, ow)
                if q >= 0 and argmax[b, p, q, ci] == ii * kw + j:    # this element won window (p, q)
                    total += grad[b, p, q, ci]
        dx[b, r, s, ci] = total


@gpu_kernel
def _avg_pool2d_forward_gpu(x, y, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    i = cuda.grid(1)
    if i < y.size:
        _, h, w, _ = x.shape
        b, p, q, ci = unravel(i, y.shape[1], y.shape[2], y.shape[3])
        top, left = p * sh - ph, q * sw - pw
        total = x.dtype.type(0)
        for ii in range(kh):
            r = top + ii
            if r < 0 or r >= h:
                continue
            for j in range(kw):
                s = left + j
                if 0 <= s < w:
                    total += x[b, r, s, ci]
        count = _divisor_gpu(top, left, h, w, kh, kw, ph, pw, count_include_pad, divisor_override)
        y[b, p, q, ci] = total / x.dtype.type(count)


@gpu_kernel
def _avg_pool2d_backward_gpu(grad, dx, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    i = cuda.grid(1)
    if i < dx.size:
        _, h, w, _ = dx.shape
        oh, ow = grad.shape[1], grad.shape[2]
        b, r, s, ci = unravel(i, h, w, dx.shape[3])
        total = dx.dtype.type(0)
        for ii in range(kh):
            p = window_reaching(r, ph, ii, 1, sh, oh)
            if p < 0:
                continue
            for j in range(kw):
                q = window_reaching(s, pw, j, 1, sw, ow)
                if q >= 0:                                     # each element of a window gets g / divisor
                    count = _divisor_gpu(p * sh - ph, q * sw - pw, h, w, kh, kw, ph, pw, count_include_pad,
                                         divisor_override)
                    total += grad[b, p, q, ci] / dx.dtype.type(count)
        dx[b, r, s, ci] = total


@gpu_kernel
def _adaptive_avg_pool2d_forward_gpu(x, y):
    i = cuda.grid(1)
    if i < y.size:
        _, h, w, _ = x.shape
        oh, ow = y.shape[1], y.shape[2]
        b, p, q, ci = unravel(i, oh, ow, y.shape[3])
        r0, r1 = _adaptive_window_gpu(p, h, oh)
        s0, s1 = _adaptive_window_gpu(q, w, ow)
        total = x.dtype.type(0)
        for r in range(r0, r1):
            for s in range(s0, s1):
                total += x[b, r, s, ci]
        y[b, p, q, ci] = total / x.dtype.type((r1 - r0) * (s1 - s0))


@gpu_kernel
def _adaptive_avg_pool2d_backward_gpu(grad, dx):
    i = cuda.grid(1)
    if i < dx.size:
        _, h, w, _ = dx.shape
        oh, ow = grad.shape[1], grad.shape[2]
        b, r, s, ci = unravel(i, h, w, dx.shape[3])
        total = dx.dtype.type(0)
        for p in range(oh):
            r0, r1 = _adaptive_window_gpu(p, h, oh)
            if r < r0 or r >= r1:
                continue
            for q in range(ow):
                s0, s1 = _adaptive_window_gpu(q, w, ow)
                if s0 <= s < s1:
                    total += grad[b, p, q, ci] / dx.dtype.type((r1 - r0) * (s1 - s0))
        dx[b, r, s, ci] = total


def _empty_channels_last(xp, shape_nchw, dtype):
    n, c, h, w = shape_nchw
    return xp.empty((n, h, w, c), dtype=dtype)


def max_pool2d_forward_cuda(x, kernel, stride, padding, dilation, out):
    """Same contract as :func:`max_pool2d_forward_reference`, for CuPy arrays."""
    check_forward("max_pool2d_forward_cuda", x, kernel, stride, padding, dilation, out, "cuda")
    xp = get_array_module(x)
    n, c = x.shape[:2]
    y = _empty_channels_last(xp, (n, c) + tuple(out), x.dtype)
    argmax = xp.empty(y.shape, dtype=np.int32)
    _max_pool2d_forward_gpu[launch(y.size)](channels_last(x), y, argmax, *kernel, *stride, *padding, *dilation)
    return y.transpose(0, 3, 1, 2), argmax.transpose(0, 3, 1, 2)


def max_pool2d_backward_cuda(grad, argmax, x_shape, kernel, stride, padding, dilation):
    """Same contract as :func:`max_pool2d_backward_reference`, for CuPy arrays."""
    check_max_backward("max_pool2d_backward_cuda", grad, argmax, x_shape, kernel, stride, padding, dilation, "cuda")
    xp = get_array_module(grad)
    dx = _empty_channels_last(xp, x_shape, grad.dtype)
    _max_pool2d_backward_gpu[launch(dx.size)](channels_last(grad), channels_last(argmax), dx, *kernel, *stride,
                                              *padding, *dilation)
    return dx.transpose(0, 3, 1, 2)


def avg_pool2d_forward_cuda(x, kernel, stride, padding, out, count_include_pad, divisor_override):
    """Same contract as :func:`avg_pool2d_forward_reference`, for CuPy arrays."""
    expect("avg_pool2d_forward_cuda", "x", x, shape=IMAGES, device="cuda")
    check_avg("avg_pool2d_forward_cuda", kernel, stride, padding, out, divisor_override)
    xp = get_array_module(x)
    n, c = x.shape[:2]
    y = _empty_channels_last(xp, (n, c) + tuple(out), x.dtype)
    settings = (bool(count_include_pad), int(divisor_override or 0))     # 0: no override
    _avg_pool2d_forward_gpu[launch(y.size)](channels_last(x), y, *kernel, *stride, *padding, *settings)
    return y.transpose(0, 3, 1, 2)


def avg_pool2d_backward_cuda(grad, x_shape, kernel, stride, padding, count_include_pad, divisor_override):
    """Same contract as :func:`avg_pool2d_backward_reference`, for CuPy arrays."""
    out = check_backward("avg_pool2d_backward_cuda", grad, x_shape, "cuda")
    check_avg("avg_pool2d_backward_cuda", kernel, stride, padding, out, divisor_override)
    xp = get_array_module(grad)
    dx = _empty_channels_last(xp, x_shape, grad.dtype)
    settings = (bool(count_include_pad), int(divisor_override or 0))
    _avg_pool2d_backward_gpu[launch(dx.size)](channels_last(grad), dx, *kernel, *stride, *padding, *settings)
    return dx.transpose(0, 3, 1, 2)


def adaptive_avg_pool2d_forward_cuda(x, out):
    """Same contract as :func:`adaptive_avg_pool2d_forward_reference`, for CuPy arrays."""
    expect("adaptive_avg_pool2d_forward_cuda", "x", x, shape=IMAGES, device="cuda")
    expect_ints("adaptive_avg_pool2d_forward_cuda", "out", out, 2, 1)
    xp = get_array_module(x)
    n, c = x.shape[:2]
    y = _empty_channels_last(xp, (n, c) + tuple(out), x.dtype)
    _adaptive_avg_pool2d_forward_gpu[launch(y.size)](channels_last(x), y)
    return y.transpose(0, 3, 1, 2)


def adaptive_avg_pool2d_backward_cuda(grad, x_shape):
    """Same contract as :func:`adaptive_avg_pool2d_backward_reference`, for CuPy arrays."""
    out = check_backward("adaptive_avg_pool2d_backward_cuda", grad, x_shape, "cuda")
    expect_ints("adaptive_avg_pool2d_backward_cuda", "grad.shape[2:]", out, 2, 1)
    xp = get_array_module(grad)
    dx = _empty_channels_last(xp, x_shape, grad.dtype)
    _adaptive_avg_pool2d_backward_gpu[launch(dx.size)](channels_last(grad), dx)
    return dx.transpose(0, 3, 1, 2)


# ----- the Kernel entries the ops call ------------------------------------------------------------------------

def float_grad_and_int32_argmax(grad, argmax, *geometry):
    """What max pooling's compiled backward passes take: grad float32 or float64, argmax int32 (so not one
    dtype for all arrays, as ``kernels.float_arrays`` asks)."""
    return grad.dtype in FLOATS and argmax.dtype == np.int32


max_pool2d_forward = Kernel("max_pool2d_forward", max_pool2d_forward_reference, max_pool2d_forward_numba,
                            max_pool2d_forward_cuda)
max_pool2d_backward = Kernel("max_pool2d_backward", max_pool2d_backward_reference, max_pool2d_backward_numba,
                             max_pool2d_backward_cuda, fast=float_grad_and_int32_argmax)
avg_pool2d_forward = Kernel("avg_pool2d_forward", avg_pool2d_forward_reference, avg_pool2d_forward_numba,
                            avg_pool2d_forward_cuda)
avg_pool2d_backward = Kernel("avg_pool2d_backward", avg_pool2d_backward_reference, avg_pool2d_backward_numba,
                             avg_pool2d_backward_cuda)
adaptive_avg_pool2d_forward = Kernel("adaptive_avg_pool2d_forward", adaptive_avg_pool2d_forward_reference,
                                     adaptive_avg_pool2d_forward_numba, adaptive_avg_pool2d_forward_cuda)
adaptive_avg_pool2d_backward = Kernel("adaptive_avg_pool2d_backward", adaptive_avg_pool2d_backward_reference,
                                      adaptive_avg_pool2d_backward_numba, adaptive_avg_pool2d_backward_cuda)
