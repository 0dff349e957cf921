"""Kernel cases (see kernel_cases.py) of minigrad.kernels: im2col, conv_weight and pool.

Images come (N, C, H, W)-shaped in the two layouts the ops pass: C order, and channels-last memory viewed as
(N, C, H, W), as ``conv2d`` returns its output. The geometries are the ones the ops compute (``output_size``,
``pool_geometry``) and cover padding, strides above 1, dilation, rectangular kernels and ceil_mode windows
that hang past the input; the arrays are small, a few hundred elements written at most per case.
"""

import numpy as np

from minigrad.kernels.pool import max_pool2d_forward_reference
from minigrad.ops.conv import live_taps, output_size
from minigrad.ops.pool import pool_geometry


def channels_last_view(x):
    """x's values in channels-last memory, viewed as (N, C, H, W): the layout conv2d's output has."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def images(rng, dtype, shape):
    return rng.standard_normal(shape).astype(dtype)


# ----- im2col, col2im: (shape, kernel, stride, padding, dilation) as Conv2d passes them --------------------------

CONV_GEOMETRIES = [
    ("3x3_pad1", (1, 2, 4, 4), (3, 3), (1, 1), (1, 1), (1, 1)),
    ("2x2_valid", (2, 2, 3, 3), (2, 2), (1, 1), (0, 0), (1, 1)),
    ("stride_dilation_padding", (1, 2, 5, 5), (2, 2), (2, 1), (1, 0), (2, 2)),
    ("rectangular_kernel", (2, 1, 3, 5), (1, 3), (1, 2), (0, 1), (1, 1)),
    ("1x1_image", (2, 3, 1, 1), (1, 1), (1, 1), (0, 0), (1, 1)),
]


def conv_geometry(x_shape, kernel, stride, padding, dilation):
    """(kernel, stride, padding, dilation, out) for the live taps, as Conv2d.forward computes them."""
    h, w = x_shape[2:]
    out = tuple(output_size(s, k, st, p, d) for s, k, st, p, d in zip((h, w), kernel, stride, padding, dilation))
    (rows, cols), padding = live_taps((h, w), kernel, stride, padding, dilation, out)
    return (rows.stop - rows.start, cols.stop - cols.start), stride, padding, dilation, out


def im2col_cases(rng, dtype):
    cases = []
    for label, shape, *geometry in CONV_GEOMETRIES:
        x = images(rng, dtype, shape)
        cases.append((label, (x, *conv_geometry(shape, *geometry))))
    x = images(rng, dtype, (1, 2, 4, 4))
    x[0, 1, 2, 3] = np.nan                                       # copied as it is, into every window it is in
    cases.append(("channels_last_nan", (channels_last_view(x), *conv_geometry(x.shape, (3, 3), (1, 1), (1, 1),
                                                                                (1, 1)))))
    # a 3x3 kernel with padding 1 on a 1x1 map: Conv2d keeps only the centre tap, with padding 0
    x = images(rng, dtype, (2, 3, 1, 1))
    cases.append(("live_centre_tap", (x, *conv_geometry(x.shape, (3, 3), (1, 1), (1, 1), (1, 1)))))
    return cases


def col2im_cases(rng, dtype):
    cases = []
    for label, shape, *geometry in CONV_GEOMETRIES:
        kernel, stride, padding, dilation, out = conv_geometry(shape, *geometry)
        n, c = shape[:2]
        cols = rng.standard_normal((n * out[0] * out[1], kernel[0] * kernel[1] * c)).astype(dtype)
        cases.append((label, (cols, shape, kernel, stride, padding, dilation, out)))
    label, (cols, *rest) = cases[0]
    cases.append(("cols_fortran_order", (np.asfortranarray(cols), *rest)))   # copied to C order first
    return cases


# ----- weight_grad: dwt (rows * cols * C, K) for the live taps, the weight (K, C, KH, KW) -----------------------

def weight_grad_cases(rng, dtype):
    cases = []
    for label, w_shape, live in [("all_taps", (4, 2, 3, 3), (slice(0, 3), slice(0, 3))),
                                 ("centre_tap", (3, 2, 3, 3), (slice(1, 2), slice(1, 2))),
                                 ("corner_taps", (2, 3, 3, 3), (slice(0, 2), slice(1, 3))),
                                 ("more_than_one_block", (17, 2, 3, 3), (slice(0, 3), slice(0, 3))),
                                 ("rectangular", (3, 1, 1, 4), (slice(0, 1), slice(1, 4)))]:
        k, c = w_shape[:2]
        rows = (live[0].stop - live[0].start) * (live[1].stop - live[1].start) * c
        cases.append((label, (rng.standard_normal((rows, k)).astype(dtype), w_shape, live)))
    dwt, w_shape, live = cases[0][1]
    cases.append(("dwt_fortran_order", (np.asfortranarray(dwt), w_shape, live)))
    return cases


# ----- max pooling --------------------------------------------------------------------------------------------

def special_values(rng, dtype, shape):
    """Small integers (ties everywhere), with NaNs and infinities mixed in."""
    x = rng.integers(-3, 4, shape).astype(dtype)
    flat = x.reshape(-1)
    flat[rng.random(flat.size) < 0.08] = np.nan
    flat[rng.random(flat.size) < 0.08] = -np.inf
    flat[rng.random(flat.size) < 0.04] = np.inf
    return x


MAX_POOLS = [   # (label, shape, pool_geometry's keyword arguments)
    ("2x2_stride2", (2, 3, 4, 4), dict(kernel_size=2)),
    ("3x3_stride2_pad1", (1, 2, 5, 5), dict(kernel_size=3, stride=2, padding=1)),
    ("overlapping_dilated", (1, 2, 6, 5), dict(kernel_size=(2, 3), stride=1, padding=(1, 1), dilation=(2, 1))),
    ("ceil_mode", (2, 1, 5, 7), dict(kernel_size=2, stride=2, ceil_mode=True)),
]


def max_forward_inputs(rng, dtype):
    """(label, x, geometry): random values, ties with NaN and infinities, and a channels-last input."""
    inputs = []
    for label, shape, kwargs in MAX_POOLS:
        for kind, x in (("random", images(rng, dtype, shape)), ("ties_nan_inf", special_values(rng, dtype, shape))):
            inputs.append((f"{label}_{kind}", x, pool_geometry("max_pool2d", x, **kwargs)))
    x = special_values(rng, dtype, (2, 3, 4, 4))
    inputs.append(("channels_last", channels_last_view(x), pool_geometry("max_pool2d", x, 3, 1, 1)))
    x = np.full((1, 2, 3, 3), -np.inf, dtype)                    # every element -inf: the first one wins
    inputs.append(("all_minus_inf", x, pool_geometry("max_pool2d", x, 2, 1)))
    return inputs


def max_pool2d_forward_cases(rng, dtype):
    return [(label, (x, *geometry)) for label, x, geometry in max_forward_inputs(rng, dtype)]


def max_pool2d_backward_cases(rng, dtype):
    """grad and the argmax the forward pass returned (C order from the reference, channels-last views as the
    compiled versions return them); integers for grad, so the sums over overlapping windows are exact."""
    cases = []
    for label, x, geometry in max_forward_inputs(rng, dtype):
        _, argmax = max_pool2d_forward_reference(x, *geometry)
        grad = rng.integers(-4, 5, argmax.shape).astype(dtype)
        cases.append((label, (grad, argmax, x.shape, *geometry[:4])))
    label, (grad, argmax, *rest) = cases[2]
    cases.append(("channels_last_grad_and_argmax", (channels_last_view(grad), channels_last_view(argmax), *rest)))
    grad = rng.standard_normal(argmax.shape).astype(dtype)
    cases.append(("random_grad", (grad, argmax, *rest)))
    return cases


# ----- average pooling: (shape, pool_geometry's keyword arguments, count_include_pad, divisor_override) ------------

AVG_POOLS = [
    ("2x2_stride2", (2, 3, 4, 4), dict(kernel_size=2), True, None),
    ("3x3_pad1_include_pad", (1, 2, 5, 5), dict(kernel_size=3, stride=2, padding=1), True, None),
    ("3x3_pad1_exclude_pad", (1, 2, 5, 5), dict(kernel_size=3, stride=2, padding=1), False, None),
    ("ceil_mode_include_pad", (1, 2, 5, 6), dict(kernel_size=(3, 2), stride=2, padding=(1, 1), ceil_mode=True),
     True, None),
    ("ceil_mode_exclude_pad", (1, 2, 5, 6), dict(kernel_size=(3, 2), stride=2, padding=(1, 1), ceil_mode=True),
     False, None),
    ("divisor_override", (1, 2, 4, 5), dict(kernel_size=2, stride=1, padding=1), True, 3),
    ("overlapping_rectangular", (2, 1, 4, 6), dict(kernel_size=(2, 3), stride=(1, 2)), False, None),
]


def avg_geometry(x, kwargs):
    kernel, stride, padding, _, out = pool_geometry("avg_pool2d", x, **kwargs)
    return kernel, stride, padding, out


def avg_pool2d_forward_cases(rng, dtype):
    cases = []
    for label, shape, kwargs, count_include_pad, divisor in AVG_POOLS:
        x = images(rng, dtype, shape)
        cases.append((label, (x, *avg_geometry(x, kwargs), count_include_pad, divisor)))
    x = images(rng, dtype, (2, 3, 4, 4))
    x[1, 2, 0, 0] = np.nan                                       # spreads to the windows that contain it
    cases.append(("channels_last_nan", (channels_last_view(x), *avg_geometry(x, dict(kernel_size=3, padding=1)),
                                        False, None)))
    return cases


def avg_pool2d_backward_cases(rng, dtype):
    cases = []
    for label, shape, kwargs, count_include_pad, divisor in AVG_POOLS:
        kernel, stride, padding, out = avg_geometry(np.empty(shape, dtype), kwargs)
        grad = rng.standard_normal(shape[:2] + out).astype(dtype)
        cases.append((label, (grad, shape, kernel, stride, padding, count_include_pad, divisor)))
    label, (grad, *rest) = cases[1]
    cases.append(("channels_last_grad", (channels_last_view(grad), *rest)))
    return cases


# ----- adaptive average pooling: windows of different sizes, overlapping where out does not divide the size ------

ADAPTIVE = [("uneven_windows", (1, 2, 5, 7), (2, 3)), ("global", (2, 3, 4, 5), (1, 1)),
            ("larger_than_input", (1, 2, 3, 2), (5, 3)), ("identity", (2, 1, 3, 4), (3, 4))]


def adaptive_avg_pool2d_forward_cases(rng, dtype):
    cases = [(label, (images(rng, dtype, shape), out)) for label, shape, out in ADAPTIVE]
    # No NaN here: the reference's matrix products multiply it by the zeros of P_H and P_W, so a NaN spreads
    # to windows that do not contain it (NaN * 0 is NaN), where the loops leave those windows finite.
    x = images(rng, dtype, (2, 3, 5, 4))
    cases.append(("channels_last", (channels_last_view(x), (2, 3))))
    return cases


def adaptive_avg_pool2d_backward_cases(rng, dtype):
    cases = [(label, (rng.standard_normal(shape[:2] + out).astype(dtype), shape)) for label, shape, out in ADAPTIVE]
    grad = rng.standard_normal((2, 3, 2, 3)).astype(dtype)
    cases.append(("channels_last_grad", (channels_last_view(grad), (2, 3, 5, 4))))
    return cases


CASES = {
    "im2col": im2col_cases,
    "col2im": col2im_cases,
    "weight_grad": weight_grad_cases,
    "max_pool2d_forward": max_pool2d_forward_cases,
    "max_pool2d_backward": max_pool2d_backward_cases,
    "avg_pool2d_forward": avg_pool2d_forward_cases,
    "avg_pool2d_backward": avg_pool2d_backward_cases,
    "adaptive_avg_pool2d_forward": adaptive_avg_pool2d_forward_cases,
    "adaptive_avg_pool2d_backward": adaptive_avg_pool2d_backward_cases,
}
