"""The autograd engine and the Tensor's rules: graph walking, accumulation, no_grad, dtypes, error messages."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad
import minigrad.functional as F
from minigrad import Tensor
from minigrad.autograd import Function
from strategies import broadcast_pairs, float_arrays


def leaf(values, dtype=np.float64):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ----- walking the graph ------------------------------------------------------------------------------------

def test_deep_chain_backpropagates_without_recursion_error():
    x = leaf([0.5, -1.0])
    y, expected = x, x.numpy().copy()
    for i in range(5000):
        y, expected = (y * 1.0001, expected * 1.0001) if i % 2 else (y + 0.001, expected + 0.001)
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(x.grad, np.full(2, 1.0001 ** 2500), rtol=1e-10)
    del y  # freeing a deep graph must not blow the stack either


def test_deep_chain_of_unary_ops_and_reshapes():
    x = leaf(np.linspace(-1, 1, 6))
    y = x
    for _ in range(1700):  # 5100 ops
        y = y.reshape(2, 3).tanh().reshape(6) * 1.0
    y.backward(np.ones(6))
    assert x.grad.shape == (6,) and np.all(np.isfinite(x.grad)) and np.all(x.grad > 0)


def test_gradients_accumulate_and_reset():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0, 6.0])
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [5.0, 7.0, 9.0])
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0, 3.0])


def test_same_graph_backward_twice_with_retain_graph_accumulates():
    x = leaf([1.0, -2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * 2 * x.numpy())


def test_tensor_used_twice_gets_summed_gradient():
    x = leaf([1.0, 2.0, -3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.numpy())
    x.grad = None
    (x + x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0, 2.0])
    x.grad = None
    F.cat([x, x, x]).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0, 3.0])


def test_diamond_graph():
    #       x
    #     /   \
    #   a=2x  b=x^2
    #     \   /
    #   c = a*b = 2x^3   dc/dx = 6x^2
    x = leaf([1.5, -0.5])
    a, b = x * 2.0, x ** 2
    c = a * b
    c.backward(np.ones(2))
    np.testing.assert_allclose(x.grad, 6 * x.numpy() ** 2)


def test_diamond_with_shared_intermediate_and_two_leaves():
    x, w = leaf([[1.0, 2.0]]), leaf([[0.5], [-1.0]])
    h = x @ w                      # (1, 1), used by three paths
    out = (h * h + h.exp() + h).sum()
    out.backward()
    hv = (x.numpy() @ w.numpy()).item()
    dh = 2 * hv + np.exp(hv) + 1
    np.testing.assert_allclose(x.grad, dh * w.numpy().T)
    np.testing.assert_allclose(w.grad, dh * x.numpy().T)


def test_only_tensors_requiring_grad_get_grad():
    x, c = leaf([1.0, 2.0]), Tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])
    assert c.grad is None and not c.requires_grad


def test_leaf_gradients_are_independent_arrays():
    """a + b hands the same upstream array to both inputs; each leaf must still own its .grad."""
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    assert a.grad is not b.grad
    a.grad *= 10.0  # e.g. gradient clipping in place
    np.testing.assert_allclose(b.grad, [1.0, 1.0])

    x = leaf([1.0, 2.0])
    upstream = np.ones(2)
    (x + 0.0).backward(upstream)
    x.grad += 1.0
    np.testing.assert_allclose(upstream, [1.0, 1.0])  # the caller's array is not x.grad


def test_backward_returning_wrong_count_or_shape_raises():
    class TwoGrads(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum(keepdims=True)

    with pytest.raises(RuntimeError, match="TwoGrads.backward returned 2 gradients for 1 inputs"):
        TwoGrads.apply(leaf([1.0, 2.0])).sum().backward()
    with pytest.raises(RuntimeError, match=r"WrongShape.backward returned a gradient of shape \(1,\)"):
        WrongShape.apply(leaf([1.0, 2.0])).sum().backward()


# ----- no_grad, detach, retain_grad -------------------------------------------------------------------------

def test_no_grad_context_manager():
    x = leaf([1.0, 2.0])
    with minigrad.no_grad():
        assert not minigrad.is_grad_enabled()
        y = x * 2.0 + 1.0
    assert minigrad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_decorator():
    x = leaf([1.0, 2.0])

    @minigrad.no_grad()
    def evaluate(t):
        assert not minigrad.is_grad_enabled()
        return (t * t).sum()

    y = evaluate(x)
    assert not y.requires_grad and y.grad_fn is None
    assert minigrad.is_grad_enabled()
    z = (x * x).sum()  # recording is back on
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_restores_state_when_nested_reentered_or_raising():
    @minigrad.no_grad()
    def recurse(n):
        assert not minigrad.is_grad_enabled()
        return 0 if n == 0 else 1 + recurse(n - 1)

    assert recurse(3) == 3
    assert minigrad.is_grad_enabled()

    guard = minigrad.no_grad()
    with guard:
        with guard:
            assert not minigrad.is_grad_enabled()
        assert not minigrad.is_grad_enabled()
    assert minigrad.is_grad_enabled()

    with pytest.raises(ZeroDivisionError):
        with minigrad.no_grad():
            1 / 0
    assert minigrad.is_grad_enabled()


def test_detach_shares_data_and_blocks_gradient():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    d = y.detach()
    assert d.data is y.data and not d.requires_grad and d.grad_fn is None
    d.data[0] = 100.0
    assert y.numpy()[0] == 100.0
    (y * d).sum().backward()   # d is a constant: dy/dx * d only
    np.testing.assert_allclose(x.grad, 3.0 * np.array([100.0, 6.0]))


def test_retain_grad_on_intermediate():
    x = leaf([1.0, 2.0, 3.0])
    h = x * 2.0
    not_retained = h + 1.0
    assert h.retain_grad() is h
    loss = (h * not_retained).sum()
    loss.backward()
    # d loss / dh = (h + 1) + h
    np.testing.assert_allclose(h.grad, 2 * h.numpy() + 1)
    np.testing.assert_allclose(x.grad, 2 * (2 * h.numpy() + 1))
    assert not_retained.grad is None and not h.is_leaf


def test_requires_grad_propagates():
    a, b = leaf([1.0]), Tensor([2.0])
    assert (a * b).requires_grad and not (b * b).requires_grad
    assert (a * b).grad_fn is not None and (b * b).grad_fn is None


# ----- backward's argument ----------------------------------------------------------------------------------

def test_backward_non_scalar_without_grad_names_the_shape():
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        (leaf(np.ones((2, 3))) * 2.0).backward()


def test_backward_single_element_non_scalar_is_allowed():
    x = leaf([[2.0]])
    (x * x).backward()
    np.testing.assert_allclose(x.grad, [[4.0]])


def test_backward_with_wrong_grad_shape_raises():
    y = leaf(np.ones((2, 3))) * 2.0
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        y.backward(np.ones((3, 2)))


def test_backward_with_grad_list_and_tensor():
    x = leaf([1.0, 2.0])
    (x * 2.0).backward([1.0, -1.0])
    np.testing.assert_allclose(x.grad, [2.0, -2.0])
    x.grad = None
    (x * 2.0).backward(Tensor(np.array([3.0, 3.0])))
    np.testing.assert_allclose(x.grad, [6.0, 6.0])


def test_backward_on_tensor_not_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0, 2.0]).sum().backward()


# ----- dtypes -----------------------------------------------------------------------------------------------

def test_dtype_defaults():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(3.5).dtype == np.float32
    assert Tensor([[1, 2.5]]).dtype == np.float32
    assert Tensor(np.array([1.0, 2.0])).dtype == np.float64
    assert Tensor(np.array([1.0], dtype=np.float32)).dtype == np.float32
    assert Tensor([1, 2, 3]).dtype.kind == "i"
    assert Tensor(np.array([1, 2], dtype=np.uint8)).dtype == np.uint8
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert minigrad.tensor([1.0]).dtype == np.float32
    assert minigrad.zeros(2, 3).dtype == np.float32 and minigrad.ones((2, 3)).shape == (2, 3)


def test_requires_grad_on_integer_tensor_raises():
    with pytest.raises(TypeError, match="floating"):
        Tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        Tensor([1, 2, 3]).requires_grad_()


def test_scalar_arithmetic_keeps_float32():
    x = Tensor([1.0, 2.0], requires_grad=True)
    for y in (x * 2.0, 2.0 * x, x + 1, 1 - x, x / 3.0, 3.0 / x, x ** 2, x ** 0.5, -x, x.exp(), x.sigmoid(),
              x.mean(), x.softmax(0)):
        assert y.dtype == np.float32, y
    (x * 2.0).sum().backward()
    assert x.grad.dtype == np.float32


def test_float64_is_kept_through_ops_and_gradients():
    x = leaf([[1.0, 2.0]])
    y = ((x * 2.0) @ leaf([[1.0], [3.0]])).tanh().sum()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float64


def test_scalar_arithmetic_on_integer_tensors():
    t = Tensor([1, 2, 3])
    assert (t * 2).dtype.kind == "i"
    np.testing.assert_allclose((t * 2.5).numpy(), [2.5, 5.0, 7.5])  # a float is not truncated to int
    pixels = Tensor(np.array([0, 51, 255], dtype=np.uint8))
    np.testing.assert_allclose((pixels * (1 / 255)).numpy(), [0.0, 0.2, 1.0], rtol=1e-6)
    assert (pixels / 255.0).dtype == np.float32
    np.testing.assert_array_equal((t == 1.5).numpy(), [False, False, False])
    np.testing.assert_array_equal((t > 1.5).numpy(), [False, True, True])


def test_mixed_float_dtypes_give_a_float32_leaf_a_float32_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * np.array([2.0, 3.0])  # float64 array: NumPy promotes the product
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [2.0, 3.0])


# ----- operands that are not Tensors ------------------------------------------------------------------------

def test_reflected_ops_with_numpy_on_the_left():
    t = leaf([1.0, 2.0, 3.0])
    for result, expected in [(np.ones(3) * t, [1.0, 2.0, 3.0]), (np.ones(3) + t, [2.0, 3.0, 4.0]),
                             (np.ones(3) - t, [0.0, -1.0, -2.0]), (np.full(3, 6.0) / t, [6.0, 3.0, 2.0])]:
        assert isinstance(result, Tensor)
        assert result.requires_grad
        np.testing.assert_allclose(result.numpy(), expected)
    out = np.ones((2, 3)) @ t
    assert isinstance(out, Tensor) and out.shape == (2,)
    (np.full(3, 2.0) * t).sum().backward()
    np.testing.assert_allclose(t.grad, [2.0, 2.0, 2.0])


def test_lists_as_operands():
    t = leaf([1.0, 2.0])
    np.testing.assert_allclose((t + [1.0, 1.0]).numpy(), [2.0, 3.0])
    np.testing.assert_allclose(([3.0, 3.0] - t).numpy(), [2.0, 1.0])


# ----- broadcasting in backward -----------------------------------------------------------------------------

def test_gradient_is_summed_back_to_broadcast_shape():
    a, b = leaf(np.arange(3.0).reshape(3, 1)), leaf(np.arange(4.0))
    y = a + b
    assert y.shape == (3, 4)
    g = np.arange(12.0).reshape(3, 4)
    y.backward(g)
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(a.grad, g.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(b.grad, g.sum(axis=0))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), pair=broadcast_pairs(max_dims=4))
def test_broadcast_gradient_shapes_and_sums(data, pair):
    a, b = leaf(data.draw(float_arrays(pair[0]))), leaf(data.draw(float_arrays(pair[1])))
    y = a * b
    upstream = data.draw(float_arrays(y.shape))
    y.backward(upstream)
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    # brute force: every output element adds upstream * (the other factor) to the element of each input it
    # was broadcast from (trailing axes aligned, size-1 axes pinned to 0)
    expected_a, expected_b = np.zeros(a.shape), np.zeros(b.shape)
    for out_index in np.ndindex(*y.shape):
        def source(shape):
            tail = out_index[len(out_index) - len(shape):] if shape else ()
            return tuple(0 if n == 1 else i for i, n in zip(tail, shape))
        ia, ib = source(a.shape), source(b.shape)
        expected_a[ia] += upstream[out_index] * b.numpy()[ib]
        expected_b[ib] += upstream[out_index] * a.numpy()[ia]
    np.testing.assert_allclose(a.grad, expected_a, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad, expected_b, rtol=1e-10, atol=1e-12)


# ----- error messages ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 5)), ((2, 2, 3), (2, 4, 1)), ((3,), (4,)),
                                              ((2, 3), (4,)), ((3,), (4, 2))])
def test_matmul_shape_mismatch_names_both_shapes(shape_a, shape_b):
    with pytest.raises(ValueError) as info:
        Tensor(np.ones(shape_a)) @ Tensor(np.ones(shape_b))
    message = str(info.value)
    assert str(shape_a) in message and str(shape_b) in message


def test_linear_shape_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        F.linear(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5))))
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        F.linear(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3))), Tensor(np.ones(3)))


def test_cross_entropy_label_errors_name_what_was_expected():
    logits = Tensor(np.zeros((3, 4)), requires_grad=True)
    with pytest.raises(ValueError, match=r"\[0, 4\).*\[4\]"):
        F.cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"\[0, 4\).*-1"):
        F.cross_entropy(logits, np.array([0, -1, 1]))
    with pytest.raises(TypeError, match="integer class indices.*float"):
        F.cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(3, 1\)"):
        F.cross_entropy(logits, np.array([[0], [1], [2]]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        F.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        F.cross_entropy(Tensor(np.zeros(4)), np.array([0]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(logits, np.array([0, 1, 2]), label_smoothing=1.5)


def test_reshape_incompatible_size_names_the_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*6 elements.*\(4, 2\)"):
        Tensor(np.ones((2, 3))).reshape(4, 2)


def test_other_shape_errors():
    t = Tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match="out of range"):
        t.sum(dim=2)
    with pytest.raises(ValueError, match="permute"):
        t.permute(0, 0)
    with pytest.raises(ValueError, match="cat"):
        F.cat([t, Tensor(np.ones((2, 4)))], dim=0)
    with pytest.raises(ValueError, match="stack"):
        F.stack([t, Tensor(np.ones((3, 2)))])
    with pytest.raises(IndexError, match=r"\(2, 3\)"):
        t[5]
    with pytest.raises(TypeError, match="pow"):
        t ** t


def test_sum_to_scalar_then_grad_is_an_array():
    x = leaf(np.ones((2, 2)))
    s = x.sum()
    assert s.shape == () and s.item() == 4.0
    s.backward()
    assert isinstance(x.grad, np.ndarray) and x.grad.shape == (2, 2)


def test_a_gradient_handed_out_as_a_view_is_copied_before_it_becomes_a_grad():
    """Reshape gives its input a view of its upstream gradient; the leaf's .grad must own its memory."""
    a, b = leaf([[1.0, 2.0], [3.0, 4.0]]), leaf([1.0, 1.0, 1.0, 1.0])
    y = a.reshape(4) * b                          # a's gradient: a view (reshape) of b * upstream
    y.retain_grad()
    y.sum().backward()
    assert a.grad.base is None and not np.shares_memory(a.grad, y.grad)
    a.grad[...] = 0.0
    np.testing.assert_allclose(y.grad, [1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(b.grad, [1.0, 2.0, 3.0, 4.0])
