"""conv2d: float64 gradient checks and PyTorch parity over hypothesis-drawn geometries, the numba im2col,
col2im and weight-gradient kernels against their NumPy references, and the errors bad input gets.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import minigrad.functional as F
from minigrad import Tensor
from minigrad.gradcheck import gradcheck
from minigrad.kernels.conv_weight import weight_grad_numba, weight_grad_reference
from minigrad.kernels.im2col import col2im_numba, col2im_reference, im2col_numba, im2col_reference
from minigrad.ops.conv import output_size
from parity import DTYPES, assert_parity

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def conv_cases(draw, max_batch=3, max_channels=3, max_side=7):
    """A valid conv2d geometry: input and weight shapes, stride, padding, dilation, and whether there is a bias.

    Kernels 1-5, strides 1-3, paddings 0-2, dilations 1-2, H and W drawn separately (so H != W occurs);
    the input is made at least as large as the dilated kernel minus the padding, so one window fits.
    """
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    sides = []
    for a in (0, 1):
        smallest = max(1, dilation[a] * (kernel[a] - 1) + 1 - 2 * padding[a])
        sides.append(draw(st.integers(smallest, max(smallest, max_side))))
    n, c, k = (draw(st.integers(1, m)) for m in (max_batch, max_channels, max_channels))
    return dict(x_shape=(n, c, *sides), w_shape=(k, c, *kernel), stride=stride, padding=padding,
                dilation=dilation, bias=draw(st.booleans()))


def arrays_for(case, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, case["x_shape"])
    w = rng.uniform(-1, 1, case["w_shape"])
    b = rng.uniform(-1, 1, case["w_shape"][0])
    return (x, w, b) if case["bias"] else (x, w)


def settings_of(case):
    return dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"])


# ----- gradient checks --------------------------------------------------------------------------------------

@SETTINGS
@given(case=conv_cases(), seed=st.integers(0, 2**16))
@example(case=dict(x_shape=(2, 3, 5, 4), w_shape=(2, 3, 3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1),
                   bias=True), seed=0)
@example(case=dict(x_shape=(1, 2, 7, 6), w_shape=(3, 2, 2, 3), stride=(2, 3), padding=(2, 0), dilation=(2, 1),
                   bias=False), seed=1)
def test_conv2d_gradcheck(case, seed):
    result = gradcheck(lambda *t: F.conv2d(*t, **settings_of(case)), *arrays_for(case, seed))
    assert result.passed and len(result.checks) == (3 if case["bias"] else 2)


def test_conv2d_matches_the_definition():
    """The formula of the Conv2d docstring, summed by brute force, for one strided, dilated, padded case."""
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 2, 3)), rng.standard_normal(3)
    (sh, sw), (ph, pw), (dh, dw) = (2, 1), (1, 2), (2, 1)
    y = F.conv2d(Tensor(x), Tensor(w), Tensor(b), stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw)).numpy()
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    expected = np.zeros(y.shape)
    for n, k, p, q in np.ndindex(*y.shape):
        expected[n, k, p, q] = b[k] + sum(w[k, c, i, j] * x_pad[n, c, p * sh + i * dh, q * sw + j * dw]
                                          for c in range(2) for i in range(2) for j in range(3))
    assert y.shape == (2, 3, output_size(6, 2, sh, ph, dh), output_size(5, 3, sw, pw, dw)) == (2, 3, 3, 7)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


# ----- PyTorch parity ---------------------------------------------------------------------------------------

@DTYPES
@SETTINGS
@given(case=conv_cases(max_batch=4, max_channels=5, max_side=9), seed=st.integers(0, 2**16))
def test_conv2d_matches_torch(dtype, case, seed):
    torch = pytest.importorskip("torch")
    assert_parity(lambda *t: F.conv2d(*t, **settings_of(case)),
                  lambda *t: torch.nn.functional.conv2d(*t, **settings_of(case)), arrays_for(case, seed), dtype,
                  seed=seed, rtol=1e-4 if dtype == np.float32 else None)


@DTYPES
@pytest.mark.parametrize("padding", ["same", "valid", 0, 2])
def test_conv2d_string_padding_and_unbatched_input_match_torch(dtype, padding):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 6, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    y, _, _ = assert_parity(lambda *t: F.conv2d(*t, padding=padding),
                            lambda *t: torch.nn.functional.conv2d(*t, padding=padding), (x, w, b), dtype,
                            rtol=1e-4 if dtype == np.float32 else None)
    assert y.shape[0] == 4 and (padding != "same" or y.shape == (4, 6, 5))


# ----- numba kernels against the references -----------------------------------------------------------------

@DTYPES
@SETTINGS
@given(case=conv_cases(max_batch=4, max_channels=4, max_side=9), seed=st.integers(0, 2**16))
def test_im2col_and_col2im_numba_match_reference(dtype, case, seed):
    x = arrays_for(case, seed)[0].astype(dtype)
    kernel = case["w_shape"][2:]
    geometry = (kernel, case["stride"], case["padding"], case["dilation"],
                tuple(output_size(x.shape[2 + a], kernel[a], case["stride"][a], case["padding"][a],
                                  case["dilation"][a]) for a in (0, 1)))
    cols = im2col_numba(x, *geometry)
    np.testing.assert_array_equal(cols, im2col_reference(x, *geometry))
    n, c = x.shape[:2]
    assert cols.dtype == dtype and cols.shape == (n * geometry[4][0] * geometry[4][1], kernel[0] * kernel[1] * c)
    upstream = np.random.default_rng(seed).standard_normal(cols.shape).astype(dtype)
    dx = col2im_numba(upstream, x.shape, *geometry)
    assert dx.shape == x.shape and dx.dtype == dtype
    # The two add a pixel's contributions in different orders (tap by tap, or window by window), so they
    # agree to rounding.
    tolerance = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(dx, col2im_reference(upstream, x.shape, *geometry), **tolerance)


@st.composite
def weight_grad_cases(draw):
    """A weight shape (K, C, KH, KW), K across several 16-channel blocks or not, and the live taps' slices."""
    shape = (draw(st.integers(1, 40)), draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    live = []
    for size in shape[2:]:
        first = draw(st.integers(0, size - 1))
        live.append(slice(first, draw(st.integers(first + 1, size))))
    return shape, tuple(live)


@DTYPES
@SETTINGS
@given(case=weight_grad_cases(), seed=st.integers(0, 2**16))
def test_weight_grad_numba_matches_reference_and_the_layout(dtype, case, seed):
    w_shape, (rows, cols) = case
    k, c = w_shape[:2]
    live_h, live_w = rows.stop - rows.start, cols.stop - cols.start
    dwt = np.random.default_rng(seed).standard_normal((live_h * live_w * c, k)).astype(dtype)
    dw = weight_grad_numba(dwt, w_shape, (rows, cols))
    assert dw.shape == w_shape and dw.dtype == dtype and dw.flags.c_contiguous
    np.testing.assert_array_equal(dw, weight_grad_reference(dwt, w_shape, (rows, cols)))
    # Element by element: dL/dW[k, c, i, j] is row ((i - r0) * live_w + (j - c0)) * C + c, column k of dwt
    # for a live tap, and 0 for any other.
    expected = np.zeros(w_shape, dtype)
    for kk, ci, i, j in np.ndindex(*w_shape):
        if rows.start <= i < rows.stop and cols.start <= j < cols.stop:
            expected[kk, ci, i, j] = dwt[((i - rows.start) * live_w + (j - cols.start)) * c + ci, kk]
    np.testing.assert_array_equal(dw, expected)


def test_col2im_is_the_transpose_of_im2col():
    """<im2col(x), C> == <x, col2im(C)> for any x and C: col2im is exactly the adjoint backward needs."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 6))
    geometry = ((3, 2), (2, 1), (1, 2), (1, 2), (output_size(7, 3, 2, 1, 1), output_size(6, 2, 1, 2, 2)))
    c = rng.standard_normal(im2col_numba(x, *geometry).shape)
    np.testing.assert_allclose((im2col_numba(x, *geometry) * c).sum(), (x * col2im_numba(c, x.shape, *geometry)).sum(),
                               rtol=1e-12)


# ----- bad input ----------------------------------------------------------------------------------------------

def conv_error(x_shape, w_shape, **kwargs):
    return F.conv2d(Tensor(np.zeros(x_shape, np.float32)), Tensor(np.zeros(w_shape, np.float32)), **kwargs)


@pytest.mark.parametrize("x_shape,w_shape,kwargs,message", [
    ((28, 28), (4, 3, 3, 3), {}, r"expects input of shape \(N, C, H, W\) .*got \(28, 28\)"),
    ((2, 3, 8, 8), (4, 3, 3), {}, r"weight of shape \(out_channels, in_channels, kH, kW\), got \(4, 3, 3\)"),
    ((2, 3, 8, 8), (4, 5, 3, 3), {}, r"input has 3 channels \(shape \(2, 3, 8, 8\)\) but weight expects 5"),
    ((2, 3, 4, 8), (4, 3, 7, 3), {}, r"kernel spans 7 pixels in height but the padded input has only 4"),
    ((2, 3, 4, 8), (4, 3, 3, 3), dict(padding=1, dilation=3), r"spans 7 pixels in height .* only 6"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(stride=0), r"stride must be >= 1, got 0"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding=(1, 2, 3)), r"padding must be an int or a pair of ints"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding="same", stride=2), r"padding='same' needs stride 1"),
    ((2, 3, 8, 8), (4, 3, 2, 2), dict(padding="same"), r"even dilated kernel size"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding="full"), r"'valid' or 'same', got 'full'"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(groups=3), r"only groups=1 is implemented"),
])
def test_bad_input_names_expected_and_received(x_shape, w_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv_error(x_shape, w_shape, **kwargs)


def test_bad_bias_and_dtype():
    x, w = Tensor(np.zeros((1, 3, 5, 5), np.float32)), Tensor(np.zeros((4, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"bias of shape \(4,\), got \(3,\)"):
        F.conv2d(x, w, Tensor(np.zeros(3, np.float32)))
    with pytest.raises(TypeError, match="one dtype, got float32 and float64"):
        F.conv2d(x, Tensor(np.zeros((4, 3, 3, 3))))


# ----- the fused ReLU backward ------------------------------------------------------------------------------

@DTYPES
@pytest.mark.parametrize("layout", ["nchw", "channels_last", "transposed_2d", "strided"])
def test_relu_backward_matches_reference_in_every_layout(dtype, layout):
    from minigrad.kernels.relu import dense_flat, relu_backward, relu_backward_numba, relu_backward_reference
    rng = np.random.default_rng(0)
    g, y = (rng.standard_normal((3, 4, 5, 6)).astype(dtype) for _ in range(2))
    y[y < 0.3] = 0.0                                             # dead units, and y == 0 exactly
    g[0, 0, 0, 0], y[0, 0, 0, 0] = np.nan, 0.0                   # NaN * 0 stays NaN, as in the reference
    if layout == "channels_last":
        g, y = (np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) for a in (g, y))
    elif layout == "transposed_2d":
        g, y = g.reshape(12, 30).T, y.reshape(12, 30).T
    elif layout == "strided":
        g, y = g[:, :, ::2], y[:, :, ::2]
        assert dense_flat(g) is None                             # not one dense block: the reference runs
    chosen = relu_backward.implementation(g, y)
    assert chosen is (relu_backward_reference if layout == "strided" else relu_backward_numba)
    out = relu_backward(g, y)
    expected = relu_backward_reference(g, y)
    assert out.shape == expected.shape and out.dtype == dtype
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("x_shape,padding,stride,dilation", [((2, 5, 1, 1), 1, 1, 1), ((1, 2, 2, 1), 2, 1, 2),
                                                             ((1, 2, 1, 3), (2, 0), 3, 1)])
def test_taps_that_only_meet_padding_are_left_out_with_the_same_result(x_shape, padding, stride, dilation):
    """The U-Net bottleneck: a 3x3 kernel with padding 1 on a 1x1 map meets the input with its centre only."""
    from minigrad.ops.conv import live_taps, output_size, pair
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((3, x_shape[1], 3, 3)), rng.standard_normal(3)
    check(lambda *t: F.conv2d(*t, stride=stride, padding=padding, dilation=dilation), x, w, b)
    p, s, d = pair(padding, "padding", 0), pair(stride, "stride", 1), pair(dilation, "dilation", 1)
    out = tuple(output_size(x_shape[2 + a], 3, s[a], p[a], d[a]) for a in (0, 1))
    (rows, cols), _ = live_taps(x_shape[2:], (3, 3), s, p, d, out)
    if x_shape == (2, 5, 1, 1):
        assert (rows, cols) == (slice(1, 2), slice(1, 2))
    wt = Tensor(w, requires_grad=True)
    F.conv2d(Tensor(x), wt, Tensor(b), stride=stride, padding=padding, dilation=dilation).sum().backward()
    dead = np.ones((3, 3), bool)
    dead[rows, cols] = False
    assert np.all(wt.grad[:, :, dead] == 0)          # a tap that never meets a pixel gets no gradient


def check(fn, *inputs):
    assert gradcheck(fn, *inputs).passed
