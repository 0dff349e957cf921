"""The convolution's weight gradient, moved from the matrix product's layout into the weight's.

conv2d's backward gets dL/dW as one matrix product over im2col's columns (see ``minigrad.ops.conv``):

    dwt = cols^T G        (kh*kw*C, K): row (i, j, c) and column k hold dL/dW[k, c, i, j]

for the kernel's live taps (rows r0 .. r0+kh-1 and columns c0 .. c0+kw-1 of a KH x KW kernel). The weight
is (K, C, KH, KW), so every number has to move, and the taps left out get 0. As array code that is a
transposed view copied into place: for the U-Net's (256, 256, 3, 3) weight 2.5 ms inside a training step,
reading dwt down its columns, K numbers apart; for the bottleneck's (512, 512, 3, 3), of which one tap in
nine is live, 2.8 ms, zeroing 9.4 MB and then writing one number in nine into it. The numba kernel reads
dwt a cache line at a time (16 output channels), writes the 16 weight rows those lines feed (zeroing them
first only where a tap is left out), and splits the output channels over the threads. The numba.cuda
kernel gives each weight its own GPU thread, which reads its number from dwt (or writes 0). The op calls the
Kernel entry ``weight_grad``, which runs the version for the array given.
"""

import numbers

import numba
import numpy as np

from ..backend import get_array_module
from . import Kernel, expect, expect_ints, gpu_kernel, launch, unravel

cuda = None                           # numba.cuda, bound at the first GPU launch (see kernels.gpu_kernel)

BLOCK = 16     # output channels per cache line of float32 dwt (64 bytes)


def weight_grad_reference(dwt, w_shape, live):
    """dwt (kh*kw*C, K) -> dL/dW (K, C, KH, KW); ``live`` = (row slice, column slice) of the live taps."""
    xp = get_array_module(dwt)
    k, c = w_shape[:2]
    rows, cols = live
    dw = xp.zeros(w_shape, dtype=dwt.dtype)                      # taps left out get no gradient
    dw[:, :, rows, cols] = dwt.reshape(rows.stop - rows.start, cols.stop - cols.start, c, k).transpose(3, 2, 0, 1)
    return dw


@numba.njit(cache=True)
def _weight_grad_block(dwt, dw, block, r0, c0, live_h, live_w):
    k, c, kh, kw = dw.shape
    first, last = block * BLOCK, min((block + 1) * BLOCK, k)
    if live_h < kh or live_w < kw:
        dw[first:last] = 0                                       # taps left out get no gradient
    for i in range(live_h):
        for j in range(live_w):
            for ci in range(c):
                row = (i * live_w + j) * c + ci
                for kk in range(first, last):                    # one cache line of dwt's row
                    dw[kk, ci, r0 + i, c0 + j] = dwt[row, kk]


@numba.njit(parallel=True, cache=True)
def _weight_grad(dwt, dw, r0, c0, live_h, live_w):
    for block in numba.prange((dw.shape[0] + BLOCK - 1) // BLOCK):
        _weight_grad_block(dwt, dw, block, r0, c0, live_h, live_w)


def check_weight_grad_arguments(who, dwt, w_shape, live, device):
    """w_shape four sizes (K, C, KH, KW); live two slices (step 1) inside [0, KH) and [0, KW), not empty;
    dwt (rows * cols * C, K) for those slices' lengths."""
    k, c, kh, kw = expect_ints(who, "w_shape", w_shape, 4, 1)
    if not (isinstance(live, (tuple, list)) and len(live) == 2 and all(isinstance(s, slice) for s in live)):
        raise ValueError(f"{who}: live must be a pair of slices (rows, columns), got {live!r}")
    for axis, (s, size) in enumerate(zip(live, (kh, kw))):
        start, stop = s.start, s.stop
        if s.step not in (None, 1) or not (isinstance(start, numbers.Integral)
                                           and isinstance(stop, numbers.Integral) and 0 <= start < stop <= size):
            raise ValueError(f"{who}: live[{axis}] must be a slice start:stop with 0 <= start < stop <= "
                             f"{size}, got {s!r}")
    rows, cols = live
    expect(who, "dwt", dwt, shape=((rows.stop - rows.start) * (cols.stop - cols.start) * c, k), device=device)


def weight_grad_numba(dwt, w_shape, live):
    """Same contract as :func:`weight_grad_reference`, for NumPy arrays."""
    check_weight_grad_arguments("weight_grad_numba", dwt, w_shape, live, "cpu")
    rows, cols = live
    dw = np.empty(w_shape, dtype=dwt.dtype)
    _weight_grad(np.ascontiguousarray(dwt), dw, rows.start, cols.start, rows.stop - rows.start,
                 cols.stop - cols.start)
    return dw


@gpu_kernel
def _weight_grad_gpu(dwt, dw, r0, c0, live_h, live_w):
    # i indexes dw (K, C, KH, KW) in C order: unravel it, then read its number from dwt (or 0 for a dead tap).
    i = cuda.grid(1)
    if i < dw.size:
        kk, ci, ii, j = unravel(i, dw.shape[1], dw.shape[2], dw.shape[3])
        c = dw.shape[1]
        li, lj = ii - r0, j - c0
        if 0 <= li < live_h and 0 <= lj < live_w:
            dw[kk, ci, ii, j] = dwt[(li * live_w + lj) * c + ci, kk]
        else:                                                    # a tap left out gets no gradient
            dw[kk, ci, ii, j] = 0


def weight_grad_cuda(dwt, w_shape, live):
    """Same contract as :func:`weight_grad_reference`, for CuPy arrays: one thread per weight."""
    check_weight_grad_arguments("weight_grad_cuda", dwt, w_shape, live, "cuda")
    xp = get_array_module(dwt)
    rows, cols = live
    dw = xp.empty(w_shape, dtype=dwt.dtype)
    _weight_grad_gpu[launch(dw.size)](xp.ascontiguousarray(dwt), dw, rows.start, cols.start, rows.stop - rows.start,
                                      cols.stop - cols.start)
    return dw


weight_grad = Kernel("weight_grad", weight_grad_reference, weight_grad_numba, weight_grad_cuda)
