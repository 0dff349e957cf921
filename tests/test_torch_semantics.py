"""PyTorch names that mean what PyTorch means: max/min with a dim, Sequential from an OrderedDict, dims out of
range, integral settings of any type, and ``to`` given a dtype. Compared with torch itself where it can be.
"""

from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad
import minigrad.functional as F
from minigrad import Tensor, nn
from minigrad.gradcheck import gradcheck
from parity import DTYPES, assert_parity
from strategies import dims, distinct_arrays, float_arrays, reduce_dims, shapes

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def torch_error(call):
    """The message torch raises for ``call()``."""
    with pytest.raises(Exception) as info:
        call()
    return str(info.value)


# ----- 4. max / min ----------------------------------------------------------------------------------------

@DTYPES
@pytest.mark.parametrize("op", ["max", "min"])
@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=1), keepdim=st.booleans())
def test_max_min_with_dim_return_values_and_indices_as_torch(op, dtype, data, shape, keepdim):
    dim = data.draw(dims(len(shape)))
    x = data.draw(distinct_arrays(shape))
    result = getattr(Tensor(x.astype(dtype)), op)(dim=dim, keepdim=keepdim)
    expected = getattr(torch.tensor(x.astype(dtype)), op)(dim=dim, keepdim=keepdim)
    values, indices = result                               # unpacks into the pair, not into rows
    assert values is result.values and indices is result.indices
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    assert_parity(lambda t: getattr(t, op)(dim, keepdim).values,
                  lambda t: getattr(t, op)(dim, keepdim).values, [x], dtype)


@DTYPES
@pytest.mark.parametrize("op", ["amax", "amin"])
@SETTINGS
@given(data=st.data(), shape=shapes(), keepdim=st.booleans())
def test_amax_amin_as_torch(op, dtype, data, shape, keepdim):
    dim = data.draw(reduce_dims(len(shape)))
    x = data.draw(distinct_arrays(shape))
    t_dim = tuple(range(len(shape))) if dim is None else dim
    assert_parity(lambda t: getattr(t, op)(dim=dim, keepdim=keepdim),
                  lambda t: getattr(torch, op)(t, dim=t_dim, keepdim=keepdim), [x], dtype)


@DTYPES
@pytest.mark.parametrize("op", ["max", "min"])
def test_ties_without_dim_share_the_gradient_and_with_dim_only_the_index_gets_it(op, dtype):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]) * (1 if op == "max" else -1)
    assert_parity(lambda t: getattr(t, op)(), lambda t: getattr(t, op)(), [x], dtype)
    assert_parity(lambda t: getattr(t, "a" + op)(dim=1), lambda t: getattr(torch, "a" + op)(t, dim=1), [x], dtype)
    t = Tensor(x.astype(dtype), requires_grad=True)
    values, indices = getattr(t, op)(dim=1)
    values.sum().backward()
    expected = np.zeros_like(x)
    expected[np.arange(2), indices.numpy()] = 1.0
    np.testing.assert_array_equal(t.grad, expected)
    np.testing.assert_array_equal(indices.numpy(), [1, 0])           # the first among ties, as torch on CPU


@pytest.mark.parametrize("fn", [lambda t: t.max(dim=-1).values, lambda t: t.min(dim=0, keepdim=True).values,
                                lambda t: t.amin(dim=(0, 1)), lambda t: t.min()],
                         ids=["max-dim", "min-dim-keepdim", "amin-dims", "min"])
def test_gradcheck_max_min(fn):
    x = np.random.default_rng(3).permutation(12).reshape(3, 4) / 4.0     # distinct values: no ties
    assert gradcheck(fn, x).passed


@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=1), keepdim=st.booleans())
def test_argmax_argmin_as_torch(data, shape, keepdim):
    x = data.draw(distinct_arrays(shape))
    dim = data.draw(st.one_of(st.none(), dims(len(shape))))
    for op in ("argmax", "argmin"):
        ours = getattr(Tensor(x), op)(dim=dim, keepdim=keepdim) if dim is not None else getattr(Tensor(x), op)()
        theirs = getattr(torch.tensor(x), op)(dim=dim, keepdim=keepdim) if dim is not None \
            else getattr(torch.tensor(x), op)()
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_max_on_a_0d_tensor_with_dim_0():
    values, indices = Tensor(np.array(2.5)).max(dim=0)
    assert values.shape == () and values.item() == 2.5 and indices.item() == 0


def test_max_arguments_torch_does_not_take_raise():
    t = Tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="amax"):
        t.max(dim=(0, 1))
    with pytest.raises(TypeError, match="elementwise"):
        t.max(Tensor(np.ones(3)))
    with pytest.raises(TypeError, match="keepdim only with a dim"):
        t.min(keepdim=True)
    with pytest.raises(IndexError, match="non-zero size"):
        Tensor(np.ones((2, 0))).max(dim=1)


# ----- 3. Sequential ---------------------------------------------------------------------------------------

def test_sequential_from_an_ordered_dict_keeps_the_names_and_runs_as_torch():
    minigrad.manual_seed(0)
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU()), ("out", nn.Linear(3, 1))]))
    assert [n for n, _ in seq.named_parameters()] == ["fc.weight", "fc.bias", "out.weight", "out.bias"]
    assert len(seq) == 3 and seq[0] is seq.fc and seq[-1] is seq.out and list(seq) == [seq.fc, seq.act, seq.out]
    twin = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 3)), ("act", torch.nn.ReLU()),
                                            ("out", torch.nn.Linear(3, 1))])).double()
    twin.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in seq.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2))
    np.testing.assert_allclose(seq.to(np.float64)(Tensor(x)).numpy(), twin(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12)


def test_sequential_rejects_what_is_not_a_module():
    with pytest.raises(TypeError, match="dict is not a Module subclass"):
        nn.Sequential({"fc": nn.Linear(2, 3)})
    with pytest.raises(TypeError, match="function is not a Module subclass"):
        nn.Sequential(nn.Linear(2, 3), F.relu)
    with pytest.raises(KeyError, match="must not contain"):
        nn.Sequential(OrderedDict([("a.b", nn.ReLU())]))
    seq = nn.Sequential(nn.ReLU()).append(nn.Tanh())
    assert len(seq) == 2 and isinstance(seq[1], nn.Tanh)
    with pytest.raises(IndexError, match="out of range"):
        seq[2]


# ----- 8. dims out of range --------------------------------------------------------------------------------

@pytest.mark.parametrize("ours, theirs", [
    (lambda t: nn.Flatten(5)(t), lambda t: torch.nn.Flatten(5)(t)),
    (lambda t: t.flatten(-3), lambda t: t.flatten(-3)),
    (lambda t: t.flatten(0, 2), lambda t: t.flatten(0, 2)),
    (lambda t: t.permute(0, 5), lambda t: t.permute(0, 5)),
    (lambda t: t.transpose(0, 2), lambda t: t.transpose(0, 2)),
    (lambda t: t.sum(dim=2), lambda t: t.sum(dim=2)),
    (lambda t: t.max(dim=-3), lambda t: t.max(dim=-3)),
], ids=["Flatten(5)", "flatten(-3)", "flatten(0,2)", "permute", "transpose", "sum", "max"])
def test_dims_out_of_range_raise_torchs_index_error(ours, theirs):
    x = np.ones((2, 3))
    with pytest.raises(IndexError) as info:
        ours(Tensor(x))
    assert str(info.value) == torch_error(lambda: theirs(torch.tensor(x)))


def test_flatten_start_after_end_raises_as_torch():
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        Tensor(np.ones((2, 3, 4))).flatten(2, 1)


@SETTINGS
@given(data=st.data(), shape=shapes(max_dims=4, max_side=3), start=st.integers(-6, 6), end=st.integers(-6, 6))
def test_flatten_matches_torch_for_any_pair_of_dims(data, shape, start, end):
    """The same shape for a valid pair; the same error type and message for a dim out of range."""
    x = data.draw(float_arrays(shape))
    try:
        expected = tuple(torch.tensor(x).flatten(start, end).shape)
    except (IndexError, RuntimeError) as error:
        with pytest.raises(type(error)) as info:
            Tensor(x).flatten(start, end)
        if isinstance(error, IndexError):
            assert str(info.value) == str(error)
        return
    assert Tensor(x).flatten(start, end).shape == expected


# ----- 9. integral settings of any type --------------------------------------------------------------------

def test_numpy_integers_as_kernel_stride_and_padding():
    x = Tensor(np.random.default_rng(0).standard_normal((1, 2, 6, 6)))
    w = Tensor(np.random.default_rng(1).standard_normal((3, 2, 3, 3)))
    i = np.int64
    np.testing.assert_allclose(F.conv2d(x, w, stride=i(2), padding=(i(1), np.int32(1))).numpy(),
                               F.conv2d(x, w, stride=2, padding=1).numpy())
    conv = nn.Conv2d(2, 3, i(3), stride=i(2), padding=i(1), dilation=np.uint8(1))
    assert conv.kernel_size == (3, 3) and conv.stride == (2, 2) and type(conv.stride[0]) is int
    np.testing.assert_allclose(F.max_pool2d(x, i(2), stride=i(2)).numpy(), F.max_pool2d(x, 2, 2).numpy())
    np.testing.assert_allclose(nn.AvgPool2d(i(3), padding=i(1))(x).numpy(), F.avg_pool2d(x, 3, padding=1).numpy())


def test_non_integral_or_negative_settings_raise_a_clear_value_error():
    x, w = Tensor(np.ones((1, 1, 4, 4))), Tensor(np.ones((1, 1, 2, 2)))
    for bad in (True, 2.0, -1, (2, 2.5), (1, np.bool_(True)), "2", None, np.float64(2.0)):
        with pytest.raises(ValueError, match="stride must be"):
            F.conv2d(x, w, stride=bad)
        with pytest.raises(ValueError, match="max_pool2d: stride must be"):
            F.max_pool2d(x, 2, stride=bad if bad is not None else "x")


# ----- to(dtype) and other arguments read as PyTorch reads them --------------------------------------------

def test_to_takes_a_dtype_positionally_and_gradients_flow_back():
    w = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    w64 = w.to(np.float64)
    assert w64.dtype == np.float64 and not w64.is_leaf
    (w64 * w64).sum().backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(w.grad, [2.0, 4.0])
    assert w.double().dtype == np.float64 and w.to("float64").dtype == np.float64
    assert w.to("cpu", np.float64).dtype == np.float64 and w.to(Tensor(np.zeros(1))).dtype == np.float64
    assert w.to("cpu") is w and w.to(np.float32) is w
    ints = w.to(np.int64)
    assert ints.dtype == np.int64 and not ints.requires_grad


def test_to_rejects_what_it_cannot_read():
    t = Tensor([1.0])
    with pytest.raises(TypeError, match="expected a device .* got 3j"):
        t.to(3j)
    with pytest.raises(TypeError, match="got None"):
        t.to(None)
    with pytest.raises(TypeError, match="dtype twice"):
        t.to(np.float64, dtype=np.float32)
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        t.to(device="tpu")


def test_module_to_dtype_casts_floating_parameters_and_buffers_only():
    bn = nn.BatchNorm1d(3)
    assert bn.to(np.float64) is bn
    assert bn.weight.dtype == bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    with pytest.raises(TypeError, match="floating point"):
        bn.to(np.int64)


def test_cross_entropy_loss_with_class_weights_raises_at_construction():
    with pytest.raises(ValueError, match="per-class weights are not supported"):
        nn.CrossEntropyLoss(np.ones(3))
