"""Batch normalisation: float64 gradient checks, PyTorch parity (outputs, gradients and running statistics,
for the function and over several steps of the modules), the numba kernels against their NumPy references,
and the errors bad input gets.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minigrad.gradcheck import GradcheckError, gradcheck
from minigrad.kernels import batchnorm as K
from minigrad.nn.normalization import BatchNorm1d, BatchNorm2d
import minigrad.functional as F
from minigrad.functional import batch_norm
from minigrad.ops.batchnorm import BatchNorm
from minigrad.tensor import Tensor
from strategies import SEEDS

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
# float32: every sum over a channel is rounded differently by the two engines, and dL/dx is a difference of
# such sums; errors are relative to the largest entry of the array, not to each (possibly cancelling) entry.
RTOL = {np.float32: 2e-5, np.float64: 1e-10}


def assert_close(actual, expected, rtol, err_msg="", scale=1.0):
    """Elementwise rtol, plus an absolute floor of rtol * max(max|expected|, scale) for entries that cancel
    to ~0; ``scale`` is the size of the terms that were summed to make them (see :func:`dx_term_scale`)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, err_msg
    atol = rtol * max(float(np.abs(expected).max()), scale, 1.0) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=err_msg)


def upstream_gradient(shape, dtype):
    """The dL/dy the parity tests send back through both engines."""
    return np.random.default_rng(1).standard_normal(shape).astype(dtype)


def output_scale(case, affine, eps=1e-5):
    """How much a rounding of x is magnified in y = w (x - mean) / sqrt(var + eps): max|x| |w| / sqrt(var + eps)
    of the narrowest channel. A channel whose spread is near sqrt(eps) turns float32's rounding of x (which
    PyTorch's float32 mean keeps and minigrad's float64 sums do not) into an error far above rtol * |y|."""
    x = case["x"]
    axes = tuple(a for a in range(x.ndim) if a != 1)
    w = np.abs(case["weight"]).max() if affine else 1.0
    return float(np.abs(x).max() * w / np.sqrt(x.var(axis=axes).min() + eps))


def dx_term_scale(case, training, affine, eps=1e-5):
    """The size of the terms whose sum is batch norm's dL/dx: k * max|g|, k = |gamma| / sqrt(var + eps).

    dx = k (g - mean(g) - x_hat mean(g x_hat)). Where a channel's variance is near eps these terms
    cancel: with two values per channel and eps = 0, x_hat = (-1, 1) and dx is exactly 0. In float32
    each term is rounded to about 6e-8 of its size, so the engines' dx differ by that much of the terms,
    however small dx is (hypothesis found a channel with variance 6e-5 where k = 118 and dx = 0.12: minigrad
    was 5e-6 from the float64 answer and PyTorch 1.4e-4).
    """
    x = case["x"]
    axes = (0,) + tuple(range(2, x.ndim))
    var = x.var(axis=axes) if training else case["running_var"]
    gamma = np.abs(case["weight"]) if affine else 1.0
    k = gamma / np.sqrt(var + eps)
    return float(np.max(k) * np.abs(upstream_gradient(x.shape, np.float64)).max())


@st.composite
def bn_shapes(draw, min_batch=2, max_batch=4, max_channels=3, max_side=4):
    """(N, C), (N, C, L) or (N, C, H, W) with N 2-4 and C 1-3; H and W drawn separately, so H != W occurs."""
    n, c = draw(st.integers(min_batch, max_batch)), draw(st.integers(1, max_channels))
    spatial = draw(st.sampled_from([0, 1, 2]))
    return (n, c) + tuple(draw(st.integers(1, max_side)) for _ in range(spatial))


@st.composite
def bn_case(draw, **shape_kwargs):
    """A shape and float64 arrays for it: input, weight, bias, running mean and running variance (> 0)."""
    shape = draw(bn_shapes(**shape_kwargs))
    rng = np.random.default_rng(draw(SEEDS))
    c = shape[1]
    return dict(x=rng.uniform(-2, 2, shape), weight=rng.uniform(-2, 2, c), bias=rng.uniform(-2, 2, c),
                running_mean=rng.uniform(-1, 1, c), running_var=rng.uniform(0.3, 2, c))


# ----- (a) gradient checks, float64 -------------------------------------------------------------------------

def check(fn, *inputs):
    result = gradcheck(fn, *inputs)
    assert result.passed and len(result.checks) == len(inputs)
    for c in result.checks:
        assert c.analytic.shape == np.shape(inputs[c.position])
    return result


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
@SETTINGS
@given(case=bn_case())
def test_gradcheck_input_weight_bias(training, case):
    rm, rv = case["running_mean"], case["running_var"]
    # Fresh copies of the running statistics for every evaluation: finite differences call fn many times and
    # must not see them move (in training they are updated in place, though the output does not read them).
    fn = lambda x, w, b: batch_norm(x, rm.copy(), rv.copy(), w, b, training=training)  # noqa: E731
    result = check(fn, case["x"], case["weight"], case["bias"])
    if training:
        # The input gradient of each channel sums to zero (shifting a channel does not change x_hat).
        dx = result.checks[0].analytic
        np.testing.assert_allclose(dx.sum(axis=tuple(i for i in range(dx.ndim) if i != 1)), 0, atol=1e-9)


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
@SETTINGS
@given(case=bn_case())
def test_gradcheck_without_weight_and_bias(training, case):
    rm, rv = case["running_mean"], case["running_var"]
    check(lambda x: batch_norm(x, rm.copy(), rv.copy(), training=training), case["x"])
    check(lambda x: batch_norm(x, None, None, training=True), case["x"])


def test_gradcheck_through_a_graph_and_the_module():
    """Batch norm between other ops, and the float64 module in both modes."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 4, 3))
    check(lambda t: (batch_norm(t * 2.0, None, None, training=True) ** 2).tanh(), x)
    for training in (True, False):
        bn = BatchNorm2d(2, momentum=0.5, dtype="float64").train(training)

        def fn(t, w, b):
            bn.running_mean.data[...] = [0.5, -0.5]  # the same running statistics for every evaluation
            bn.running_var.data[...] = [2.0, 0.5]
            bn.weight, bn.bias = w, b                 # the checked leaves stand in for the parameters
            return bn(t)

        check(fn, x, rng.standard_normal(2), rng.standard_normal(2))


def test_gradcheck_with_non_contiguous_input_and_upstream_gradient():
    """A permuted view as input, and a permute after, so backward receives a non-contiguous gradient."""
    x = np.random.default_rng(4).standard_normal((3, 2, 4, 5))
    for training in (True, False):
        check(lambda t: batch_norm(t.permute(0, 1, 3, 2), np.zeros(2), np.ones(2) * 1.5,
                                   training=training).permute(3, 1, 0, 2), x)


class BatchNormForgetsProjection(BatchNorm):
    """Training backward without the - x_hat * mean(g * x_hat) term: exact for any g constant per channel."""

    @staticmethod
    def backward(ctx, g):
        x3, mean, invstd, gamma = ctx.saved
        g3 = g.reshape(x3.shape)
        dx = (g3 - g3.mean(axis=(0, 2), keepdims=True)) * (gamma * invstd)[:, None]
        return dx.reshape(ctx.shape), None, None


def test_all_ones_upstream_gradient_hides_a_missing_term():
    x = np.random.default_rng(0).standard_normal((4, 3, 5))
    ones, zeros = Tensor(np.ones(3)), Tensor(np.zeros(3))

    def buggy(t):
        return BatchNormForgetsProjection.apply(t, ones, zeros, training=True)

    # sum(y) = n * beta per channel, whatever x is: the true dL/dx is 0, and so is the buggy one.
    gradcheck(lambda t: buggy(t).sum(), x)
    leaf = Tensor(x, requires_grad=True)
    buggy(leaf).backward(np.ones(x.shape))
    np.testing.assert_allclose(leaf.grad, 0, atol=1e-12)
    # A random upstream gradient sees the bug; the real op passes the same check.
    with pytest.raises(GradcheckError):
        gradcheck(buggy, x)
    gradcheck(lambda t: batch_norm(t, None, None, training=True), x)


# ----- (b) PyTorch parity -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch():
    """PyTorch, or a skip where it is not installed (the other tests here do not need it)."""
    return pytest.importorskip("torch")


def run_both(torch, case, dtype, training, affine, momentum=0.1, eps=1e-5, stats_as_tensors=False):
    """batch_norm in minigrad and torch on the same arrays; returns {name: (minigrad array, torch array)}."""
    arrays = {k: v.astype(dtype) for k, v in case.items()}
    mg = {k: Tensor(v.copy(), requires_grad=k in ("x", "weight", "bias")) for k, v in arrays.items()}
    tt = {k: torch.tensor(v, requires_grad=k in ("x", "weight", "bias")) for k, v in arrays.items()}
    rm, rv = ((mg["running_mean"], mg["running_var"]) if stats_as_tensors
              else (mg["running_mean"].data, mg["running_var"].data))
    w, b = (mg["weight"], mg["bias"]) if affine else (None, None)
    y = batch_norm(mg["x"], rm, rv, w, b, training=training, momentum=momentum, eps=eps)
    tw, tb = (tt["weight"], tt["bias"]) if affine else (None, None)
    ty = torch.nn.functional.batch_norm(tt["x"], tt["running_mean"], tt["running_var"], tw, tb,
                                        training=training, momentum=momentum, eps=eps)
    upstream = upstream_gradient(y.shape, dtype)
    y.backward(upstream)
    ty.backward(torch.from_numpy(upstream))
    out = {"output": (y.numpy(), ty.detach().numpy()), "dx": (mg["x"].grad, tt["x"].grad.numpy()),
           "running_mean": (mg["running_mean"].data, tt["running_mean"].numpy()),
           "running_var": (mg["running_var"].data, tt["running_var"].numpy())}
    if affine:
        out["dweight"] = (mg["weight"].grad, tt["weight"].grad.numpy())
        out["dbias"] = (mg["bias"].grad, tt["bias"].grad.numpy())
    return out


@DTYPES
@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
@SETTINGS
@given(case=bn_case(max_batch=5, max_channels=4, max_side=6), affine=st.booleans(),
       momentum=st.sampled_from([0.1, 0.5, 1.0]), stats_as_tensors=st.booleans())
def test_function_matches_torch(torch, dtype, training, case, affine, momentum, stats_as_tensors):
    results = run_both(torch, case, dtype, training, affine, momentum, stats_as_tensors=stats_as_tensors)
    for name, (mine, theirs) in results.items():
        assert mine.dtype == dtype, name
        scale = dx_term_scale(case, training, affine) if name == "dx" else \
            output_scale(case, affine) if name == "output" and training else 1.0
        assert_close(mine, theirs, RTOL[dtype], err_msg=name, scale=scale)
    if not training:  # evaluation reads the running statistics and leaves them as they were
        for name in ("running_mean", "running_var"):
            np.testing.assert_array_equal(results[name][0], case[name].astype(dtype))


@DTYPES
def test_function_matches_torch_at_a_u_net_shape(torch, dtype):
    """A realistic size (n = 32 * 14 * 14 values per channel) with an offset and scale, as after a conv."""
    rng = np.random.default_rng(7)
    case = dict(x=rng.standard_normal((32, 16, 14, 14)) * 3 + 1, weight=rng.standard_normal(16),
                bias=rng.standard_normal(16), running_mean=np.zeros(16), running_var=np.ones(16))
    for training in (True, False):
        for name, (mine, theirs) in run_both(torch, case, dtype, training, affine=True).items():
            assert_close(mine, theirs, RTOL[dtype], err_msg=f"{name}, training={training}")


def test_running_statistics_follow_pytorchs_rule():
    """running = (1 - m) running + m stat, with the unbiased variance; arrays and Tensors updated in place."""
    x = np.random.default_rng(2).standard_normal((5, 2, 3))
    rm, rv = Tensor(np.array([1.0, -1.0])), np.array([2.0, 0.5])
    rm_array = rm.data
    batch_norm(x, rm, rv, training=True, momentum=0.25)
    n = 5 * 3
    mean, var = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    np.testing.assert_allclose(rm.data, 0.75 * np.array([1.0, -1.0]) + 0.25 * mean, rtol=1e-12)
    np.testing.assert_allclose(rv, 0.75 * np.array([2.0, 0.5]) + 0.25 * var * n / (n - 1), rtol=1e-12)
    assert rm.data is rm_array  # the same array, changed in place


def test_training_output_is_standardised_per_channel():
    x = np.random.default_rng(4).standard_normal((6, 3, 5, 4)) * [[[[5.0]], [[0.1]], [[2.0]]]] + 10.0
    y = batch_norm(x, None, None, training=True, eps=0.0).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-12)


MODULE_CASES = {  # class name (the same in both), input shape, arguments
    "2d": ("BatchNorm2d", (4, 3, 5, 6), {}),
    "2d-cumulative": ("BatchNorm2d", (4, 3, 5, 6), dict(momentum=None)),
    "2d-no-affine": ("BatchNorm2d", (3, 2, 4, 4), dict(affine=False, momentum=0.3)),
    "2d-no-running-stats": ("BatchNorm2d", (3, 2, 4, 4), dict(track_running_stats=False)),
    "2d-no-bias": ("BatchNorm2d", (2, 3, 3, 5), dict(bias=False)),
    "1d-features": ("BatchNorm1d", (8, 5), dict(eps=1e-3)),
    "1d-sequence": ("BatchNorm1d", (4, 3, 7), dict(momentum=None)),
}


@DTYPES
@pytest.mark.parametrize("case", sorted(MODULE_CASES))
def test_module_matches_torch_over_several_steps(torch, case, dtype):
    cls, shape, kwargs = MODULE_CASES[case]
    c = shape[1]
    rng = np.random.default_rng(5)
    mine = {"BatchNorm1d": BatchNorm1d, "BatchNorm2d": BatchNorm2d}[cls](c, dtype=np.dtype(dtype).name,
                                                                          **kwargs)
    theirs = getattr(torch.nn, cls)(c, dtype=getattr(torch, np.dtype(dtype).name), **kwargs)
    assert mine.extra_repr() == theirs.extra_repr()
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for name, p in mine.named_parameters():  # the same non-trivial parameters on both sides
        value = rng.uniform(0.5, 1.5, c).astype(dtype)
        p.data = value.copy()
        getattr(theirs, name).data = torch.tensor(value)
    for step, training in enumerate([True, True, True, False, True, False]):
        mine.train(training)
        theirs.train(training)
        x = (rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)).astype(dtype)
        mx, tx = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = mine(mx), theirs(tx)
        upstream = rng.standard_normal(shape).astype(dtype)
        y.backward(upstream)
        ty.backward(torch.from_numpy(upstream))
        where = f"step {step} ({'training' if training else 'eval'})"
        assert_close(y.numpy(), ty.detach().numpy(), RTOL[dtype], err_msg=f"output, {where}")
        assert_close(mx.grad, tx.grad.numpy(), RTOL[dtype], err_msg=f"dx, {where}")
        for name, p in mine.named_parameters():
            t_param = dict(theirs.named_parameters())[name]
            assert_close(p.grad, t_param.grad.numpy(), RTOL[dtype], err_msg=f"d{name}, {where}")
        mine_state, their_state = mine.state_dict(), theirs.state_dict()
        assert list(mine_state) == list(their_state)
        for name, value in their_state.items():
            assert mine_state[name].dtype == value.numpy().dtype, name
            assert_close(mine_state[name], value.numpy(), RTOL[dtype], err_msg=f"{name}, {where}")
        mine.zero_grad()
        theirs.zero_grad()
    if mine.track_running_stats:
        assert int(mine.num_batches_tracked.data) == 4  # one per training forward


def test_module_defaults_buffers_and_repr(torch):
    bn = BatchNorm2d(4)
    np.testing.assert_array_equal(bn.weight.data, np.ones(4))
    np.testing.assert_array_equal(bn.bias.data, np.zeros(4))
    np.testing.assert_array_equal(bn.running_mean.data, np.zeros(4))
    np.testing.assert_array_equal(bn.running_var.data, np.ones(4))
    assert bn.num_batches_tracked.data.shape == () and bn.num_batches_tracked.dtype == np.int64
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert repr(bn).startswith("BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, "
                               "track_running_stats=True)")
    assert bn.extra_repr() == torch.nn.BatchNorm2d(4).extra_repr()
    bare = BatchNorm1d(3, affine=False, track_running_stats=False)
    assert bare.weight is None and bare.running_mean is None and bare.state_dict() == {}
    assert bare.extra_repr() == torch.nn.BatchNorm1d(3, affine=False, track_running_stats=False).extra_repr()


def test_state_dict_loads_into_torch_and_back(torch):
    rng = np.random.default_rng(6)
    mine = BatchNorm2d(3)
    for _ in range(3):                              # move the running statistics and the counter
        mine(Tensor(rng.standard_normal((4, 3, 5, 5)).astype(np.float32) * 2 + 1))
    mine.weight.data = rng.uniform(0.5, 2, 3).astype(np.float32)
    state = mine.state_dict()
    theirs = torch.nn.BatchNorm2d(3)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})  # strict: names must match
    for name, value in theirs.state_dict().items():
        assert tuple(value.shape) == state[name].shape
        np.testing.assert_array_equal(value.numpy(), state[name])
    assert int(theirs.num_batches_tracked) == 3

    theirs(torch.randn(4, 3, 5, 5))                 # one more step on torch's side, then back
    back = BatchNorm2d(3)
    back.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert int(back.num_batches_tracked.data) == 4 and back.num_batches_tracked.dtype == np.int64
    back.eval()
    theirs.eval()
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    assert_close(back(Tensor(x)).numpy(), expected, 1e-6)


# ----- (c) numba kernels against the NumPy references -------------------------------------------------------

@st.composite
def kernel_arrays(draw):
    """x and g (N, C, L) with L = 1 and long rows both possible; per-channel mean, invstd and weight."""
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 6)), draw(st.sampled_from([1, 2, 7, 33, 130])))
    rng = np.random.default_rng(draw(SEEDS))
    x = rng.standard_normal(shape) * rng.uniform(0.1, 5) + rng.uniform(-3, 3)
    c = shape[1]
    g = rng.standard_normal(shape)
    return x, g, rng.standard_normal(c), rng.uniform(0.2, 3, c), rng.standard_normal(c)


@DTYPES
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
@SETTINGS
@given(arrays=kernel_arrays())
def test_numba_kernels_equal_references(dtype, parallel, arrays):
    x, g, mean, invstd, weight = arrays
    x, g = x.astype(dtype), g.astype(dtype)
    rtol = RTOL[dtype] / 2

    stats, expected = K.batch_stats_numba(x, parallel=parallel), K.batch_stats_reference(x)
    for name, got, ref in zip(["mean", "var"], stats, expected):
        assert got.dtype == ref.dtype == np.float64
        assert_close(got, ref, 1e-12, err_msg=name)  # both sum the same values in float64

    y = K.scale_shift_numba(x, invstd, mean, parallel=parallel)
    assert y.dtype == dtype
    assert_close(y, K.scale_shift_reference(x, invstd, mean), rtol)

    for training in (True, False):
        for need_dx in (True, False):
            got = K.backward_numba(g, x, mean, invstd, weight, training, need_dx, parallel=parallel)
            ref = K.backward_reference(g, x, mean, invstd, weight, training, need_dx)
            assert (got[0] is None) == (ref[0] is None) == (not need_dx)
            if need_dx:
                assert got[0].dtype == dtype
                assert_close(got[0], ref[0], rtol, err_msg=f"dx, training={training}")
            for name, a, b in zip(["sum_g", "sum_g_xhat"], got[1:], ref[1:]):
                assert a.dtype == b.dtype == np.float64
                assert_close(a, b, rtol, err_msg=name)


def test_float64_sums_keep_float32_statistics_exact():
    """A float32 channel with a large mean: the kernel's float64 accumulation gives the exact statistics."""
    # With mean 1e4 and spread 1, a float32 running sum, or the one-pass E[x^2] - E[x]^2 even in float64
    # (E[x^2] = 1e8, so ~1e-8 of the variance is lost to rounding), would miss these tolerances.
    x = (np.random.default_rng(8).standard_normal((64, 2, 1000)) + 1e4).astype(np.float32)
    exact = x.astype(np.float64)
    for parallel in (False, True):
        mean, var = K.batch_stats_numba(x, parallel=parallel)
        np.testing.assert_allclose(mean, exact.mean(axis=(0, 2)), rtol=1e-12)
        np.testing.assert_allclose(var, exact.var(axis=(0, 2)), rtol=1e-10)


@DTYPES
def test_op_gives_the_same_with_and_without_numba(monkeypatch, dtype):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((8, 4, 9, 7)).astype(dtype)
    w, b = rng.standard_normal(4).astype(dtype), rng.standard_normal(4).astype(dtype)
    upstream = rng.standard_normal(x.shape).astype(dtype)
    results = {}
    for flag in ("1", "0"):
        monkeypatch.setenv("MINIGRAD_NUMBA", flag)
        for training in (True, False):
            rm, rv = np.zeros(4, dtype), np.ones(4, dtype)
            leaves = [Tensor(a, requires_grad=True) for a in (x, w, b)]
            y = batch_norm(*leaves[:1], rm, rv, *leaves[1:], training=training)
            y.backward(upstream)
            results[flag, training] = [y.numpy(), rm, rv] + [t.grad for t in leaves]
    for training in (True, False):
        for got, ref in zip(results["1", training], results["0", training]):
            assert got.dtype == ref.dtype
            assert_close(got, ref, RTOL[dtype])


# ----- (d) errors -------------------------------------------------------------------------------------------

def test_input_of_rank_below_two():
    with pytest.raises(ValueError, match=r"expects input of shape \(N, C\), .* got \(5,\)"):
        batch_norm(np.ones(5), None, None, training=True)


@pytest.mark.parametrize("name", ["running_mean", "running_var", "weight", "bias"])
def test_per_channel_arguments_of_the_wrong_size(name):
    x = np.ones((4, 3, 2, 2))
    args = dict(running_mean=np.zeros(3), running_var=np.ones(3), weight=Tensor(np.ones(3)),
                bias=Tensor(np.zeros(3)))
    args[name] = np.ones(4) if name.startswith("running") else Tensor(np.ones((3, 1)))
    received = r"\(4,\)" if name.startswith("running") else r"\(3, 1\)"
    expected = rf"{name} of shape \(C,\) = \(3,\) .* C = 3 channels, got {received}"
    with pytest.raises(ValueError, match=expected):
        batch_norm(x, training=True, **args)


def test_one_value_per_channel_when_training():
    for shape in [(1, 3), (1, 3, 1), (1, 3, 1, 1)]:
        with pytest.raises(ValueError, match=rf"Expected more than 1 value per channel when training, "
                                             rf"got input of shape \({shape[0]}, 3"):
            batch_norm(np.ones(shape), np.zeros(3), np.ones(3), training=True)
        batch_norm(np.ones(shape), np.zeros(3), np.ones(3), training=False)  # fine in evaluation
    bn = BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(Tensor(np.ones((1, 3), np.float32)))
    assert int(bn.num_batches_tracked.data) == 0 and np.array_equal(bn.running_mean.data, np.zeros(3))


def test_evaluation_needs_running_statistics_and_floating_input():
    with pytest.raises(ValueError, match="evaluation mode .* needs running_mean and running_var"):
        batch_norm(np.ones((2, 3)), None, None, training=False)
    with pytest.raises(TypeError, match="batch_norm: expected float32 or float64 input, got int64"):
        batch_norm(np.ones((2, 3), dtype=np.int64), None, None, training=True)
    with pytest.raises(TypeError, match="expected float32 or float64 running_mean, got int64"):
        batch_norm(np.ones((2, 3)), np.zeros(3, dtype=np.int64), np.ones(3), training=True)


@pytest.mark.parametrize("cls,shape,expected", [
    (BatchNorm1d, (2, 3, 4, 4), r"\(N, C\) or \(N, C, L\), got \(2, 3, 4, 4\)"),
    (BatchNorm1d, (3,), r"\(N, C\) or \(N, C, L\), got \(3,\)"),
    (BatchNorm2d, (2, 3, 4), r"\(N, C, H, W\), got \(2, 3, 4\)"),
    (BatchNorm2d, (2, 3), r"\(N, C, H, W\), got \(2, 3\)"),
    (BatchNorm2d, (2, 5, 4, 4), r"BatchNorm2d\(3\) expects input of shape \(N, C, H, W\) with C = 3, "
                                   r"got \(2, 5, 4, 4\)"),
    (BatchNorm1d, (2, 4), r"BatchNorm1d\(3\) expects .* with C = 3, got \(2, 4\)"),
])
def test_module_rejects_wrong_shapes(cls, shape, expected):
    bn = cls(3)
    with pytest.raises(ValueError, match=expected):
        bn(Tensor(np.ones(shape, np.float32)))
    assert int(bn.num_batches_tracked.data) == 0


@pytest.mark.parametrize("training", [True, False])
def test_channels_last_input_gives_the_same_values_and_keeps_its_layout(training):
    """conv2d's outputs are channels-last in memory; batch norm reads them as they are and answers alike."""
    from minigrad.ops.batchnorm import is_channels_last
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 6))
    x_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)   # same values, NHWC memory
    assert is_channels_last(x_last) and not is_channels_last(x)
    upstream, gamma, beta = rng.standard_normal(x.shape), rng.standard_normal(3), rng.standard_normal(3)
    results = []
    for data in (x, x_last):
        t = Tensor(data, requires_grad=True)
        w, b = Tensor(gamma, requires_grad=True), Tensor(beta, requires_grad=True)
        rm, rv = np.zeros(3), np.ones(3) + 0.5
        y = F.batch_norm(t, rm, rv, w, b, training=training)
        y.backward(upstream)
        results.append((y.data, t.grad, rm, rv))
    (y1, g1, m1, v1), (y2, g2, m2, v2) = results
    np.testing.assert_allclose(y2, y1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g2, g1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m2, m1, rtol=1e-12)
    np.testing.assert_allclose(v2, v1, rtol=1e-12)
    assert is_channels_last(y2)                                                   # the next conv reads it as is
