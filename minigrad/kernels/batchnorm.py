"""Batch normalisation's passes over the data (see ``minigrad.ops.batchnorm`` for the math).

Every function takes the input viewed as x (N, C, L): the batch axis, the channel axis, and every other axis
flattened into L (L = H*W for images, L = 1 for (N, C) input), so a channel's n = N*L values are N rows of L
contiguous numbers. Three steps need a pass over the whole array:

    batch_stats    mean and biased variance of each channel (training forward)
    scale_shift    y = x * scale_c + shift_c: the normalisation as one multiply-add per element
    backward       sum g and sum g * x_hat of each channel, then (fused) dL/dx

The NumPy references make a pass over memory, and a temporary array, for every ``-``, ``*`` and ``sum``.
The numba kernels make one pass per step:

- Sums are accumulated in float64 whatever the input's dtype: the rounding error of a float32 running sum
  grows with the number of terms (up to n * 6e-8, 0.15% for the 25,088 values of a channel of a
  (32, 32, 28, 28) batch). They are compiled with ``fastmath={"reassoc"}``, which lets LLVM keep several
  partial sums in a SIMD register instead of one serial chain; it changes only the order of the additions.
- The reductions take one channel at a time, so ``backward`` computes a channel's two sums and then its
  dL/dx while that channel is still in cache. ``scale_shift`` has no sums and walks memory in order.
- The outer loop runs on numba's threads (``prange``) only for arrays of at least ``PARALLEL_MIN_SIZE``
  elements: below that, waking the threads (tens of microseconds) costs more than it saves.
- When L = 1 (an (N, C) input, or an image batch in channels-last memory viewed as (N*H*W, C, 1)) a
  channel's values lie C apart, and walking one channel at a time would read the whole array C times. The
  sums then walk the rows instead, all channels at once: each thread sums a block of rows into its own
  row of partial sums, and the partial sums are added at the end (``_row_sums``).

The numba.cuda kernels (``*_cuda``, on CuPy arrays) do the same steps on a GPU: each channel's sums by one
block of threads (``_batch_stats_gpu``, ``_backward_sums_gpu``: the threads share the channel's values and
add their float64 partial sums in shared memory), and the per-element steps, y and dL/dx, by one thread per
element. They index x as (N, C, L) whatever its strides and return C-order arrays, as the numba versions
do. Each op calls the module's :class:`~minigrad.kernels.Kernel` entries, ``batch_stats``, ``scale_shift``
and ``batch_norm_backward``, which run the reference for arrays of other dtypes.
"""

import numba
import numpy as np

from ..backend import get_array_module
from . import FLOATS, THREADS_PER_BLOCK, Kernel, expect, gpu_device_function, gpu_kernel, is_array, launch

cuda = None                           # numba.cuda, bound at the first GPU launch (see kernels.gpu_kernel)

REDUCE = {"reassoc"}          # the one fast-math liberty the kernels take: reorder the terms of a sum
PARALLEL_MIN_SIZE = 1 << 19   # elements (about 500,000); below this a kernel runs on the calling thread


def _column(v, dtype):
    """A per-channel vector (C,) as a (C, 1) column of ``dtype``: it broadcasts over (N, C, L), and a float64
    statistic does not turn a float32 array into a float64 one."""
    return v.astype(dtype, copy=False)[:, None]


def _parallel(x, parallel):
    return x.size >= PARALLEL_MIN_SIZE if parallel is None else bool(parallel)


def check_input(who, x, device):
    """x a floating (N, C, L) array; returns C."""
    return expect(who, "x", x, shape=(None, None, None), device=device).shape[1]


def check_per_channel(who, channels, device, **vectors):
    """Each named vector a floating array of shape (C,): the kernels read entry c for every channel c."""
    for name, v in vectors.items():
        expect(who, name, v, shape=(channels,), device=device)


def check_backward_arguments(who, g, x, mean, invstd, weight, device):
    """x (N, C, L), g of x's shape (any floating dtype: it is cast to x's), mean, invstd, weight (C,)."""
    channels = check_input(who, x, device)
    expect(who, "g", g, shape=x.shape, device=device)
    check_per_channel(who, channels, device, mean=mean, invstd=invstd, weight=weight)


# ----- forward: per-channel statistics ----------------------------------------------------------------------

def batch_stats_reference(x):
    """(mean, var) of each channel of x (N, C, L) over its N*L values, both float64 (C,); var is biased (/n).

    Two passes (the mean first, then squared deviations from it): the one-pass E[x^2] - E[x]^2 cancels
    catastrophically when a channel's mean is large compared with its spread.
    """
    xp = get_array_module(x)
    mean = x.mean(axis=(0, 2), dtype=xp.float64)
    var = ((x - mean[:, None]) ** 2).mean(axis=(0, 2))
    return mean, var


@numba.njit(cache=True, fastmath=REDUCE)
def _channel_stats(x, c, mean, var):
    batch, _, length = x.shape
    total = 0.0                                     # float64 whatever x's dtype
    for i in range(batch):
        for j in range(length):
            total += x[i, c, j]
    m = total / (batch * length)
    squares = 0.0
    for i in range(batch):                          # the channel is in cache now
        for j in range(length):
            d = x[i, c, j] - m
            squares += d * d
    mean[c] = m
    var[c] = squares / (batch * length)


@numba.njit(parallel=True, cache=True)
def _batch_stats(x, mean, var, parallel):
    if parallel:
        for c in numba.prange(x.shape[1]):
            _channel_stats(x, c, mean, var)
    else:
        for c in range(x.shape[1]):
            _channel_stats(x, c, mean, var)


@numba.njit(cache=True, fastmath=REDUCE)
def _row_block_sums(a, b, centre, partial, t):
    """partial[t, 0, c] = sum of a[i, c] and partial[t, 1, c] = sum of a[i, c] (b[i, c] - centre[c]) over the
    rows i of block t; with b = a the second is the sum of squared deviations from ``centre``."""
    rows, channels = a.shape
    blocks = partial.shape[0]
    total, dot = np.zeros(channels), np.zeros(channels)         # this block's own float64 sums
    for i in range(t * rows // blocks, (t + 1) * rows // blocks):
        for c in range(channels):
            total[c] += a[i, c]
            dot[c] += a[i, c] * (b[i, c] - centre[c])
    partial[t, 0], partial[t, 1] = total, dot


@numba.njit(parallel=True, cache=True)
def _row_sums(a, b, centre, partial, parallel):
    if parallel:
        for t in numba.prange(partial.shape[0]):
            _row_block_sums(a, b, centre, partial, t)
    else:
        for t in range(partial.shape[0]):
            _row_block_sums(a, b, centre, partial, t)


def row_sums(a, b, centre, parallel):
    """Column sums of a (M, C) and of a * (b - centre), in float64, summed over row blocks in parallel."""
    expect("row_sums", "a", a, shape=(None, None))
    expect("row_sums", "b", b, shape=a.shape)
    check_per_channel("row_sums", a.shape[1], "cpu", centre=centre)
    blocks = numba.get_num_threads() if parallel else 1
    partial = np.zeros((blocks, 2, a.shape[1]))
    _row_sums(a, b, centre, partial, parallel)
    return partial.sum(axis=0)


def batch_stats_numba(x, parallel=None):
    """Same contract as :func:`batch_stats_reference`, for a NumPy array. ``parallel``: spread the channels
    (or, when L = 1, the rows) over numba's threads (default: when x has at least ``PARALLEL_MIN_SIZE``
    elements)."""
    check_input("batch_stats_numba", x, "cpu")
    x = np.ascontiguousarray(x)
    if x.shape[2] == 1:                             # channels C apart: sum rows, every channel at once
        rows = x.reshape(x.shape[0], x.shape[1])
        total = row_sums(rows, rows, np.zeros(x.shape[1]), _parallel(x, parallel))[0]
        mean = total / len(rows)
        var = row_sums(rows, rows, mean, _parallel(x, parallel))[1] / len(rows)   # sum (x - mean)^2
        return mean, var
    mean, var = np.empty(x.shape[1]), np.empty(x.shape[1])
    _batch_stats(x, mean, var, _parallel(x, parallel))
    return mean, var


# ----- forward: the normalisation itself --------------------------------------------------------------------

def scale_shift_reference(x, scale, shift):
    """y = x * scale_c + shift_c for x (N, C, L) and per-channel scale, shift (C,); y has x's dtype."""
    return x * _column(scale, x.dtype) + _column(shift, x.dtype)


@numba.njit(cache=True)
def _scale_shift_row(x, i, scale, shift, y):
    # One example at a time: x[i] is C*L contiguous numbers, read and written in memory order whatever L is.
    _, channels, length = x.shape
    for c in range(channels):
        a, b = scale[c], shift[c]
        for j in range(length):
            y[i, c, j] = x[i, c, j] * a + b


@numba.njit(parallel=True, cache=True)
def _scale_shift(x, scale, shift, y, parallel):
    if parallel:
        for i in numba.prange(x.shape[0]):
            _scale_shift_row(x, i, scale, shift, y)
    else:
        for i in range(x.shape[0]):
            _scale_shift_row(x, i, scale, shift, y)


@numba.njit(cache=True)
def _row_scale_shift(x, i, scale, shift, y):
    # L = 1: row i is the C channels of one example (or pixel), side by side in memory.
    for c in range(x.shape[1]):
        y[i, c] = x[i, c] * scale[c] + shift[c]


@numba.njit(parallel=True, cache=True)
def _rows_scale_shift(x, scale, shift, y, parallel):
    if parallel:
        for i in numba.prange(x.shape[0]):
            _row_scale_shift(x, i, scale, shift, y)
    else:
        for i in range(x.shape[0]):
            _row_scale_shift(x, i, scale, shift, y)


def scale_shift_numba(x, scale, shift, parallel=None):
    """Same contract as :func:`scale_shift_reference`, NumPy arrays; ``parallel`` as in batch_stats_numba."""
    check_per_channel("scale_shift_numba", check_input("scale_shift_numba", x, "cpu"), "cpu", scale=scale,
                      shift=shift)
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    if x.shape[2] == 1:
        _rows_scale_shift(x[:, :, 0], scale.astype(x.dtype), shift.astype(x.dtype), y[:, :, 0], _parallel(x, parallel))
        return y
    _scale_shift(x, scale.astype(x.dtype), shift.astype(x.dtype), y, _parallel(x, parallel))
    return y


# ----- backward ---------------------------------------------------------------------------------------------

def backward_reference(g, x, mean, invstd, weight, training, need_dx=True):
    """The sums batch norm's backward needs, and dL/dx.

    g = dL/dy and x are (N, C, L) of one dtype; mean, invstd = 1/sqrt(var + eps) and weight (gamma) are
    per-channel float64 (C,). Returns (dx, sum_g, sum_g_xhat): sum_g = sum g = dL/dbeta and
    sum_g_xhat = sum g * x_hat = dL/dgamma, float64 (C,), and dx (x's dtype; None without ``need_dx``):
        training:   dx = gamma * invstd * (g - mean(g) - x_hat * mean(g * x_hat))
        evaluation: dx = gamma * invstd * g              (mean and var are constants)
    """
    xp = get_array_module(x)
    x_hat = (x - _column(mean, x.dtype)) * _column(invstd, x.dtype)
    sum_g = g.sum(axis=(0, 2), dtype=xp.float64)
    sum_g_xhat = (g * x_hat).sum(axis=(0, 2), dtype=xp.float64)
    if not need_dx:
        return None, sum_g, sum_g_xhat
    k = _column(weight * invstd, x.dtype)
    if not training:
        return g * k, sum_g, sum_g_xhat
    n = x.shape[0] * x.shape[2]
    dx = (g - _column(sum_g / n, x.dtype) - x_hat * _column(sum_g_xhat / n, x.dtype)) * k
    return dx, sum_g, sum_g_xhat


@numba.njit(cache=True, fastmath=REDUCE)
def _channel_backward(g, x, c, mean, invstd, weight, training, need_dx, dx, sum_g, sum_g_xhat):
    batch, _, length = x.shape
    m, r = mean[c], invstd[c]
    total, dot = 0.0, 0.0                           # sum g and sum g * (x - mean), in float64
    for i in range(batch):
        for j in range(length):
            gi = g[i, c, j]
            total += gi
            dot += gi * (x[i, c, j] - m)
    sum_g[c] = total
    sum_g_xhat[c] = dot * r                         # x_hat = (x - mean) * invstd
    if not need_dx:
        return
    # Per element, work in x's precision (x.dtype.type casts), as NumPy would: on float32 that is twice as
    # many SIMD lanes as float64. Only the sums above need the wider accumulator.
    k = x.dtype.type(weight[c] * r)
    if not training:
        for i in range(batch):
            for j in range(length):
                dx[i, c, j] = k * g[i, c, j]
        return
    # dx = k (g - mean(g) - x_hat mean(g x_hat)), and x_hat mean(g x_hat) = (x - mean) * proj
    n = batch * length
    mean_g = x.dtype.type(total / n)
    proj = x.dtype.type(dot * r * r / n)
    centre = x.dtype.type(m)
    for i in range(batch):                          # this channel of g and x is in cache now
        for j in range(length):
            dx[i, c, j] = k * (g[i, c, j] - mean_g - (x[i, c, j] - centre) * proj)


@numba.njit(parallel=True, cache=True)
def _backward(g, x, mean, invstd, weight, training, need_dx, dx, sum_g, sum_g_xhat, parallel):
    if parallel:
        for c in numba.prange(x.shape[1]):
            _channel_backward(g, x, c, mean, invstd, weight, training, need_dx, dx, sum_g, sum_g_xhat)
    else:
        for c in range(x.shape[1]):
            _channel_backward(g, x, c, mean, invstd, weight, training, need_dx, dx, sum_g, sum_g_xhat)


@numba.njit(cache=True)
def _row_dx(g, x, i, k, mean_g, centre, proj, training, dx):
    """dx = k (g - mean_g - (x - centre) proj) (training) or k g, for row i, every channel at once."""
    for c in range(x.shape[1]):
        if training:
            dx[i, c] = k[c] * (g[i, c] - mean_g[c] - (x[i, c] - centre[c]) * proj[c])
        else:
            dx[i, c] = k[c] * g[i, c]


@numba.njit(parallel=True, cache=True)
def _rows_dx(g, x, k, mean_g, centre, proj, training, dx, parallel):
    if parallel:
        for i in numba.prange(x.shape[0]):
            _row_dx(g, x, i, k, mean_g, centre, proj, training, dx)
    else:
        for i in range(x.shape[0]):
            _row_dx(g, x, i, k, mean_g, centre, proj, training, dx)


def backward_rows(g, x, mean, invstd, weight, training, need_dx, parallel):
    """backward_numba for L = 1: the two sums by row blocks, then dL/dx row by row."""
    check_backward_arguments("backward_rows", g, x, mean, invstd, weight, "cpu")
    rows = x.reshape(x.shape[0], x.shape[1])
    g2 = g.reshape(rows.shape)
    sum_g, dot = row_sums(g2, rows, mean, parallel)             # sum g, sum g (x - mean)
    sum_g_xhat = dot * invstd
    if not need_dx:
        return None, sum_g, sum_g_xhat
    n, dtype = len(rows), x.dtype
    dx = np.empty_like(rows)
    _rows_dx(g2, rows, (weight * invstd).astype(dtype), (sum_g / n).astype(dtype), mean.astype(dtype),
             (dot * invstd * invstd / n).astype(dtype), bool(training), dx, parallel)
    return dx.reshape(x.shape), sum_g, sum_g_xhat


def backward_numba(g, x, mean, invstd, weight, training, need_dx=True, parallel=None):
    """Same contract as :func:`backward_reference`, NumPy arrays; ``parallel`` as in batch_stats_numba."""
    check_backward_arguments("backward_numba", g, x, mean, invstd, weight, "cpu")
    g, x = np.ascontiguousarray(g, dtype=x.dtype), np.ascontiguousarray(x)
    if x.shape[2] == 1:                             # channels C apart: work row by row
        return backward_rows(g, x, np.asarray(mean, np.float64), np.asarray(invstd, np.float64),
                             np.asarray(weight, np.float64), training, need_dx, _parallel(x, parallel))
    channels = x.shape[1]
    sum_g, sum_g_xhat = np.empty(channels), np.empty(channels)
    dx = np.empty_like(x) if need_dx else np.empty((0, 0, 0), x.dtype)
    _backward(g, x, np.asarray(mean, np.float64), np.asarray(invstd, np.float64),
              np.asarray(weight, np.float64), bool(training), bool(need_dx), dx, sum_g, sum_g_xhat,
              _parallel(x, parallel))
    return (dx if need_dx else None), sum_g, sum_g_xhat


# ----- the CUDA kernels: a block of threads per channel for the sums, a thread per element for the rest ------
#
# The sums: block c adds up channel c. Its THREADS_PER_BLOCK threads take the channel's n values in turn
# (thread t values t, t + threads, ...), each into its own float64 partial sum, and then add the partial
# sums pairwise in shared memory, halving the number of active threads each step (a tree of log2(threads)
# additions, THREADS_PER_BLOCK being a power of two; deterministic, unlike atomic additions in whatever
# order threads arrive). ``syncthreads``
# waits until every thread of the block has got there: each step reads what the step before wrote.

@gpu_device_function
def block_sum(partial):
    """The sum of ``partial`` (shared memory, one entry per thread of the block, each written by its thread),
    added pairwise in a tree, returned to every thread; ``partial`` may be written again after it returns."""
    t = cuda.threadIdx.x
    cuda.syncthreads()                              # every thread's entry is written
    step = cuda.blockDim.x // 2
    while step > 0:
        if t < step:
            partial[t] += partial[t + step]
        cuda.syncthreads()
        step //= 2
    total = partial[0]
    cuda.syncthreads()                              # every thread has read partial[0] before it changes
    return total


@gpu_kernel
def _batch_stats_gpu(x, mean, var):
    c, t, threads = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
    batch, _, length = x.shape
    n = batch * length
    partial = cuda.shared.array(THREADS_PER_BLOCK, numba.float64)
    total = 0.0                                     # float64 whatever x's dtype
    for e in range(t, n, threads):
        total += x[e // length, c, e % length]
    partial[t] = total
    m = block_sum(partial) / n
    squares = 0.0                                   # the second pass: squared deviations from the mean
    for e in range(t, n, threads):
        d = x[e // length, c, e % length] - m
        squares += d * d
    partial[t] = squares
    squares = block_sum(partial)
    if t == 0:
        mean[c] = m
        var[c] = squares / n


def batch_stats_cuda(x):
    """Same contract as :func:`batch_stats_reference`, for CuPy arrays: one block of threads per channel."""
    channels = check_input("batch_stats_cuda", x, "cuda")
    xp = get_array_module(x)
    mean, var = xp.empty(channels, xp.float64), xp.empty(channels, xp.float64)
    if channels:
        _batch_stats_gpu[channels, THREADS_PER_BLOCK](x, mean, var)
    return mean, var


@gpu_kernel
def _scale_shift_gpu(x, scale, shift, y):
    i = cuda.grid(1)
    if i < x.size:
        _, channels, length = x.shape
        b, c, j = i // (channels * length), i // length % channels, i % length
        y[b, c, j] = x[b, c, j] * scale[c] + shift[c]


def scale_shift_cuda(x, scale, shift):
    """Same contract as :func:`scale_shift_reference`, for CuPy arrays: one thread per element."""
    check_per_channel("scale_shift_cuda", check_input("scale_shift_cuda", x, "cuda"), "cuda", scale=scale,
                      shift=shift)
    xp = get_array_module(x)
    y = xp.empty(x.shape, x.dtype)                  # C order, as the numba version returns
    _scale_shift_gpu[launch(x.size)](x, scale.astype(x.dtype), shift.astype(x.dtype), y)
    return y


@gpu_kernel
def _backward_sums_gpu(g, x, mean, sums):
    # sums[0, c] = sum of g and sums[1, c] = sum of g (x - mean) over channel c, as _batch_stats_gpu adds.
    c, t, threads = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
    batch, _, length = x.shape
    m = mean[c]
    total_partial = cuda.shared.array(THREADS_PER_BLOCK, numba.float64)
    dot_partial = cuda.shared.array(THREADS_PER_BLOCK, numba.float64)
    total, dot = 0.0, 0.0                           # in float64
    for e in range(t, batch * length, threads):
        i, j = e // length, e % length
        gi = g[i, c, j]
        total += gi
        dot += gi * (x[i, c, j] - m)
    total_partial[t], dot_partial[t] = total, dot
    total, dot = block_sum(total_partial), block_sum(dot_partial)
    if t == 0:
        sums[0, c] = total
        sums[1, c] = dot


@gpu_kernel
def _backward_dx_gpu(g, x, k, mean_g, centre, proj, training, dx):
    # dx = k (g - mean_g - (x - centre) proj) (training) or k g, per element, in x's precision: the
    # per-channel vectors come in x's dtype.
    i = cuda.grid(1)
    if i < x.size:
        _, channels, length = x.shape
        b, c, j = i // (channels * length), i // length % channels, i % length
        if training:
            dx[b, c, j] = k[c] * (g[b, c, j] - mean_g[c] - (x[b, c, j] - centre[c]) * proj[c])
        else:
            dx[b, c, j] = k[c] * g[b, c, j]


def backward_cuda(g, x, mean, invstd, weight, training, need_dx=True):
    """Same contract as :func:`backward_reference`, for CuPy arrays: the two sums by a block per channel,
    then dL/dx by a thread per element."""
    check_backward_arguments("backward_cuda", g, x, mean, invstd, weight, "cuda")
    xp = get_array_module(x)
    g = g.astype(x.dtype, copy=False)
    mean, invstd, weight = (xp.asarray(v, xp.float64) for v in (mean, invstd, weight))
    channels = x.shape[1]
    sums = xp.zeros((2, channels), xp.float64)
    if channels:
        _backward_sums_gpu[channels, THREADS_PER_BLOCK](g, x, mean, sums)
    sum_g, dot = sums[0], sums[1]                   # sum g, sum g (x - mean)
    sum_g_xhat = dot * invstd
    if not need_dx:
        return None, sum_g, sum_g_xhat
    n, dtype = x.shape[0] * x.shape[2], x.dtype
    dx = xp.empty(x.shape, dtype)                   # C order, as the numba version returns
    _backward_dx_gpu[launch(x.size)](g, x, (weight * invstd).astype(dtype), (sum_g / n).astype(dtype),
                                     mean.astype(dtype), (dot * invstd * invstd / n).astype(dtype),
                                     bool(training), dx)
    return dx, sum_g, sum_g_xhat


def compiled_loops_take(*args, **kwargs):
    """What the compiled versions take: every array float32 or float64. Unlike ``kernels.float_arrays`` the
    dtypes may differ: the per-channel statistics are float64 while x may be float32 (and g is cast to x's
    dtype)."""
    return all(a.dtype in FLOATS for a in args if is_array(a))


batch_stats = Kernel("batch_stats", batch_stats_reference, batch_stats_numba, batch_stats_cuda,
                     fast=compiled_loops_take)
scale_shift = Kernel("scale_shift", scale_shift_reference, scale_shift_numba, scale_shift_cuda,
                     fast=compiled_loops_take)
batch_norm_backward = Kernel("batch_norm_backward", backward_reference, backward_numba, backward_cuda,
                             fast=compiled_loops_take)
