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
kernel taps; as a numba kernel that loops over every element, in parallel over the batch; and as a CUDA
kernel with one GPU thread per element it writes. The tests check they agree.
"""

import numba
import numpy as np

from ..backend import get_array_module
from . import channels_last, cuda_elementwise, expect, expect_geometry, expect_ints


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

IM2COL_CUDA = """
// i indexes cols (N, OH, OW, KH, KW, C) in C order: unravel it, then read the tap's input pixel.
long long t = i;
int ci = t % c; t /= c;
int j = t % kw; t /= kw;
int ii = t % kh; t /= kh;
int q = t % ow; t /= ow;
int p = t % oh; long long b = t / oh;
int row = p * sh - ph + ii * dh, col = q * sw - pw + j * dw;
cols = (row >= 0 && row < h && col >= 0 && col < w) ? x[((b * h + row) * w + col) * c + ci] : (T)0;
"""

COL2IM_CUDA = """
// i indexes dx (N, H, W, C): gather every (window, tap) that copied this pixel, instead of scattering to it,
// so that no two threads write the same element.
long long t = i;
int ci = t % c; t /= c;
int col = t % w; t /= w;
int row = t % h; long long b = t / h;
T total = 0;
for (int ii = 0; ii < kh; ii++) {
    int pp = row + ph - ii * dh;                     // = p * sh for the window p that reads this row with tap ii
    if (pp < 0 || pp % sh != 0 || pp / sh >= oh) continue;
    for (int j = 0; j < kw; j++) {
        int qq = col + pw - j * dw;
        if (qq < 0 || qq % sw != 0 || qq / sw >= ow) continue;
        total += cols[((((b * oh + pp / sh) * ow + qq / sw) * kh + ii) * kw + j) * c + ci];
    }
}
dx = total;
"""

GEOMETRY_PARAMS = ("int32 h, int32 w, int32 c, int32 oh, int32 ow, int32 kh, int32 kw, int32 sh, int32 sw, "
                   "int32 ph, int32 pw, int32 dh, int32 dw")


def im2col_cuda(x, kernel, stride, padding, dilation, out_size):
    """Same contract as :func:`im2col_reference`, for CuPy arrays."""
    check_im2col_arguments("im2col_cuda", x, kernel, stride, padding, dilation, out_size, "cuda")
    import cupy
    n, c, h, w = x.shape
    (kh, kw), (oh, ow) = kernel, out_size
    cols = cupy.empty((n, oh, ow, kh, kw, c), dtype=x.dtype)
    run = cuda_elementwise(f"raw T x, {GEOMETRY_PARAMS}", "T cols", IM2COL_CUDA, "minigrad_im2col")
    run(channels_last(x), h, w, c, oh, ow, kh, kw, *stride, *padding, *dilation, cols)
    return cols.reshape(n * oh * ow, kh * kw * c)


def col2im_cuda(cols, x_shape, kernel, stride, padding, dilation, out_size):
    """Same contract as :func:`col2im_reference`, for CuPy arrays."""
    check_col2im_arguments("col2im_cuda", cols, x_shape, kernel, stride, padding, dilation, out_size, "cuda")
    import cupy
    n, c, h, w = x_shape
    (kh, kw), (oh, ow) = kernel, out_size
    dx = cupy.empty((n, h, w, c), dtype=cols.dtype)
    run = cuda_elementwise(f"raw T cols, {GEOMETRY_PARAMS}", "T dx", COL2IM_CUDA, "minigrad_col2im")
    run(cupy.ascontiguousarray(cols), h, w, c, oh, ow, kh, kw, *stride, *padding, *dilation, dx)
    return dx.transpose(0, 3, 1, 2)
