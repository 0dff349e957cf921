"""Finite-difference gradient checks (float64) beyond the op catalogue, and the checker itself.

Every op of ``minigrad.catalogue`` is gradchecked on drawn shapes and settings by tests/test_catalogue.py;
the tests here add the Tensor methods' argument forms (view, permute's orders, transpose, flatten, every
index form), Python scalars on either side, composite graphs, and the tests of gradcheck and its CLI.

``gradcheck`` compares y.backward(G) for a random upstream G with central differences of sum(G * f(x)),
element by element; see minigrad/gradcheck.py. The last part tests gradcheck itself and its command line.
"""

import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad
import minigrad.functional as F
from minigrad.autograd import Function
from minigrad.catalogue import CATALOGUE, Op
from minigrad.gradcheck import GradcheckError, gradcheck
from minigrad.ops.softmax import Softmax
from strategies import (dims, flatten_dims,
                        float_arrays, indices, nonzero_arrays, reshape_targets, shapes)

# ``minigrad.gradcheck`` may be the function (the package re-exports it under the module's name);
# the module itself, with main(), is always in sys.modules:
gc_module = importlib.import_module("minigrad.gradcheck")

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(fn, *inputs, **kwargs):
    """gradcheck, plus a sanity check that it compared something for every floating input."""
    result = gradcheck(fn, *inputs, **kwargs)
    n_float = sum(1 for x in inputs if np.asarray(x).dtype.kind == "f")
    assert result.passed and len(result.checks) == n_float
    for c in result.checks:
        assert c.analytic.shape == c.numeric.shape == np.shape(inputs[c.position])
    return result


# ----- elementwise ------------------------------------------------------------------------------------------





@SETTINGS
@given(data=st.data(), shape=shapes())
def test_scalar_operands(data, shape):
    """Python numbers on either side (reflected ops) are constants: only the tensor gets a gradient."""
    x = data.draw(nonzero_arrays(shape, margin=0.5))
    check(lambda t: 2.5 - t * 3.0 + 1.5 / t - t / 4.0 + 2.0 * t - (t + 1.0), x)










# ----- matmul and linear ------------------------------------------------------------------------------------





def test_linear_3d_input_with_bias():
    rng = np.random.default_rng(0)
    check(F.linear, rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5))


# ----- reductions -------------------------------------------------------------------------------------------





# ----- shape ops --------------------------------------------------------------------------------------------

@SETTINGS
@given(data=st.data(), shape=shapes())
def test_reshape(data, shape):
    target = data.draw(reshape_targets(shape))
    check(lambda t: t.reshape(target), data.draw(float_arrays(shape)))
    check(lambda t: t.view(*target), data.draw(float_arrays(shape)))


@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=4, max_side=3))
def test_permute(data, shape):
    order = data.draw(st.permutations(range(len(shape))))
    order = tuple(d - len(shape) if data.draw(st.booleans()) else d for d in order)
    x = data.draw(float_arrays(shape))
    check(lambda t: t.permute(order), x)
    check(lambda t: t.permute(*order), x)


@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=4, max_side=3))
def test_transpose_and_T(data, shape):
    d0, d1 = data.draw(dims(len(shape))), data.draw(dims(len(shape)))
    x = data.draw(float_arrays(shape))
    check(lambda t: t.transpose(d0, d1), x)
    check(lambda t: t.T, x)


@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=4, max_side=3))
def test_flatten(data, shape):
    start, end = data.draw(flatten_dims(len(shape)))
    x = data.draw(float_arrays(shape))
    check(lambda t: t.flatten(start, end), x)
    check(lambda t: F.flatten(t, start_dim=start, end_dim=end), x)


def test_flatten_0d():
    check(lambda t: t.flatten() * 2.0, np.array(1.5))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), shape=shapes(min_dims=0, max_dims=3, max_side=5))
def test_getitem(data, shape):
    index = data.draw(indices(shape))
    check(lambda t: t[index], data.draw(float_arrays(shape)))


@pytest.mark.parametrize("index", [
    (slice(None, None, 2), slice(3, 0, -1)),            # steps, negative too
    (np.array([0, 2, 0, 0]), slice(1, None)),           # repeats: gradients add up
    (Ellipsis, None, 1),                                # Ellipsis and a new axis
    (np.array([[1, 1], [3, 0]]), np.array([[0, 0], [2, 2]])),  # two broadcast int arrays with repeats
    np.array([True, False, True, True]),                # boolean mask on the first axis
    "full_mask",                                        # boolean mask over all elements
    "tensor_index",                                     # an integer Tensor as the index
])
def test_getitem_examples(index):
    x = np.random.default_rng(3).standard_normal((4, 4))
    if isinstance(index, str) and index == "full_mask":
        index = x > 0.2
    elif isinstance(index, str):
        index = minigrad.Tensor(np.array([3, 1, 3]))
    check(lambda t: t[index], x)


@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, max_side=3), count=st.integers(1, 3))
def test_cat(data, shape, count):
    dim = data.draw(dims(len(shape)))
    parts = []
    for _ in range(count):
        part_shape = list(shape)
        part_shape[dim] = data.draw(st.integers(1, 3))
        parts.append(data.draw(float_arrays(tuple(part_shape))))
    check(lambda *ts: minigrad.cat(list(ts), dim=dim), *parts)
    check(lambda *ts: F.cat(ts, dim=dim), *parts)




# ----- softmax, losses, dropout -----------------------------------------------------------------------------





def test_cross_entropy_label_tensor_and_full_smoothing():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((4, 3)), minigrad.Tensor(np.array([0, 2, 2, 1]))
    check(lambda t: F.cross_entropy(t, labels, label_smoothing=1.0), logits)
    check(lambda t: F.cross_entropy(t, labels, reduction="none"), logits)


@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=0), p=st.floats(0.05, 0.9), seed=st.integers(0, 1000))
def test_dropout(data, shape, p, seed):
    x = data.draw(float_arrays(shape))

    def fn(t):
        minigrad.manual_seed(seed)  # the same mask on every evaluation
        return F.dropout(t, p=p)
    result = check(fn, x)
    # the analytic gradient is G * mask / (1 - p): zero exactly where the mask dropped the element
    with minigrad.no_grad():
        kept = fn(minigrad.Tensor(np.ones(shape))).numpy() != 0
    assert np.all(result.checks[0].analytic[~kept] == 0)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_dropout_extreme_p(p):
    x = np.random.default_rng(0).standard_normal((3, 4))
    result = check(lambda t: F.dropout(t * 1.0, p=p), x)
    np.testing.assert_array_equal(result.checks[0].analytic == 0, p == 1.0)


def test_composite_graph():
    """A small network: linear -> tanh -> linear -> log_softmax, reusing a weight (gradient paths add)."""
    rng = np.random.default_rng(0)
    x, w1, b1, w2 = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5), \
        rng.standard_normal((2, 5))

    def net(x, w1, b1, w2):
        h = F.linear(x, w1, b1).tanh()
        return (h @ w2.T).log_softmax(-1) + (w1 * w1).sum()
    check(net, x, w1, b1, w2)


# ----- gradcheck itself -------------------------------------------------------------------------------------

class SquareWrongAtOneElement(Function):
    """y = x^2, whose backward is right everywhere except at element (1, 2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        dx = 2 * g * x
        dx[1, 2] += 0.5
        return dx


class SoftmaxWithColumnSumBug(Function):
    """Softmax whose backward subtracts the *mean* of g instead of sum_j g_j s_j.

    s * (g - mean(g)) is exact whenever g is constant along dim (then it and the true s * (g - sum g s)
    are both 0), so a check with an all-ones upstream gradient (or of sum(softmax)) cannot see the bug.
    """

    @staticmethod
    def forward(ctx, x, dim=-1):
        return Softmax.forward(ctx, x, dim=dim)

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved
        return s * (g - g.mean(axis=ctx.dim, keepdims=True))


def test_gradcheck_raises_naming_worst_element():
    x = np.random.default_rng(0).standard_normal((3, 4))
    with pytest.raises(GradcheckError, match=r"input 0, element \(1, 2\)") as info:
        gradcheck(SquareWrongAtOneElement.apply, x)
    assert "analytic" in str(info.value) and "numeric" in str(info.value)
    assert isinstance(info.value, AssertionError)

    result = gradcheck(SquareWrongAtOneElement.apply, x, raise_exception=False)
    assert not result.passed
    c = result.worst()
    assert c.worst_index == (1, 2) and c.worst_excess > 0
    upstream = np.random.default_rng(0).standard_normal((3, 4))  # gradcheck's default seed=0
    np.testing.assert_allclose(c.numeric, 2 * x * upstream, rtol=1e-6, atol=1e-8)  # the true gradient
    wrong = np.abs(c.analytic - c.numeric) > 1e-4
    assert wrong.sum() == 1 and wrong[1, 2]


def test_gradcheck_names_the_right_input():
    class GoodFirstBadSecond(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            a = ctx.inputs[0].data
            return g, g * a  # the true gradients are g * b and g * a

    a, b = np.ones((2, 2)), np.full((2, 2), 3.0)  # so the first is wrong (b != 1), the second right
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(GoodFirstBadSecond.apply, a, b)
    result = gradcheck(GoodFirstBadSecond.apply, a, b, raise_exception=False)
    assert [c.passed for c in result.checks] == [False, True]  # db = g * a = g is right when a == 1


def test_gradcheck_passes_integer_inputs_through_unchecked():
    labels = np.array([1, 0, 2])
    result = gradcheck(lambda t, y: F.cross_entropy(t, y), np.random.default_rng(0).standard_normal((3, 3)),
                       labels)
    assert result.passed and [c.position for c in result.checks] == [0]


def test_gradcheck_needs_a_differentiable_output():
    with pytest.raises(TypeError, match="Tensor"):
        gradcheck(lambda t: t.numpy(), np.ones(3))
    with minigrad.no_grad(), pytest.raises(TypeError):
        gradcheck(lambda t: t * 2.0, np.ones(3))


def test_random_upstream_catches_what_all_ones_misses():
    x = np.random.default_rng(0).standard_normal((3, 5))
    # The true gradient of sum(softmax(x)) is 0 (each row sums to 1 whatever x is): the bug agrees.
    gradcheck(lambda t: SoftmaxWithColumnSumBug.apply(t, dim=1).sum(), x)
    gradcheck(lambda t: SoftmaxWithColumnSumBug.apply(t, dim=1).sum(dim=1), x)
    out = SoftmaxWithColumnSumBug.apply(minigrad.Tensor(x, requires_grad=True), dim=1)
    leaf = out.grad_fn.inputs[0]
    out.backward(np.ones(x.shape))
    np.testing.assert_allclose(leaf.grad, 0, atol=1e-15)
    # A random upstream gradient sees it; the correct softmax passes the same check.
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: SoftmaxWithColumnSumBug.apply(t, dim=1), x)
    gradcheck(lambda t: t.softmax(1), x)


def test_broken_backward_of_diagonal_softmax_is_caught():
    class DiagonalSoftmax(SoftmaxWithColumnSumBug):
        @staticmethod
        def backward(ctx, g):
            (s,) = ctx.saved
            return g * s * (1 - s)  # forgets the off-diagonal Jacobian terms
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: DiagonalSoftmax.apply(t, dim=-1), np.random.default_rng(1).standard_normal((2, 4)))


def test_gradcheck_tolerances_are_applied():
    class SlightlyOff(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2 * (1 + 1e-4)  # a relative error of 1e-4
    x = np.random.default_rng(0).uniform(1, 2, (3,))
    assert gradcheck(SlightlyOff.apply, x, rtol=1e-3).passed
    with pytest.raises(GradcheckError):
        gradcheck(SlightlyOff.apply, x, atol=0, rtol=1e-6)


def test_gradcheck_does_not_modify_inputs():
    x = np.random.default_rng(0).standard_normal((2, 3))
    before = x.copy()
    gradcheck(lambda t: t.exp(), x)
    np.testing.assert_array_equal(x, before)


# ----- the command line -------------------------------------------------------------------------------------

def test_cli_matmul(capsys):
    assert gc_module.main(["matmul", "--shape", "2", "3"]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "(2, 3)" in out and "(3, 2)" in out


@pytest.mark.parametrize("op", sorted(CATALOGUE))
def test_cli_every_catalogue_op_passes(op, capsys):
    assert gc_module.main([op]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("PASSED") and "FAILED" not in out


@pytest.mark.parametrize("op", ["add", "softmax", "cross_entropy"])
def test_cli_other_shapes_and_seeds(op, capsys):
    assert gc_module.main([op, "--shape", "3", "2", "--seed", "7", "--show", "2"]) == 0
    assert "PASSED" in capsys.readouterr().out


def test_cli_unknown_op_lists_choices(capsys):
    with pytest.raises(SystemExit) as info:
        gc_module.main(["no_such_op"])
    assert info.value.code != 0
    err = capsys.readouterr().err
    assert "no_such_op" in err
    for name in CATALOGUE:
        assert name in err


def test_cli_list_and_bad_shape(capsys):
    assert gc_module.main(["--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == sorted(CATALOGUE)
    with pytest.raises(SystemExit):
        gc_module.main(["sum", "--shape", "0", "3"])
    assert "positive" in capsys.readouterr().err


def test_cli_reports_failure(monkeypatch, capsys):
    broken = Op("broken_square", (SquareWrongAtOneElement,), SquareWrongAtOneElement.apply, None,
                lambda rng, shape: [rng.standard_normal(shape)], (3, 4))
    monkeypatch.setitem(CATALOGUE, "broken_square", broken)
    assert gc_module.main(["broken_square"]) == 1
    out = capsys.readouterr().out
    assert "FAILED at input 0, element (1, 2)" in out and "<- worst" in out


def test_cli_settings(capsys):
    assert gc_module.main(["conv2d", "--set", "stride=2", "--set", "dilation=2", "--shape", "1", "2", "6", "6"]) == 0
    out = capsys.readouterr().out
    assert "'stride': 2" in out and "'dilation': 2" in out and "PASSED" in out
    for bad, says in [(["conv2d", "--set", "strides=2"], "no setting 'strides'"),
                      (["conv2d", "--set", "2"], "NAME=VALUE"),
                      (["conv2d", "--shape", "3", "4"], "not defined for shape (3, 4)")]:
        with pytest.raises(SystemExit):
            gc_module.main(bad)
        assert says in capsys.readouterr().err
