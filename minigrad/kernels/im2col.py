"""im2col and col2im: convolution as one matrix product.

A convolution's output pixel is a dot product between the kernel and the input window it covers. Copy
every window into one column of a matrix, and the whole convolution becomes a single product that BLAS
runs at full speed:

    cols[(c, i, j), (n, oh, ow)] = x_pad[n, c, oh*sh + i*dh, ow*sw + j*dw]        im2col
    y[k, (n, oh, ow)]            = sum over (c, i, j) of W[k, (c, i, j)] cols[(c, i, j), .]

with x_pad the input surrounded by ``padding`` zeros, (sh, sw) the stride and (dh, dw) the dilation. cols
has C*KH*KW rows and N*OH*OW columns: column (n, oh, ow) is the window of that output pixel. The backward
pass needs the transpose, col2im: every entry of such a matrix is *added* back to the input pixel it was
copied from (a pixel lies in several windows, so its gradient is the sum over all of them).

Rows are laid out this way round because then, for a fixed kernel tap (c, i, j), image n and output row
oh, the values for consecutive ow come from consecutive input pixels and go to consecutive memory: with
stride 1 both loops copy contiguous runs, which is what makes them fast.

Each function comes as a reference in array code (``xp``: NumPy or CuPy), looping only over the KH*KW
kernel taps, and as a numba kernel that loops over everything, in parallel over the batch. The tests
check they agree.
"""

import numba
import numpy as np

from ..backend import get_array_module


def im2col_reference(x, kernel, stride, padding, dilation, out_size):
    """x (N, C, H, W) -> cols (C*KH*KW, N*OH*OW), column (n, oh, ow) holding the window of output (oh, ow)."""
    xp = get_array_module(x)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, stride, padding, dilation, out_size
    x_pad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = xp.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # The pixels kernel tap (i, j) meets at every output position: (N, C, OH, OW).
            taps = x_pad[:, :, i * dh:i * dh + sh * oh:sh, j * dw:j * dw + sw * ow:sw]
            cols[:, i, j] = taps.transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * oh * ow)


def col2im_reference(cols, x_shape, kernel, stride, padding, dilation, out_size):
    """The transpose of im2col: cols (C*KH*KW, N*OH*OW) summed back into an array of shape x_shape."""
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, stride, padding, dilation, out_size
    cols = cols.reshape(c, kh, kw, n, oh, ow)
    x_pad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            # One tap never meets the same pixel twice, so += on a strided slice adds each value once.
            x_pad[:, :, i * dh:i * dh + sh * oh:sh, j * dw:j * dw + sw * ow:sw] += cols[:, i, j].transpose(1, 0, 2, 3)
    return x_pad[:, :, ph:ph + h, pw:pw + w]


@numba.njit(parallel=True, cache=True)
def _im2col(x_pad, cols, sh, sw, dh, dw):
    n, c = x_pad.shape[:2]
    kh, kw, oh, ow = cols.shape[1], cols.shape[2], cols.shape[4], cols.shape[5]
    for b in numba.prange(n):
        for ci in range(c):
            for i in range(kh):
                for j in range(kw):
                    for y in range(oh):
                        for z in range(ow):
                            cols[ci, i, j, b, y, z] = x_pad[b, ci, y * sh + i * dh, z * sw + j * dw]


@numba.njit(parallel=True, cache=True)
def _col2im(cols, dx_pad, sh, sw, dh, dw):
    n, c = dx_pad.shape[:2]
    kh, kw, oh, ow = cols.shape[1], cols.shape[2], cols.shape[4], cols.shape[5]
    for b in numba.prange(n):  # each image's gradient is written by one thread only
        for ci in range(c):
            for i in range(kh):
                for j in range(kw):
                    for y in range(oh):
                        for z in range(ow):
                            dx_pad[b, ci, y * sh + i * dh, z * sw + j * dw] += cols[ci, i, j, b, y, z]


def im2col_numba(x, kernel, stride, padding, dilation, out_size):
    """Same contract as :func:`im2col_reference`, for NumPy arrays."""
    n, c = x.shape[:2]
    (kh, kw), (ph, pw), (oh, ow) = kernel, padding, out_size
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))   # then every tap lands inside: no bounds tests
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    _im2col(x_pad, cols, *stride, *dilation)
    return cols.reshape(c * kh * kw, n * oh * ow)


def col2im_numba(cols, x_shape, kernel, stride, padding, dilation, out_size):
    """Same contract as :func:`col2im_reference`, for NumPy arrays."""
    n, c, h, w = x_shape
    (kh, kw), (ph, pw), (oh, ow) = kernel, padding, out_size
    dx_pad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    _col2im(np.ascontiguousarray(cols).reshape(c, kh, kw, n, oh, ow), dx_pad, *stride, *dilation)
    return dx_pad[:, :, ph:ph + h, pw:pw + w]
