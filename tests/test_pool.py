"""Pooling (max, average, adaptive average): float64 gradient checks, PyTorch parity (ties included), the
numba kernels against their NumPy references, the errors for bad input, and the nn layers.

Configurations come from hypothesis: batch 1-3 (or unbatched), channels 1-3, H and W drawn separately,
kernel 1-5, stride 1-3 or None, padding up to half the kernel (at most 2), dilation 1-2 for max pooling, both
ceil modes, both count_include_pad settings and sometimes a divisor_override for average pooling.
"""

import contextlib
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import minigrad
from minigrad.gradcheck import gradcheck
from minigrad.kernels import pool as K
from minigrad.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
import minigrad.functional as F
from minigrad.ops import pool as P
from strategies import SEEDS, distinct_arrays, float_arrays

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GRADCHECK_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
BACKENDS = pytest.mark.parametrize("backend", ["numba", "reference"])
TOLERANCES = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


@contextlib.contextmanager
def kernels_of(backend):
    """Run the ops on the numba kernels (the default on the CPU) or on the NumPy references."""
    saved = os.environ.get("MINIGRAD_NUMBA")
    os.environ["MINIGRAD_NUMBA"] = "1" if backend == "numba" else "0"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["MINIGRAD_NUMBA"]
        else:
            os.environ["MINIGRAD_NUMBA"] = saved


# ----- configurations -----------------------------------------------------------------------------------------

def expected_output_size(size, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's formula, written out independently of minigrad's."""
    exact = (size + 2 * padding - dilation * (kernel - 1) - 1) / stride
    out = (math.ceil(exact) if ceil_mode else math.floor(exact)) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def window_misses_input(size, kernel, stride, padding, dilation, out):
    """Whether some window's (dilated) elements all fall in the padding: PyTorch returns garbage there."""
    return any(not any(0 <= o * stride - padding + i * dilation < size for i in range(kernel))
               for o in range(out))


@st.composite
def pool_cases(draw, kind, max_extra=3):
    """(input shape, keyword arguments) for max_pool2d (kind 'max') or avg_pool2d (kind 'avg').

    One case in five is the common 2x2 / stride 2 pooling, which the numba kernels run on a copy compiled
    with those sizes as constants. H and W are the smallest size one window fits in plus 0..max_extra, so
    both ceil modes matter.
    """
    if draw(st.integers(0, 4)) == 0:   # 2x2 windows, stride 2: the numba kernels' compiled-constant copy
        kernel, stride_given, padding, dilation = (2, 2), draw(st.none() | st.just((2, 2))), (0, 0), (1, 1)
    else:
        kernel = draw(st.tuples(st.integers(1, 5), st.integers(1, 5)))
        stride_given = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
        padding = tuple(draw(st.integers(0, min(2, k // 2))) for k in kernel)
        dilation = draw(st.tuples(st.integers(1, 2), st.integers(1, 2))) if kind == "max" else (1, 1)
    stride = kernel if stride_given is None else stride_given
    ceil_mode = draw(st.booleans())
    hw = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, max_extra))
               for k, p, d in zip(kernel, padding, dilation))
    for a in (0, 1):
        out = expected_output_size(hw[a], kernel[a], stride[a], padding[a], dilation[a], ceil_mode)
        assume(not window_misses_input(hw[a], kernel[a], stride[a], padding[a], dilation[a], out))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) + hw
    if draw(st.integers(0, 4)) == 0:
        shape = shape[1:]                                   # unbatched (C, H, W)

    def spelled(pair):                                      # an int where both axes agree, sometimes
        return pair[0] if pair[0] == pair[1] and draw(st.booleans()) else pair

    kwargs = dict(kernel_size=spelled(kernel), stride=None if stride_given is None else spelled(stride),
                  padding=spelled(padding), ceil_mode=ceil_mode)
    if kind == "max":
        kwargs["dilation"] = spelled(dilation)
    else:
        kwargs["count_include_pad"] = draw(st.booleans())
        kwargs["divisor_override"] = draw(st.none() | st.integers(1, 4))
    return shape, kwargs


@st.composite
def adaptive_cases(draw):
    """(input shape, output_size): any output size, smaller or larger than the input, None keeping a side."""
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    out = (draw(st.none() | st.integers(1, h + 2)), draw(st.none() | st.integers(1, w + 2)))
    output_size = out[0] if out[0] == out[1] and out[0] is not None and draw(st.booleans()) else out
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w)
    return (shape[1:] if draw(st.integers(0, 4)) == 0 else shape), output_size


def tied_values(shape, seed, kind):
    """Inputs with exact ties: small integers (many equal maxima per window), or one value everywhere."""
    if kind == "equal":
        return np.full(shape, 1.5)
    return np.random.default_rng(seed).integers(-2, 3, shape).astype(np.float64)


def run(fn, x, dtype, upstream_seed=0):
    """fn on a leaf made from x (as ``dtype``): the output and the input gradient for a random upstream."""
    leaf = minigrad.Tensor(np.asarray(x, dtype=dtype), requires_grad=True)
    y = fn(leaf)
    upstream = np.random.default_rng(upstream_seed).standard_normal(y.shape).astype(dtype)
    y.backward(upstream)
    return y.numpy(), leaf.grad, upstream


# ----- (a) float64 gradient checks ----------------------------------------------------------------------------

def check(fn, x):
    result = gradcheck(fn, x)
    assert result.passed and result.checks[0].analytic.shape == x.shape
    assert np.any(result.checks[0].analytic != 0)
    return result


@GRADCHECK_SETTINGS
@given(data=st.data(), case=pool_cases("max"))
def test_gradcheck_max_pool(data, case):
    shape, kwargs = case
    x = data.draw(distinct_arrays(shape))                   # no ties: finite differences need one winner
    check(lambda t: F.max_pool2d(t, **kwargs), x)


@GRADCHECK_SETTINGS
@given(data=st.data(), case=pool_cases("avg"))
def test_gradcheck_avg_pool(data, case):
    shape, kwargs = case
    check(lambda t: F.avg_pool2d(t, **kwargs), data.draw(float_arrays(shape)))


@GRADCHECK_SETTINGS
@given(data=st.data(), case=adaptive_cases())
def test_gradcheck_adaptive_avg_pool(data, case):
    shape, output_size = case
    check(lambda t: F.adaptive_avg_pool2d(t, output_size), data.draw(float_arrays(shape)))


def test_max_pool_winner_of_overlapping_windows_receives_their_gradient_sum():
    """kernel 3, stride 1 on 5x5: the global maximum at the centre lies in all 9 windows and wins them all."""
    x = np.random.default_rng(0).permutation(25).reshape(1, 1, 5, 5) * 0.1
    x[0, 0, 2, 2] = 10.0
    result = check(lambda t: F.max_pool2d(t, 3, stride=1), x)
    upstream = np.random.default_rng(0).standard_normal((1, 1, 3, 3))    # gradcheck's default seed
    grad = result.checks[0].analytic
    np.testing.assert_allclose(grad[0, 0, 2, 2], upstream.sum(), rtol=1e-12)
    assert np.count_nonzero(grad) == 1


def test_max_pool_gradient_goes_to_first_of_equal_elements():
    """All-equal 2x2 windows: the first element in row-major order wins, so it alone gets the gradient."""
    x = minigrad.Tensor(np.zeros((1, 1, 4, 6)), requires_grad=True)
    F.max_pool2d(x, 2).backward(np.arange(1.0, 7.0).reshape(1, 1, 2, 3))
    expected = np.zeros((4, 6))
    expected[::2, ::2] = np.arange(1.0, 7.0).reshape(2, 3)
    np.testing.assert_array_equal(x.grad[0, 0], expected)


def test_global_average_pooling_is_the_mean_over_height_and_width():
    """output_size 1: g_c = 1/(HW) sum_ij f_cij (U-Net paper eq. 2), and each f_cij gets dL/dg_c / (HW)."""
    f = np.random.default_rng(0).standard_normal((2, 3, 5, 7))
    leaf = minigrad.Tensor(f, requires_grad=True)
    g = F.adaptive_avg_pool2d(leaf, 1)
    assert g.shape == (2, 3, 1, 1)
    np.testing.assert_allclose(g.numpy()[:, :, 0, 0], f.mean(axis=(2, 3)), rtol=1e-13)
    upstream = np.arange(6.0).reshape(2, 3, 1, 1)
    g.backward(upstream)
    np.testing.assert_allclose(leaf.grad, np.broadcast_to(upstream / 35, f.shape), rtol=1e-13)


# ----- (b) parity with PyTorch --------------------------------------------------------------------------------

def assert_torch_parity(mg_fn, torch_fn, x, dtype):
    """Same input in ``dtype`` to both: output shape, dtype and values, then the input gradient."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    y, grad, upstream = run(mg_fn, x, dtype)
    t = torch.tensor(np.asarray(x, dtype=dtype), requires_grad=True)
    ty = torch_fn(t)
    ty.backward(torch.from_numpy(upstream))
    assert y.shape == tuple(ty.shape) and y.dtype == dtype and grad.dtype == dtype
    np.testing.assert_allclose(y, ty.detach().numpy(), **TOLERANCES[dtype])
    np.testing.assert_allclose(grad, t.grad.numpy(), err_msg="input gradient", **TOLERANCES[dtype])
    return grad, t.grad.numpy()


@DTYPES
@BACKENDS
@SETTINGS
@given(data=st.data(), case=pool_cases("max"), values=st.sampled_from(["distinct", "ties", "equal"]), seed=SEEDS)
def test_max_pool_matches_torch(dtype, backend, data, case, values, seed):
    torch_f = pytest.importorskip("torch.nn.functional")
    shape, kwargs = case
    x = data.draw(distinct_arrays(shape)) if values == "distinct" else tied_values(shape, seed, values)
    with kernels_of(backend):
        mine, theirs = assert_torch_parity(lambda t: F.max_pool2d(t, **kwargs),
                                           lambda t: torch_f.max_pool2d(t, **kwargs), x, dtype)
    np.testing.assert_array_equal(mine != 0, theirs != 0)  # ties: the very same winners


@DTYPES
@BACKENDS
@SETTINGS
@given(case=pool_cases("avg"), seed=SEEDS)
def test_avg_pool_matches_torch(dtype, backend, case, seed):
    torch_f = pytest.importorskip("torch.nn.functional")
    shape, kwargs = case
    x = np.random.default_rng(seed).standard_normal(shape)
    with kernels_of(backend):
        assert_torch_parity(lambda t: F.avg_pool2d(t, **kwargs), lambda t: torch_f.avg_pool2d(t, **kwargs),
                            x, dtype)


@DTYPES
@BACKENDS
@SETTINGS
@given(case=adaptive_cases(), seed=SEEDS)
def test_adaptive_avg_pool_matches_torch(dtype, backend, case, seed):
    torch_f = pytest.importorskip("torch.nn.functional")
    shape, output_size = case
    x = np.random.default_rng(seed).standard_normal(shape)
    with kernels_of(backend):
        assert_torch_parity(lambda t: F.adaptive_avg_pool2d(t, output_size),
                            lambda t: torch_f.adaptive_avg_pool2d(t, output_size), x, dtype)


@DTYPES
@BACKENDS
def test_max_pool_nan_and_infinity_match_torch(dtype, backend):
    """NaN beats every number (the last NaN of a window wins, as PyTorch's kernel); windows of -inf pick
    their first element inside the input, never the padding."""
    torch = pytest.importorskip("torch")
    torch_f = pytest.importorskip("torch.nn.functional")
    x = np.full((1, 2, 5, 6), -np.inf)
    x[0, 0, 1, 1:4] = [np.nan, 2.0, np.nan]
    x[0, 0, 3, 0] = np.nan
    x[0, 1] = np.random.default_rng(0).integers(-1, 2, (5, 6))
    x[0, 1, 4, 5] = np.nan
    outputs = []
    for kwargs in [dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=(2, 3), stride=2, ceil_mode=True),
                   dict(kernel_size=3, stride=2, padding=1, dilation=2)]:
        with kernels_of(backend):
            y, grad, upstream = run(lambda t: F.max_pool2d(t, **kwargs), x, dtype)
        t = torch.tensor(x.astype(dtype), requires_grad=True)
        ty = torch_f.max_pool2d(t, **kwargs)
        ty.backward(torch.from_numpy(upstream))
        np.testing.assert_array_equal(y, ty.detach().numpy())             # NaN == NaN, -inf == -inf here
        np.testing.assert_allclose(grad, t.grad.numpy(), **TOLERANCES[dtype])
        outputs.append(y.reshape(-1))
    assert np.isnan(np.concatenate(outputs)).any() and np.isneginf(np.concatenate(outputs)).any()


# ----- (c) numba kernels against the references ---------------------------------------------------------------

def as_nchw(x):
    return x if x.ndim == 4 else x[None]


def special_values(shape, seed, dtype):
    """Small integers (ties everywhere), with a few NaNs and infinities mixed in."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, shape).astype(dtype)
    flat = x.reshape(-1)
    flat[rng.random(flat.size) < 0.05] = np.nan
    flat[rng.random(flat.size) < 0.05] = -np.inf
    flat[rng.random(flat.size) < 0.02] = np.inf
    return x


@DTYPES
@SETTINGS
@given(case=pool_cases("max", max_extra=8), seed=SEEDS)
def test_max_pool_kernels_equal_reference(dtype, case, seed):
    shape, kwargs = case
    x = as_nchw(special_values(shape, seed, dtype))
    geometry = P.pool_geometry("max_pool2d", x, **kwargs)
    y_ref, arg_ref = K.max_pool2d_forward_reference(x, *geometry)
    y_nb, arg_nb = K.max_pool2d_forward_numba(x, *geometry)
    assert y_nb.dtype == y_ref.dtype == dtype and arg_nb.dtype == arg_ref.dtype == np.int32
    np.testing.assert_array_equal(y_nb, y_ref)
    np.testing.assert_array_equal(arg_nb, arg_ref)
    assert arg_ref.min() >= 0 and arg_ref.max() < geometry[0][0] * geometry[0][1]
    # integer gradients add up exactly in any order, so the two backward passes must agree bit for bit
    g = np.random.default_rng(seed).integers(-4, 5, y_ref.shape).astype(dtype)
    dx_ref = K.max_pool2d_backward_reference(g, arg_ref, x.shape, *geometry[:4])
    dx_nb = K.max_pool2d_backward_numba(g, arg_nb, x.shape, *geometry[:4])
    assert dx_nb.shape == dx_ref.shape == x.shape and dx_nb.dtype == dx_ref.dtype == dtype
    np.testing.assert_array_equal(dx_nb, dx_ref)
    assert dx_ref.sum() == g.sum()                      # every window's gradient lands on one element


@DTYPES
@SETTINGS
@given(case=pool_cases("avg", max_extra=8), seed=SEEDS)
def test_avg_pool_kernels_close_to_reference(dtype, case, seed):
    shape, kwargs = case
    x = as_nchw(np.random.default_rng(seed).standard_normal(shape).astype(dtype))
    kernel, stride, padding, _, out = P.pool_geometry("avg_pool2d", x, kwargs["kernel_size"], kwargs["stride"],
                                                      kwargs["padding"], 1, kwargs["ceil_mode"])
    settings_ = (kwargs["count_include_pad"], kwargs["divisor_override"])
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    y_ref = K.avg_pool2d_forward_reference(x, kernel, stride, padding, out, *settings_)
    y_nb = K.avg_pool2d_forward_numba(x, kernel, stride, padding, out, *settings_)
    assert y_nb.dtype == y_ref.dtype == dtype and y_nb.shape == y_ref.shape
    np.testing.assert_allclose(y_nb, y_ref, **tol)
    g = np.random.default_rng(seed).standard_normal(y_ref.shape).astype(dtype)
    dx_ref = K.avg_pool2d_backward_reference(g, x.shape, kernel, stride, padding, *settings_)
    dx_nb = K.avg_pool2d_backward_numba(g, x.shape, kernel, stride, padding, *settings_)
    assert dx_nb.dtype == dx_ref.dtype == dtype and dx_nb.shape == x.shape
    np.testing.assert_allclose(dx_nb, dx_ref, **tol)


@DTYPES
@SETTINGS
@given(case=adaptive_cases(), seed=SEEDS)
def test_adaptive_avg_pool_kernels_close_to_reference(dtype, case, seed):
    shape, output_size = case
    x = as_nchw(np.random.default_rng(seed).standard_normal(shape).astype(dtype))
    wanted = P.adaptive_settings("adaptive_avg_pool2d", output_size)
    out = tuple(s if v is None else v for s, v in zip(x.shape[2:], wanted))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    y_ref, y_nb = K.adaptive_avg_pool2d_forward_reference(x, out), K.adaptive_avg_pool2d_forward_numba(x, out)
    assert y_nb.dtype == y_ref.dtype == dtype and y_nb.shape == y_ref.shape == x.shape[:2] + out
    np.testing.assert_allclose(y_nb, y_ref, **tol)
    g = np.random.default_rng(seed).standard_normal(y_ref.shape).astype(dtype)
    dx_ref = K.adaptive_avg_pool2d_backward_reference(g, x.shape)
    dx_nb = K.adaptive_avg_pool2d_backward_numba(g, x.shape)
    assert dx_nb.dtype == dx_ref.dtype == dtype and dx_nb.shape == x.shape
    np.testing.assert_allclose(dx_nb, dx_ref, **tol)


def test_numba_runs_by_default_and_reference_when_disabled(monkeypatch):
    """The ops call the Kernel entry, which picks by ``kernels.enabled``: check which version ran by replacing
    both with spies."""
    calls = []
    monkeypatch.setattr(K.max_pool2d_forward, "cpu", lambda *a: calls.append("numba") or
                        K.max_pool2d_forward_numba(*a))
    monkeypatch.setattr(K.max_pool2d_forward, "reference", lambda *a: calls.append("reference") or
                        K.max_pool2d_forward_reference(*a))
    x = np.zeros((1, 1, 2, 2), np.float32)
    with kernels_of("numba"):
        F.max_pool2d(x, 2)
    with kernels_of("reference"):
        F.max_pool2d(x, 2)
    assert calls == ["numba", "reference"]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_the_entries_run_the_compiled_loops_for_float32_and_float64_only(dtype):
    """``fast`` of the pool entries: the compiled loops for float32 and float64 (argmax int32), the reference
    for any other dtype, as ``float16`` arrays given to the kernels directly."""
    x = np.zeros((1, 1, 2, 2), dtype)
    geometry = ((2, 2), (2, 2), (0, 0), (1, 1), (1, 1))
    compiled = dtype != np.float16
    forward = K.max_pool2d_forward.implementation(x, *geometry)
    assert forward is (K.max_pool2d_forward_numba if compiled else K.max_pool2d_forward_reference)
    g, argmax = np.zeros((1, 1, 1, 1), dtype), np.zeros((1, 1, 1, 1), np.int32)
    backward = K.max_pool2d_backward.implementation(g, argmax, x.shape, *geometry[:4])
    assert backward is (K.max_pool2d_backward_numba if compiled else K.max_pool2d_backward_reference)
    assert K.max_pool2d_backward.implementation(g, argmax.astype(np.int64), x.shape, *geometry[:4]) is \
        K.max_pool2d_backward_reference                       # an argmax the loops cannot read
    assert (K.avg_pool2d_forward.implementation(x, *geometry[:3], (1, 1), True, None) is K.avg_pool2d_forward_numba) \
        == compiled
    assert (K.adaptive_avg_pool2d_backward.implementation(g, x.shape) is K.adaptive_avg_pool2d_backward_numba) \
        == compiled


# ----- (d) bad input ------------------------------------------------------------------------------------------

X = np.zeros((1, 2, 3, 3), np.float32)

BAD = [
    (lambda: F.max_pool2d(np.zeros((3, 3)), 2),
     r"max_pool2d expected \(N, C, H, W\) or \(C, H, W\), got shape \(3, 3\)"),
    (lambda: F.avg_pool2d(np.zeros((1, 1, 1, 3, 3)), 2),
     r"avg_pool2d expected \(N, C, H, W\) or \(C, H, W\), got shape \(1, 1, 1, 3, 3\)"),
    (lambda: F.adaptive_avg_pool2d(np.zeros(4), 1), r"expected \(N, C, H, W\) or \(C, H, W\), got shape \(4,\)"),
    (lambda: F.max_pool2d(np.zeros((1, 0, 3, 3)), 2),
     r"non-empty channels, height and width, got shape \(1, 0, 3, 3\)"),
    (lambda: F.max_pool2d(X, 5),
     r"kernel spans 5 along height but the padded input has only 3 \(height 3 \+ 2 \* padding 0\)"),
    (lambda: F.avg_pool2d(np.zeros((1, 1, 9, 2)), (1, 5), padding=(0, 1)),
     r"kernel spans 5 along width but the padded input has only 4 \(width 2 \+ 2 \* padding 1\)"),
    (lambda: F.max_pool2d(X, 2, dilation=3), r"kernel spans 4 along height but the padded input has only 3"),
    (lambda: F.max_pool2d(X, 3, padding=2),
     r"padding must be at most half the kernel size, got padding 2 for a kernel of 3 along height"),
    (lambda: F.avg_pool2d(X, (2, 4), padding=(1, 3)), r"got padding 3 for a kernel of 4 along width"),
    (lambda: F.max_pool2d(X, 0), r"kernel_size must be positive, got 0"),
    (lambda: F.max_pool2d(X, (2, -1)), r"kernel_size must be positive, got \(2, -1\)"),
    (lambda: F.avg_pool2d(X, 2, stride=0), r"stride must be positive, got 0"),
    (lambda: F.max_pool2d(X, 2, dilation=(1, 0)), r"dilation must be positive, got \(1, 0\)"),
    (lambda: F.max_pool2d(X, 2, padding=-1), r"padding must be non-negative, got -1"),
    (lambda: F.max_pool2d(X, (2, 2, 2)), r"kernel_size must be an int or a pair of ints, got \(2, 2, 2\)"),
    (lambda: F.max_pool2d(X, 2.0), r"kernel_size must be an int or a pair of ints, got 2.0"),
    (lambda: F.avg_pool2d(X, 2, divisor_override=0), r"divisor_override must be None or a non-zero int, got 0"),
    (lambda: F.adaptive_avg_pool2d(X, 0), r"output_size must be positive, got 0"),
    (lambda: F.adaptive_avg_pool2d(X, (2, -1)), r"output_size must be positive, got \(2, -1\)"),
    (lambda: F.adaptive_avg_pool2d(X, (1, 2, 3)),
     r"output_size must be an int or a pair of ints \(or None\), got \(1, 2, 3\)"),
    (lambda: F.max_pool2d(np.zeros((1, 1, 1, 1)), 2, stride=1, padding=1, dilation=2),
     r"window 0 along height covers only padding \(input height 1, kernel 2, dilation 2, padding 1\)"),
    (lambda: MaxPool2d(3, padding=2), r"MaxPool2d: padding must be at most half the kernel size"),
    (lambda: MaxPool2d(2, return_indices=True), r"return_indices=True is not supported"),
    (lambda: AvgPool2d(0), r"AvgPool2d: kernel_size must be positive"),
    (lambda: AdaptiveAvgPool2d(0), r"AdaptiveAvgPool2d: output_size must be positive"),
]


@pytest.mark.parametrize("call, message", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_integer_input_is_a_type_error():
    with pytest.raises(TypeError, match="max_pool2d: expected float32 or float64 input, got int64"):
        F.max_pool2d(np.zeros((1, 1, 2, 2), np.int64), 2)


@pytest.mark.parametrize("shape, kwargs, out", [
    ((1, 1, 3, 3), dict(kernel_size=4, stride=2, ceil_mode=True), (1, 1)),   # ceil: a window past the input
    ((1, 1, 5, 5), dict(kernel_size=2, stride=2, ceil_mode=True), (3, 3)),
    ((1, 1, 5, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (3, 3)),  # 4th: in padding
    ((1, 1, 6, 7), dict(kernel_size=(2, 3), stride=(3, 1), padding=(1, 0), dilation=(2, 1)), (2, 5)),
])
def test_output_size(shape, kwargs, out):
    assert F.max_pool2d(np.zeros(shape), **kwargs).shape == shape[:2] + out


# ----- (e) the nn layers --------------------------------------------------------------------------------------

def test_layer_reprs_match_pytorch():
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(MaxPool2d((3, 2), stride=1, padding=1, dilation=2, ceil_mode=True)) == \
        "MaxPool2d(kernel_size=(3, 2), stride=1, padding=1, dilation=2, ceil_mode=True)"
    assert repr(AvgPool2d(3, stride=2, padding=1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(AdaptiveAvgPool2d(1)) == "AdaptiveAvgPool2d(output_size=1)"
    assert repr(AdaptiveAvgPool2d((None, 4))) == "AdaptiveAvgPool2d(output_size=(None, 4))"
    torch = pytest.importorskip("torch")
    for mine, theirs in [(MaxPool2d(2), torch.nn.MaxPool2d(2)),
                         (MaxPool2d(3, 1, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 1, 1, ceil_mode=True)),
                         (AvgPool2d((2, 3), 1), torch.nn.AvgPool2d((2, 3), 1)),
                         (AdaptiveAvgPool2d((2, 3)), torch.nn.AdaptiveAvgPool2d((2, 3)))]:
        assert repr(mine) == repr(theirs)


@pytest.mark.parametrize("layer, op", [
    (MaxPool2d(3, stride=2, padding=1, ceil_mode=True), lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True)),
    (MaxPool2d((2, 3), dilation=(1, 2)), lambda t: F.max_pool2d(t, (2, 3), dilation=(1, 2))),
    (AvgPool2d(2), lambda t: F.avg_pool2d(t, 2)),
    (AvgPool2d(3, 1, 1, count_include_pad=False), lambda t: F.avg_pool2d(t, 3, 1, 1, count_include_pad=False)),
    (AvgPool2d(2, divisor_override=3), lambda t: F.avg_pool2d(t, 2, divisor_override=3)),
    (AdaptiveAvgPool2d(1), lambda t: F.adaptive_avg_pool2d(t, 1)),
    (AdaptiveAvgPool2d((3, None)), lambda t: F.adaptive_avg_pool2d(t, (3, None))),
])
@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (3, 7, 8)], ids=["batched", "unbatched"])
def test_layers_equal_the_functions(layer, op, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y_layer, grad_layer, _ = run(layer, x, np.float32)
    y_op, grad_op, _ = run(op, x, np.float32)
    assert y_layer.shape == y_op.shape and y_layer.ndim == len(shape)
    np.testing.assert_array_equal(y_layer, y_op)
    np.testing.assert_array_equal(grad_layer, grad_op)
    assert not list(layer.parameters())
