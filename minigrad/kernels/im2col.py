"""im2col and col2im: convolution as one matrix product.

A convolution's output pixel is a dot product between the kernel and the input window under it. Copy every
window into one row of a matrix, and the whole convolution becomes a single product that BLAS runs at full
speed:

    cols[(n, p, q), (i, j, c)] = x_pad[n, c, p*sh + i*dh, q*sw + j*dw]            im2col
    y[(n, p, q), k]            = sum over (i, j, c) of cols[(n, p, q), (i, j, c)] W[k, c, i, j]

with x_pad the input surrounded by ``padding`` zeros, (sh, sw) the stride and (dh, dw) the dilation. cols
has N*OH*OW rows, one per output pixel, and KH*KW*C columns. The backward pass needs the transpose,
col2im: every entry of such a matrix is *added* back to the input pixel it was copied from (a pixel lies
in several windows, so its gradient is the sum over all of them).

Memory layout. Inputs arrive as (N, C, H, W) arrays, but these functions read them channels-last, as
x.transpose(0, 2, 3, 1) (N, H, W, C): then the C values of one pixel sit side by side, and the columns
(i, j, c) of a row are KH*KW runs of C consecutive values, each copied from one contiguous run of the
input. Short runs kill speed: in (N, C, H, W) memory a 7x7 image gives runs of 7. The copy costs nothing
when the input is already channels-last in memory, as the outputs of ``conv2d`` and the pooling ops are.

Each function comes as a reference in array code (``xp``: NumPy or CuPy), looping only over the KH*KW
kernel taps; as numba loops over every element, in parallel over the batch; and as a numba.cuda kernel
with one GPU thread per element it writes (col2im's gathers the entries that add up to its pixel, so no two
threads write one element). The Kernel entries ``im2col`` and ``col2im`` run the version for the arrays
given (the reference for dtypes other than float32 and float64); the tests check all three agree.
"""

import numba
import numpy as np

from ..backend import get_array_module
from . import Kernel, channels_last, expect, expect_geometry, expect_ints, gpu_kernel, launch, unravel, window_reaching

cuda = None                           # numba.cuda, bound at the first GPU launch (see kernels.gpu_kernel)


def im2col_reference(x, kernel, stride, padding, dilation, out_size):
    """x (N, C, H, W) -> cols (N*OH*OW, KH*KW*C); row (n, p, q) holds the window under output pixel (p, q)."""
    xp = get_array_module(x)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, stride, padding, dilation, out_size
    x_pad = xp.pad(channels_last(x), ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    cols = xp.empty((n, oh, ow, kh, kw, c), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # The pixels kernel tap (i, j) meets at every output position: (N, OH, OW, C).
            cols[:, :, :, i, j, :] = x_pad[:, i * dh:i * dh + sh * oh:sh, j * dw:j * dw + sw * ow:sw, :]
    return cols.reshape(n * oh * ow, kh * kw * c)


def col2im_reference(cols, x_shape, kernel, stride, padding, dilation, out_size):
    """The transpose of im2col: cols (N*OH*OW, KH*KW*C) summed back into an (N, C, H, W)-shaped array."""
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, stride, padding, dilation, out_size
    cols = cols.reshape(n, oh, ow, kh, kw, c)
    x_pad = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            # One tap never meets the same pixel twice, so += on a strided slice adds each value once.
            x_pad[:, i * dh:i * dh + sh * oh:sh, j * dw:j * dw + sw * ow:sw, :] += cols[:, :, :, i, j, :]
    return x_pad[:, ph:ph + h, pw:pw + w, :].transpose(0, 3, 1, 2)


@numba.njit(parallel=True, cache=True)
def _im2col(x, cols, sh, sw, ph, pw, dh, dw):
    n, h, w, c = x.shape                                   # channels-last input
    oh, ow, kh, kw = cols.shape[1:5]
    for b in numba.prange(n):
        for p in range(oh):
            for q in range(ow):
                for i in range(kh):
                    row = p * sh - ph + i * dh
                    for j in range(kw):
                        col = q * sw - pw + j * dw
                        if 0 <= row < h and 0 <= col < w:
                            for ci in range(c):
                                cols[b, p, q, i, j, ci] = x[b, row, col, ci]
                        else:                              # the tap lands on padding
                            for ci in range(c):
                                cols[b, p, q, i, j, ci] = 0


@numba.njit(parallel=True, cache=True)
def _col2im(cols, dx, sh, sw, ph, pw, dh, dw):
    n, h, w, c = dx.shape
    oh, ow, kh, kw = cols.shape[1:5]
    for b in numba.prange(n):                              # each image's gradient has one writer
        for p in range(oh):
            for q in range(ow):
                for i in range(kh):
                    row = p * sh - ph + i * dh
                    if row < 0 or row >= h:
                        continue
                    for j in range(kw):
                        col = q * sw - pw + j * dw
                        if 0 <= col < w:                   # taps on padding carry no gradient
                            for ci in range(c):
                                dx[b, row, col, ci] += cols[b, p, q, i, j, ci]


def check_im2col_arguments(who, x, kernel, stride, padding, dilation, out_size, device):
    """x a floating (N, C, H, W) array; the geometry pairs of ints (kernel, stride, dilation, out >= 1)."""
    expect(who, "x", x, shape=(None, None, None, None), device=device)
    expect_geometry(who, kernel, stride, padding, dilation, out_size, "out_size")


def check_col2im_arguments(who, cols, x_shape, kernel, stride, padding, dilation, out_size, device):
    """The geometry as for im2col, x_shape four sizes, and cols (N*OH*OW, KH*KW*C) for them."""
    n, c, _, _ = expect_ints(who, "x_shape", x_shape, 4, 0)
    expect_geometry(who, kernel, stride, padding, dilation, out_size, "out_size")
    (kh, kw), (oh, ow) = kernel, out_size
    expect(who, "cols", cols, shape=(n * oh * ow, kh * kw * c), device=device)


def im2col_numba(x, kernel, stride, padding, dilation, out_size):
    """Same contract as :func:`im2col_reference`, for NumPy arrays."""
    check_im2col_arguments("im2col_numba", x, kernel, stride, padding, dilation, out_size, "cpu")
    n, c = x.shape[:2]
    (kh, kw), (oh, ow) = kernel, out_size
    cols = np.empty((n, oh, ow, kh, kw, c), dtype=x.dtype)
    _im2col(channels_last(x), cols, *stride, *padding, *dilation)
    return cols.reshape(n * oh * ow, kh * kw * c)


def col2im_numba(cols, x_shape, kernel, stride, padding, dilation, out_size):
    """Same contract as :func:`col2im_reference`, for NumPy arrays."""
    check_col2im_arguments("col2im_numba", cols, x_shape, kernel, stride, padding, dilation, out_size, "cpu")
    n, c, h, w = x_shape
    (kh, kw), (oh, ow) = kernel, out_size
    dx = np.zeros((n, h, w, c), dtype=cols.dtype)
    _col2im(np.ascontiguousarray(cols).reshape(n, oh, ow, kh, kw, c), dx, *stride, *padding, *dilation)
    return dx.transpose(0, 3, 1, 2)


# ----- the CUDA kernels: one thread per element written ------------------------------------------------------

@gpu_kernel
def _im2col_gpu(x, cols, sh, sw, ph, pw, dh, dw):
    # i indexes cols (N, OH, OW, KH, KW, C) in C order: unravel it, then read the tap's input pixel.
    i = cuda.grid(1)
    if i < cols.size:
        _, h, w, _ = x.shape                               # channels-last input
        rest, ii, j, ci = unravel(i, cols.shape[3], cols.shape[4], cols.shape[5])
        b, _, p, q = unravel(rest, 1, cols.shape[1], cols.shape[2])
        row, col = p * sh - ph + ii * dh, q * sw - pw + j * dw
        if 0 <= row < h and 0 <= col < w:
            cols[b, p, q, ii, j, ci] = x[b, row, col, ci]
        else:                                              # the tap lands on padding
            cols[b, p, q, ii, j, ci] = 0


@gpu_kernel
def _col2im_gpu(cols, dx, sh, sw, ph, pw, dh, dw):
    # i indexes dx (N, H, W, C): gather every (window, tap) that copied this pixel, instead of scattering to
    # it, so that no two threads write the same element.
    i = cuda.grid(1)
    if i < dx.size:
        oh, ow, kh, kw = cols.shape[1], cols.shape[2], cols.shape[3], cols.shape[4]
        b, row, col, ci = unravel(i, dx.shape[1], dx.shape[2], dx.shape[3])
        total = dx.dtype.type(0)                           # in dx's dtype: float32 stays float32
        for ii in range(kh):
            p = window_reaching(row, ph, ii, dh, sh, oh)   # the window whose tap ii reads this row
            if p < 0:
                continue
            for j in range(kw):
                q = window_reaching(col, pw, j, dw, sw, ow)
                if q >= 0:
                    total += cols[b, p, q, ii, j, ci]
        dx[b, row, col, ci] = total


def im2col_cuda(x, kernel, stride, padding, dilation, out_size):
    """Same contract as :func:`im2col_reference`, for CuPy arrays: one thread per element of cols."""
    check_im2col_arguments("im2col_cuda", x, kernel, stride, padding, dilation, out_size, "cuda")
    xp = get_array_module(x)
    n, c = x.shape[:2]
    (kh, kw), (oh, ow) = kernel, out_size
    cols = xp.empty((n, oh, ow, kh, kw, c), dtype=x.dtype)
    _im2col_gpu[launch(cols.size)](channels_last(x), cols, *stride, *padding, *dilation)
    return cols.reshape(n * oh * ow, kh * kw * c)


def col2im_cuda(cols, x_shape, kernel, stride, padding, dilation, out_size):
    """Same contract as :func:`col2im_reference`, for CuPy arrays: one thread per element of dx."""
    check_col2im_arguments("col2im_cuda", cols, x_shape, kernel, stride, padding, dilation, out_size, "cuda")
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), (oh, ow) = kernel, out_size
    dx = xp.empty((n, h, w, c), dtype=cols.dtype)
    _col2im_gpu[launch(dx.size)](xp.ascontiguousarray(cols).reshape(n, oh, ow, kh, kw, c), dx, *stride, *padding,
                                 *dilation)
    return dx.transpose(0, 3, 1, 2)


im2col = Kernel("im2col", im2col_reference, im2col_numba, im2col_cuda)
col2im = Kernel("col2im", col2im_reference, col2im_numba, col2im_cuda)
