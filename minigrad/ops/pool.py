"""2-D pooling over images: max, average and adaptive average, on (N, C, H, W) or unbatched (C, H, W).

Notation: input x (N, C, H, W), output y (N, C, OH, OW); kernel (kh, kw), stride (sh, sw) (None means the
kernel size), padding (ph, pw), dilation (dh, dw) (max pooling only). Window (p, q) of image n, channel c
takes the input elements

    x[n, c, p sh - ph + i dh, q sw - pw + j dw]        for i = 0 .. kh-1, j = 0 .. kw-1

that lie inside the input (the padding is never an element: max pooling ignores it, average pooling counts
it as 0). The output size along one axis (height shown, width alike) is

    OH = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1

and with ceil_mode the ceiling instead of the floor, except that a last window which would start in the
bottom padding (p sh >= H + ph) is dropped: every window starts inside the input or the top padding.
PyTorch's rules for what is allowed are kept: padding at most half the kernel (ph <= kh // 2), and at least
one window; an error names both sizes otherwise.

Each channel is pooled separately. See ``minigrad.kernels.pool`` for the NumPy references, the numba loops
that run on the CPU (on channels-last memory, as ``conv2d`` leaves it) and the numba.cuda kernels that run on
a GPU; the ops call its Kernel entries, which run the reference for dtypes other than float32 and float64.
"""

import numbers

from ..autograd import Function
from ..kernels.pool import (adaptive_avg_pool2d_backward, adaptive_avg_pool2d_forward, avg_pool2d_backward,
                            avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward)
from .conv import pair

AXES = ("height", "width")


# ----- checking and normalising the settings ------------------------------------------------------------------

def pool_settings(op, kernel_size, stride=None, padding=0, dilation=1):
    """(kernel, stride, padding, dilation) as pairs, checked as PyTorch does before any input is seen."""
    kernel = pair(kernel_size, "kernel_size", 1, op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
        else pair(stride, "stride", 1, op)
    padding = pair(padding, "padding", 0, op)
    dilation = pair(dilation, "dilation", 1, op)
    for a in (0, 1):
        if padding[a] > kernel[a] // 2:
            raise ValueError(f"{op}: padding must be at most half the kernel size, got padding {padding[a]} "
                             f"for a kernel of {kernel[a]} along {AXES[a]} (kernel_size={kernel_size!r}, "
                             f"padding={padding})")
    return kernel, stride, padding, dilation


def check_image_input(op, x):
    """Raise unless x is a non-empty (N, C, H, W) or (C, H, W) array (N may be 0, as in PyTorch); its dtype
    was checked when the op was applied (``Function.dtypes``)."""
    if x.ndim not in (3, 4):
        raise ValueError(f"{op} expected (N, C, H, W) or (C, H, W), got shape {tuple(x.shape)}")
    if min(x.shape[-3:]) < 1:
        raise ValueError(f"{op} expected non-empty channels, height and width, got shape {tuple(x.shape)}")


def pool_output_size(size, kernel, stride, padding, dilation, ceil_mode):
    """Number of windows along one axis, PyTorch's formula (see the module docstring)."""
    span = dilation * (kernel - 1) + 1
    if ceil_mode:
        out = -(-(size + 2 * padding - span) // stride) + 1          # ceil, by negated floor division
        if (out - 1) * stride >= size + padding:                     # would start in the bottom padding
            out -= 1
        return out
    return (size + 2 * padding - span) // stride + 1


def pool_geometry(op, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Check x and the settings; return (kernel, stride, padding, dilation, out) as pairs of ints."""
    check_image_input(op, x)
    kernel, stride, padding, dilation = pool_settings(op, kernel_size, stride, padding, dilation)
    size = tuple(x.shape[-2:])
    out = tuple(pool_output_size(size[a], kernel[a], stride[a], padding[a], dilation[a], ceil_mode)
                for a in (0, 1))
    for a in (0, 1):
        span = dilation[a] * (kernel[a] - 1) + 1
        if out[a] < 1:
            raise ValueError(f"{op}: the kernel spans {span} along {AXES[a]} but the padded input has only "
                             f"{size[a] + 2 * padding[a]} ({AXES[a]} {size[a]} + 2 * padding {padding[a]}); "
                             f"input shape {tuple(x.shape)}, kernel_size={kernel}, dilation={dilation}")
        for o in range(out[a]):          # with dilation a window can step over the whole input
            start = o * stride[a] - padding[a]
            if not any(0 <= start + i * dilation[a] < size[a] for i in range(kernel[a])):
                raise ValueError(f"{op}: window {o} along {AXES[a]} covers only padding (input {AXES[a]} "
                                 f"{size[a]}, kernel {kernel[a]}, dilation {dilation[a]}, padding {padding[a]})")
            if start >= 0:               # later windows start inside the input, so they contain an element
                break
    return kernel, stride, padding, dilation, out


def as_batch(x):
    """x as (N, C, H, W): an unbatched (C, H, W) image gets a batch axis of 1."""
    return x if x.ndim == 4 else x[None]


# ----- the ops ------------------------------------------------------------------------------------------------

class MaxPool2d(Function):
    """y = the largest element of each window; dL/dx sends each window's gradient to that element.

    Forward, shapes x (N, C, H, W) -> y (N, C, OH, OW) (OH, OW from the module docstring's formula):

        y[n, c, p, q] = max over i, j of x[n, c, p sh - ph + i dh, q sw - pw + j dw]

    and the winner a[n, c, p, q] = (i, j) is kept (as i kw + j). Among equal maxima the first in row-major
    window order wins, and a NaN beats every number (the last NaN, if several), exactly as in PyTorch.

    Backward, g = dL/dy of shape (N, C, OH, OW): y[n, c, p, q] is a copy of its winner, so dy/dx is 1 for
    the winner and 0 for every other element of the window, and

        dL/dx[n, c, r, s] = sum over the windows (p, q) whose winner is (r, s) of g[n, c, p, q]

    (a sum only where windows overlap, stride < kernel, and one element wins several). This is the
    subsampling layer of the DCLNN paper, eq. (7), with max in place of its window reduction, and the
    gradient routing its back-propagation eqs. (10)-(11) describe for that layer: a delta goes back only to
    the input that produced the output.
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        geometry = pool_geometry("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
        y, argmax = max_pool2d_forward(as_batch(x), *geometry)
        ctx.save_for_backward(argmax)
        ctx.geometry, ctx.x_shape = geometry[:4], x.shape
        return y.reshape(y.shape[-x.ndim:])

    @staticmethod
    def backward(ctx, g):
        (argmax,) = ctx.saved
        batch_shape = argmax.shape[:2] + ctx.x_shape[-2:]
        return max_pool2d_backward(g.reshape(argmax.shape), argmax, batch_shape, *ctx.geometry).reshape(ctx.x_shape)


class AvgPool2d(Function):
    """y = the mean of each window; dL/dx gives every element of a window an equal share of its gradient.

    Forward, shapes x (N, C, H, W) -> y (N, C, OH, OW), padding counting as 0:

        y[n, c, p, q] = (1 / D[p, q]) sum over i, j of x_pad[n, c, p sh + i, q sw + j]

    The divisor D follows PyTorch: ``divisor_override`` if given; else, with count_include_pad, the number of
    window positions inside the padded input (kh kw, less where a ceil_mode window hangs past the bottom or
    right padding); else only those inside the input itself.

    Backward, g = dL/dy (N, C, OH, OW): y is linear in x with dy[p, q]/dx = 1 / D[p, q] on the window, so

        dL/dx[n, c, r, s] = sum over the windows (p, q) containing (r, s) of g[n, c, p, q] / D[p, q]

    This is the DCLNN paper's subsampling layer, eq. (7), as an average over each window, and the
    back-propagation through it of its eqs. (10)-(11): each output's delta is spread back over the window.
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        kernel, stride, padding, _, out = pool_geometry("avg_pool2d", x, kernel_size, stride, padding, 1,
                                                        ceil_mode)
        if divisor_override is not None and (not isinstance(divisor_override, numbers.Integral)
                                             or isinstance(divisor_override, bool) or divisor_override == 0):
            raise ValueError(f"avg_pool2d: divisor_override must be None or a non-zero int, "
                             f"got {divisor_override!r}")
        settings = (bool(count_include_pad), None if divisor_override is None else int(divisor_override))
        y = avg_pool2d_forward(as_batch(x), kernel, stride, padding, out, *settings)
        ctx.geometry, ctx.settings, ctx.x_shape = (kernel, stride, padding), settings, x.shape
        return y.reshape(y.shape[-x.ndim:])

    @staticmethod
    def backward(ctx, g):
        g = as_batch(g)
        batch_shape = g.shape[:2] + ctx.x_shape[-2:]
        return avg_pool2d_backward(g, batch_shape, *ctx.geometry, *ctx.settings).reshape(ctx.x_shape)


def adaptive_settings(op, output_size):
    """``output_size`` as a pair whose entries are positive ints or None (None keeps the input's size)."""
    items = (output_size, output_size) if isinstance(output_size, numbers.Integral) else output_size
    if isinstance(output_size, bool) or not isinstance(items, (tuple, list)) or len(items) != 2 or not all(
            v is None or (isinstance(v, numbers.Integral) and not isinstance(v, bool)) for v in items):
        raise ValueError(f"{op}: output_size must be an int or a pair of ints (or None), got {output_size!r}")
    if any(v is not None and v < 1 for v in items):
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return tuple(None if v is None else int(v) for v in items)


class AdaptiveAvgPool2d(Function):
    """Average pooling to a fixed output size (OH, OW) whatever the input size, as PyTorch.

    Window (p, q) covers rows [floor(p H / OH), ceil((p+1) H / OH)) and columns [floor(q W / OW),
    ceil((q+1) W / OW)); windows may differ in size by one and may overlap. Forward, x (N, C, H, W) ->
    y (N, C, OH, OW):

        y[n, c, p, q] = mean of x[n, c] over window (p, q)

    Backward, g = dL/dy (N, C, OH, OW): y is linear in x, each element of window (p, q) weighing
    1 / |window (p, q)|, so

        dL/dx[n, c, r, s] = sum over the windows (p, q) containing (r, s) of g[n, c, p, q] / |window (p, q)|

    The mean over a rectangle is an average over its columns, then over its rows, so with P_H (OH, H) and
    P_W (OW, W) from ``kernels.pool.adaptive_pool_matrix`` each image plane X (H, W) is pooled by two
    matrix products, which is how the reference computes it (the numba kernel loops over the windows):

        Y = P_H X P_W^T                        dL/dX = P_H^T G P_W

    output_size 1 is global average pooling, the U-Net paper's eq. (2): g_c = 1/(H W) sum_ij f_cij, one
    number per channel, with dL/df_cij = dL/dg_c / (H W).
    """

    @staticmethod
    def forward(ctx, x, output_size):
        check_image_input("adaptive_avg_pool2d", x)
        wanted = adaptive_settings("adaptive_avg_pool2d", output_size)      # None: keep that size
        out = tuple(size if v is None else v for size, v in zip(x.shape[-2:], wanted))
        y = adaptive_avg_pool2d_forward(as_batch(x), out)
        ctx.x_shape = x.shape
        return y.reshape(y.shape[-x.ndim:])

    @staticmethod
    def backward(ctx, g):
        g = as_batch(g)
        batch_shape = g.shape[:2] + ctx.x_shape[-2:]
        return adaptive_avg_pool2d_backward(g, batch_shape).reshape(ctx.x_shape)
