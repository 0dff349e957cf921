"""2-D convolution (cross-correlation, as in every deep-learning framework) over NCHW images.

Notation: input x (N, C, H, W), weight W (K, C, KH, KW), bias b (K,), output y (N, K, OH, OW); stride
(sh, sw), padding (ph, pw), dilation (dh, dw); x_pad is x with ph zero rows above and below and pw zero
columns left and right. The output size along one axis is

    OH = floor((H + 2 ph - dh (KH - 1) - 1) / sh) + 1          (and likewise OW)

The copies in and out of the matrix product's layout run in ``minigrad.kernels.im2col`` and
``minigrad.kernels.conv_weight``, through their Kernel entries ``im2col``, ``col2im`` and ``weight_grad``
(numba's loops for NumPy arrays, numba.cuda kernels for CuPy arrays); the products themselves are BLAS's.
"""

import operator

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..kernels.conv_weight import weight_grad
from ..kernels.im2col import col2im, im2col


def as_integer(value):
    """``value`` as a Python int if it is an integer of any type (int, ``np.int64``, anything with
    ``__index__``), else None. Bools are not integers here: ``stride=True`` is a mistake, not 1."""
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def pair(value, name, minimum, op=None):
    """``value`` (an integer of any type, or a pair of them for height and width) as a pair of Python ints
    >= ``minimum``; bools, floats and other types raise a ValueError naming the setting.

    The one place settings given as "an int or a pair" are checked: ``minigrad.functional.conv2d`` and
    ``minigrad.nn.Conv2d`` call it without ``op`` (the message reads "stride must be >= 1, got 0"), the
    pooling ops with their name (``op``: "max_pool2d: stride must be positive, got 0").
    """
    where = "" if op is None else f"{op}: "
    single = as_integer(value)
    items = (single, single) if single is not None else value
    ints = tuple(map(as_integer, items)) if isinstance(items, (tuple, list)) else ()
    if len(ints) != 2 or None in ints:
        raise ValueError(f"{where}{name} must be an int or a pair of ints, got {value!r}")
    if min(ints) < minimum:
        bound = f">= {minimum}" if op is None else "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{where}{name} must be {bound}, got {value!r}")
    return ints


def output_size(size, kernel, stride, padding, dilation):
    """How many windows fit along one axis: floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def check_conv_shapes(x, weight, bias, padding, dilation):
    """Raise a ValueError naming what was expected and what came, before any array work is done."""
    if x.ndim != 4:
        raise ValueError(f"conv2d expects input of shape (N, C, H, W) (or (C, H, W) for one image), "
                         f"got {tuple(x.shape)}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d expects weight of shape (out_channels, in_channels, kH, kW), "
                         f"got {tuple(weight.shape)}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels (shape {tuple(x.shape)}) but weight "
                         f"expects {weight.shape[1]} (shape {tuple(weight.shape)})")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"conv2d expects bias of shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    if x.dtype != weight.dtype:
        raise TypeError(f"conv2d expects input and weight of one dtype, got {x.dtype} and {weight.dtype}")
    for axis, name in ((0, "height"), (1, "width")):
        span = dilation[axis] * (weight.shape[2 + axis] - 1) + 1
        padded = x.shape[2 + axis] + 2 * padding[axis]
        if span > padded:
            raise ValueError(f"conv2d: the kernel spans {span} pixels in {name} but the padded input has only "
                             f"{padded} (input {tuple(x.shape)}, weight {tuple(weight.shape)}, "
                             f"padding {padding}, dilation {dilation})")


def live_taps(size, kernel, stride, padding, dilation, out):
    """The kernel rows and columns (as slices) whose taps meet the input at some output position, and the
    padding that goes with convolving with just those (each axis: the first live tap moves to offset 0).

    Tap i of an axis reads input index p*stride - padding + i*dilation for p = 0 .. out-1. A tap is dead
    when every such index is outside [0, size). Dead taps sit at the two ends of the kernel, so the live
    ones form one slice. The kernel is trimmed only where the reduced padding stays >= 0 (and kept whole
    when no tap is live, as when a large stride steps over a 1-pixel input: y is then just the bias).
    """
    slices, new_padding = [], []
    for a in range(2):
        reach = [p * stride[a] - padding[a] for p in range(out[a])]
        live = [i for i in range(kernel[a]) if any(0 <= r + i * dilation[a] < size[a] for r in reach)]
        first, last = (live[0], live[-1]) if live else (0, kernel[a] - 1)   # nothing live: leave it whole
        if padding[a] - first * dilation[a] < 0:
            first = 0
        slices.append(slice(first, last + 1))
        new_padding.append(padding[a] - first * dilation[a])
    return tuple(slices), tuple(new_padding)


class Conv2d(Function):
    """y = conv2d(x, W) + b, computed as one matrix product over im2col rows.

    Forward, for every image n, output channel k and output pixel (p, q):

        y[n, k, p, q] = b[k] + sum over c, i, j of W[k, c, i, j] x_pad[n, c, p sh + i dh, q sw + j dw]

    This is the DCLNN paper's eq. (6) without its tanh (the activation is a separate op here). Written
    with cols = im2col(x) (N*OH*OW, KH*KW*C), whose row (n, p, q) is the window under output pixel (p, q)
    of image n, and Wm = W laid out as (K, KH*KW*C) to match its columns:

        Y = cols Wm^T + b          (N*OH*OW, K): row (n, p, q) holds the K channels of one output pixel

    Backward, with G = dL/dy laid out like Y. Y is linear in Wm and in cols, so the chain rule gives the
    same two products as for a fully connected layer (``ops.linear.Linear``):

        dL/dWm   = G^T cols        dL/dW[k, c, i, j] = sum over n, p, q of
                                                   g[n, k, p, q] x_pad[n, c, p sh + i dh, q sw + j dw]
        dL/db    = 1^T G                        = sum over n, p, q of g[n, k, p, q]
        dL/dcols = G Wm            then dL/dx = col2im(dL/dcols)

    The first line is the DCLNN paper's eq. (12) (the weight change of a convolution core is the input
    correlated with the deltas d(I) of the layer's outputs), the second its eq. (13) (the bias change is
    the sum of those deltas); the deltas themselves arrive through the activation and the subsampling
    layer as its eqs. (10)-(11) describe. The paper stops at the weights; dL/dx, needed to reach the
    layer below, sends each output's gradient back through every weight to the pixel it multiplied:
    col2im adds up, for each input pixel, the contributions of all the windows it fell in (this is the
    "transposed convolution" of g with W).

    Taps that only ever meet padding are left out. A 3x3 kernel with padding 1 on a 1x1 map (the U-Net
    bottleneck at 28x28 input) touches a real pixel only with its centre: the other eight taps multiply
    zeros. :func:`live_taps` finds the rows and columns of the kernel that meet the input at some output
    position; the op convolves with that part of W alone (and correspondingly less padding), which gives the
    same y, and the gradient of the left-out weights is 0.

    Y's rows are pixels and its columns channels: it *is* the output in channels-last memory order
    (N, OH, OW, K). The op returns it as the (N, K, OH, OW) array y = Y.transpose(0, 3, 1, 2), a view,
    so the values are not moved; the next convolution or pooling layer reads exactly that memory order
    (see ``minigrad.kernels.im2col``), and an op that wants another order makes its own copy.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
        check_conv_shapes(x, weight, bias, padding, dilation)
        n, _, h, w = x.shape
        k, _, kh, kw = weight.shape
        out = (output_size(h, kh, stride[0], padding[0], dilation[0]),
               output_size(w, kw, stride[1], padding[1], dilation[1]))
        (rows, cols_), padding = live_taps((h, w), (kh, kw), stride, padding, dilation, out)
        live = weight[:, :, rows, cols_]                               # (K, C, kh', kw'): the taps that count
        cols = im2col(x, live.shape[2:], stride, padding, dilation, out)   # (N*OH*OW, kh'*kw'*C)
        wm = live.transpose(0, 2, 3, 1).reshape(k, -1)                 # (K, kh'*kw'*C), columns as cols'
        y = cols @ wm.T                                                # (N*OH*OW, K)
        if bias is not None:
            y += bias
        ctx.save_for_backward(cols, wm)
        ctx.geometry = (live.shape[2:], stride, padding, dilation, out)
        ctx.x_shape, ctx.w_shape, ctx.live = x.shape, weight.shape, (rows, cols_)
        return y.reshape(n, out[0], out[1], k).transpose(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, g):
        cols, wm = ctx.saved
        xp = get_array_module(g)
        k = ctx.w_shape[0]
        g2 = xp.ascontiguousarray(g.transpose(0, 2, 3, 1)).reshape(-1, k)   # G: (N*OH*OW, K)
        needs = ctx.needs_input_grad
        dx = dw = db = None
        if needs[0]:
            dx = col2im(g2 @ wm, ctx.x_shape, *ctx.geometry)
        if needs[1]:
            # dL/dWm = G^T cols, computed as its transpose cols^T G: the same numbers, and as fast on an
            # idle machine, but with the other core busy OpenBLAS took G^T cols for the U-Net's first
            # block in about 10 ms (median) and up to 170 ms, this order in 6-9 ms. Its rows (i, j, c)
            # and columns k are moved to W's (K, C, KH, KW), zeros at the taps left out.
            dw = weight_grad(cols.T @ g2, ctx.w_shape, ctx.live)
        if len(needs) == 3 and needs[2]:
            db = xp.ones(len(g2), dtype=g2.dtype) @ g2                     # the column sums, on BLAS
        return (dx, dw, db) if len(needs) == 3 else (dx, dw)
