"""Autograd cannot answer wrongly: version counters, read-only saved arrays, the graph freed by backward,
in-place operators that mutate (as in PyTorch), per-thread grad mode, and one dtype check at every op's entry.

Each test reproduces a wrong answer the engine used to give silently and checks that it now gives the
right result or one clear error (PyTorch's message where PyTorch has one).
"""

import gc
import operator
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad
import minigrad.functional as F
from minigrad import Tensor, nn
from strategies import float_arrays, shapes

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LEAF_MESSAGE = "a leaf Variable that requires grad is being used in an in-place operation."
FREED_MESSAGE = ("Trying to backward through the graph a second time (or directly access saved tensors after they "
                 "have already been freed). Saved intermediate values of the graph are freed when you call "
                 ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
                 "graph a second time or if you need to access saved tensors after calling backward.")


def leaf(values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


# ----- 1. writes through .data while a graph holds the array -------------------------------------------------

def test_writing_through_data_while_a_graph_holds_it_raises_and_backward_stays_right():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    shifted = x + 1.0                     # Add saves nothing: x's array is not held yet
    assert x.data is x._data and shifted.data is shifted._data
    y = (x * x).sum()
    with pytest.raises(ValueError, match="read-only"):
        x.data[:] = 10
    with pytest.raises(ValueError, match="read-only"):
        x.data *= 2
    y.backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0, 6.0])
    x.data[:] = 10                       # the graph is freed: the array is writable again
    np.testing.assert_allclose(x.numpy(), [10.0, 10.0, 10.0])


def test_the_hold_ends_when_the_graph_is_garbage_collected():
    x = leaf([1.0, 2.0])
    y = x.exp()                           # Exp saves its output, Mul below saves x
    z = x * 3.0
    assert not x.data.flags.writeable and not y.data.flags.writeable
    del z
    gc.collect()
    assert x.data.flags.writeable and x.data is x._data
    assert not y.data.flags.writeable
    del y
    assert x.data.flags.writeable


def test_augmented_assignment_through_data_counts_as_an_in_place_change():
    t = Tensor([1.0, 2.0])
    t.data += 1                           # t.data.__iadd__, then the data setter with the same array
    assert t._version == 1
    np.testing.assert_allclose(t.numpy(), [2.0, 3.0])


# ----- version counters ------------------------------------------------------------------------------------

def test_in_place_change_of_a_saved_input_raises_pytorchs_message():
    w = leaf([1.0, 2.0, 3.0])
    x = Tensor(np.array([4.0, 5.0, 6.0]))
    y = (w * x).sum()
    x += 1
    assert x._version == 1
    expected = ("one of the variables needed for gradient computation has been modified by an inplace "
                "operation: input 1 of MulBackward, of shape (3,), is at version 1; expected version 0 instead.")
    with pytest.raises(RuntimeError) as info:
        y.backward()
    assert str(info.value) == expected


def test_in_place_change_of_a_saved_output_raises():
    x = leaf([1.0, -2.0])
    y = x.relu()
    with minigrad.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match=r"output 0 of ReLUBackward, of shape \(2,\), is at version 1; "
                                           r"expected version 0"):
        y.sum().backward()


def test_library_writers_bump_the_version():
    x = Tensor(np.ones(3))
    w = leaf([1.0, 2.0, 3.0])
    y = (w * x).sum()
    nn.init.normal_(x)                    # writes x's array in place
    assert x._version == 1
    with pytest.raises(RuntimeError, match="input 1 of MulBackward"):
        y.backward()


def test_views_share_one_version_counter():
    base = Tensor(np.arange(6.0))
    views = [base.detach(), base.reshape(2, 3), base[1:4], base.reshape(3, 2).permute(1, 0)]
    copy = base[np.array([0, 1])]          # an index array copies: its own counter
    for view in views:
        view += 1
    assert base._version == len(views) and all(v._version == len(views) for v in views)
    assert copy._version == 0
    np.testing.assert_allclose(base.numpy(), np.arange(6.0) + [3, 4, 4, 4, 3, 3])


def test_a_change_through_a_view_is_seen_by_the_graph_of_the_base():
    w = leaf([1.0, 2.0])
    x = Tensor(np.array([3.0, 4.0]))
    y = (w * x).sum()
    x.detach()[0] = 100.0                 # __setitem__ on a view that shares x's memory and counter
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("change", [
    lambda t: t.zero_(), lambda t: t.fill_(2.0), lambda t: t.copy_(np.ones(3)), lambda t: t.add_(1.0),
    lambda t: t.sub_(1.0, alpha=2), lambda t: t.mul_(2.0), lambda t: t.div_(2.0),
    lambda t: t.__setitem__(0, 5.0),
], ids=["zero_", "fill_", "copy_", "add_", "sub_", "mul_", "div_", "setitem"])
def test_every_in_place_method_writes_in_place_and_bumps(change):
    t = Tensor(np.array([1.0, 2.0, 3.0]))
    alias, array = t, t._data
    change(t)
    assert t._data is array and alias._version == 1


@pytest.mark.parametrize("change", [lambda t: t.zero_(), lambda t: t.fill_(1.0), lambda t: t.copy_(np.ones(2)),
                                    lambda t: t.__setitem__(0, 1.0), lambda t: t.add_(1.0)])
def test_in_place_methods_on_a_leaf_that_requires_grad_raise_pytorchs_error(change):
    p = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError) as info:
        change(p)
    assert str(info.value) == LEAF_MESSAGE
    with minigrad.no_grad():
        change(p)
    assert p._version == 1


def test_overwriting_a_non_leaf_in_a_graph_raises_not_a_wrong_gradient():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(NotImplementedError, match="zero_"):
        y.zero_()
    with pytest.raises(NotImplementedError, match="copy_"):
        Tensor(np.zeros(2)).copy_(y)


# ----- 2. the graph is freed by backward -------------------------------------------------------------------

def test_backward_twice_raises_instead_of_doubling():
    x = leaf([1.0, -2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    assert str(info.value) == FREED_MESSAGE
    np.testing.assert_allclose(x.grad, 2 * x.numpy())


def test_a_second_graph_through_a_freed_part_raises():
    x = leaf([1.0, 2.0])
    h = x * x
    (h * 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        (h + 1.0).sum().backward()


def test_retain_graph_keeps_it_and_a_second_backward_accumulates_as_torch():
    values = np.array([1.0, -2.0, 0.5])
    x, tx = leaf(values), torch.tensor(values, requires_grad=True)
    y, ty = (x * x.exp()).sum(), (tx * tx.exp()).sum()
    y.backward(retain_graph=True)
    ty.backward(retain_graph=True)
    y.backward()
    ty.backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_saved_arrays_are_released_after_backward():
    x = leaf([1.0, 2.0])
    y = x * x
    ctx = y.grad_fn
    y.sum().backward()
    assert ctx.freed and ctx.watched == ()
    with pytest.raises(RuntimeError, match="already been freed"):
        ctx.saved
    assert x.data.flags.writeable


def test_create_graph_is_refused_by_name():
    y = (leaf([1.0]) * 2.0).sum()
    with pytest.raises(NotImplementedError, match="create_graph"):
        y.backward(create_graph=True)


def test_backward_takes_pytorchs_gradient_argument():
    x = leaf([1.0, 2.0])
    (x * 3.0).backward(gradient=np.array([1.0, -1.0]))
    np.testing.assert_allclose(x.grad, [3.0, -3.0])


# ----- 5. in-place operators mutate ------------------------------------------------------------------------

@pytest.mark.parametrize("op, expected", [(operator.iadd, [3.0, 4.0]), (operator.isub, [-1.0, 0.0]),
                                          (operator.imul, [2.0, 4.0]), (operator.itruediv, [0.5, 1.0])])
def test_augmented_operators_mutate_the_shared_tensor(op, expected):
    a = Tensor([1.0, 2.0])
    array = a._data
    b = op(a, 2.0)                                   # what ``b = a; b += 2.0`` runs
    assert b is a
    np.testing.assert_allclose(a.numpy(), expected)
    assert a._data is array and a._version == 1 and a.dtype == np.float32


def test_augmented_operator_on_a_leaf_that_requires_grad():
    p = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError) as info:
        p += 1
    assert str(info.value) == LEAF_MESSAGE
    with minigrad.no_grad():
        p -= 0.5                              # an optimizer-style update
    np.testing.assert_allclose(p.numpy(), [0.5, 1.5])
    assert p.is_leaf and p.requires_grad and p._version == 1


def test_augmented_operators_check_shape_and_dtype_as_torch():
    t = Tensor(np.zeros(3))
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
        t += np.ones((2, 3))
    ints = Tensor(np.array([1, 2]))
    with pytest.raises(RuntimeError, match="result type float.* can't be cast to the desired output type int64"):
        ints /= 2
    ints += 1
    np.testing.assert_array_equal(ints.numpy(), [2, 3])


@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=1))
def test_in_place_on_a_non_leaf_gives_torchs_gradients(data, shape):
    """y = x * c; y += x; y *= w; y -= 1; y /= c  — every step in place, gradients of x and w as torch's."""
    xv, wv = data.draw(float_arrays(shape)), data.draw(float_arrays(shape))
    c = data.draw(float_arrays(shape, low=0.5, high=2.0))
    x, w = leaf(xv), leaf(wv)
    tx, tw = torch.tensor(xv, requires_grad=True), torch.tensor(wv, requires_grad=True)
    tc = torch.tensor(c)
    for a, b, cc in ((x, w, c), (tx, tw, tc)):
        y = a * cc
        first = y
        y += a
        y *= b
        y -= 1.0
        y /= cc
        assert y is first                  # one tensor changed in place, not five
        (y * y).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_a_plain_tensor_plus_a_tensor_requiring_grad_in_place_joins_the_graph():
    w = leaf([1.0, 2.0])
    acc = Tensor(np.zeros(2))
    alias = acc
    acc += w * 3.0
    assert alias is acc and acc.requires_grad and not acc.is_leaf
    acc.sum().backward()
    np.testing.assert_allclose(w.grad, [3.0, 3.0])


def test_in_place_after_another_op_used_the_old_value_raises():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    z = y + 0.0                            # reads y before the change; Add saves nothing
    y *= 3.0
    with pytest.raises(RuntimeError, match="input 0 of AddBackward.*changed by an in-place operation"):
        (z + y).sum().backward()


# ----- 6. grad mode is per thread --------------------------------------------------------------------------

def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    entered, release = threading.Event(), threading.Event()
    seen = {}

    def evaluate():
        with minigrad.no_grad():
            entered.set()
            release.wait(10)
            seen["inside"] = minigrad.is_grad_enabled()
        seen["after"] = minigrad.is_grad_enabled()

    worker = threading.Thread(target=evaluate)
    worker.start()
    assert entered.wait(10)
    try:
        assert minigrad.is_grad_enabled()
        y = leaf([1.0]) * 2.0
        assert y.requires_grad and y.grad_fn is not None
    finally:
        release.set()
        worker.join(10)
    assert seen == {"inside": False, "after": True}


def test_one_decorated_function_in_two_threads_restores_each_threads_mode():
    barrier = threading.Barrier(2)
    results = []

    @minigrad.no_grad()
    def work():
        barrier.wait(10)                   # both threads are inside the same decorator instance at once
        return minigrad.is_grad_enabled()

    def run():
        results.append((work(), minigrad.is_grad_enabled()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [(False, True), (False, True)]
    assert minigrad.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with minigrad.no_grad():
        with minigrad.enable_grad():
            assert (x * 2.0).requires_grad
        assert not (x * 2.0).requires_grad
    assert minigrad.is_grad_enabled()


# ----- 7. one dtype check at every op's entry --------------------------------------------------------------

HALF = np.float16
FLOAT_OPS = {
    "linear": lambda x: F.linear(x, Tensor(np.ones((2, 3), HALF))),
    "conv2d": lambda x: F.conv2d(x.reshape(1, 1, 1, 3), Tensor(np.ones((1, 1, 1, 1), HALF))),
    "max_pool2d": lambda x: F.max_pool2d(x.reshape(1, 1, 1, 3), 1),
    "avg_pool2d": lambda x: F.avg_pool2d(x.reshape(1, 1, 1, 3), 1),
    "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x.reshape(1, 1, 1, 3), 1),
    "batch_norm": lambda x: F.batch_norm(x.reshape(3, 1), None, None, training=True),
    "softmax": lambda x: F.softmax(x, 0),
    "log_softmax": lambda x: F.log_softmax(x, 0),
    "cross_entropy": lambda x: F.cross_entropy(x.reshape(1, 3), np.array([0])),
    "dropout": lambda x: F.dropout(x, 0.5),
    "exp": lambda x: x.exp(),
    "mean": lambda x: x.mean(),
    "add": lambda x: x + 1,
    "mul": lambda x: x * x,
    "matmul": lambda x: x @ x,
    "amax": lambda x: x.amax(),
    "relu": lambda x: x.relu(),
}


@pytest.mark.parametrize("name", sorted(FLOAT_OPS))
def test_float16_is_refused_at_the_ops_entry_naming_op_and_dtype(name):
    x = Tensor(np.ones(3, HALF))
    message = rf"^{name}: expected float32(, | or )float64( or integer)? input, got float16$"
    with pytest.raises(TypeError, match=message):
        FLOAT_OPS[name](x)


def test_float16_layers_raise_instead_of_returning_float32():
    with pytest.raises(TypeError, match="^linear: expected float32 or float64 input, got float16$"):
        nn.Linear(3, 2)(Tensor(np.ones((1, 3), HALF)))
    with pytest.raises(TypeError, match="LSTM: expected float32 or float64 input, got float16"):
        nn.LSTM(3, 2)(Tensor(np.ones((2, 1, 3), HALF)))


@pytest.mark.parametrize("name, call", [
    ("exp", lambda x: x.exp()), ("linear", lambda x: F.linear(x, Tensor(np.ones((2, 3))))),
    ("softmax", lambda x: F.softmax(x, 0)), ("mean", lambda x: x.mean()),
    ("max_pool2d", lambda x: F.max_pool2d(x.reshape(1, 1, 1, 3), 1)),
])
def test_integers_where_floats_are_needed_raise(name, call):
    with pytest.raises(TypeError, match=f"^{name}: expected float32 or float64 input, got int64$"):
        call(Tensor(np.array([1, 2, 3])))


def test_integers_stay_fine_where_they_mean_something():
    t = Tensor(np.array([[3, 1], [2, 5]]))
    assert (t + 1).dtype.kind == "i" and (t * t).sum().item() == 39 and (t @ t).dtype.kind == "i"
    assert t[0, 1].item() == 1 and t.reshape(4).shape == (4,) and (t > 2).dtype == bool
    assert t.amax().item() == 5 and t.max(dim=1).indices.tolist() == [0, 1]
    loss = F.cross_entropy(Tensor(np.zeros((2, 3)), requires_grad=True), Tensor(np.array([0, 2])))
    assert loss.dtype == np.float64
    assert Tensor(np.ones(3, HALF)).to(np.float32).exp().dtype == np.float32   # casting out is the way in
