"""Tests for minigrad.nn: Module bookkeeping, saving and loading, and the layers (against PyTorch)."""

import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import metrics, nn
from minigrad.tensor import Tensor


def assert_close(actual, expected, rtol):
    """Elementwise rtol, plus an absolute floor of rtol * max|expected| for entries that cancel to ~0."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    atol = rtol * max(float(np.abs(expected).max()), 1e-30) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


class TwoLayer(nn.Module):
    def __init__(self, n_in=4, hidden=8, n_out=3):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))

    def forward(self, x):
        return self.net(x)


# ----------------------------------------------------------------------------- registration

def test_attribute_assignment_registers_parameters_modules_and_buffers():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.ones((2, 3), dtype=np.float32))
            self.child = nn.Linear(3, 2)
            self.plain = np.zeros(4)               # neither: just an attribute
            self.register_buffer("running", np.arange(3.0))

    m = M()
    assert list(m._parameters) == ["w"]
    assert list(m._modules) == ["child"]
    assert list(m._buffers) == ["running"]
    assert [n for n, _ in m.named_parameters()] == ["w", "child.weight", "child.bias"]
    assert [n for n, _ in m.named_buffers()] == ["running"]
    assert isinstance(m.running, Tensor) and np.array_equal(m.running.data, [0, 1, 2])
    assert "plain" not in m.state_dict()
    assert set(m.state_dict()) == {"w", "child.weight", "child.bias", "running"}


def test_reassigning_to_non_parameter_unregisters():
    m = nn.Linear(3, 2)
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert m.bias is None
    m.weight = np.zeros((2, 3))                     # an ndarray is not a Parameter
    assert list(m.named_parameters()) == []

    parent = TwoLayer()
    parent.net = "gone"
    assert list(parent.named_parameters()) == [] and list(parent._modules) == []

    # A name moves between registries when its kind changes.
    holder = nn.Module()
    holder.x = nn.Linear(2, 2)
    holder.x = nn.Parameter(np.zeros(3, dtype=np.float32))
    assert list(holder._modules) == [] and list(holder._parameters) == ["x"]


def test_assigning_a_tensor_to_a_buffer_name_keeps_it_a_buffer():
    m = nn.Module()
    m.register_buffer("running_mean", np.zeros(3, dtype=np.float32))
    m.running_mean = Tensor(np.ones(3, dtype=np.float32))     # as batch norm updates its statistics
    assert [n for n, _ in m.named_buffers()] == ["running_mean"]
    np.testing.assert_array_equal(m.state_dict()["running_mean"], np.ones(3))
    m.load_state_dict({"running_mean": np.full(3, 7.0, dtype=np.float32)})
    np.testing.assert_array_equal(m.running_mean.data, [7, 7, 7])


def test_forgetting_super_init_is_a_clear_attribute_error():
    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__\(\)") as info:
        Forgot()
    assert "Forgot" in str(info.value) and "fc" in str(info.value)


def test_named_parameters_use_dotted_names():
    names = [n for n, _ in TwoLayer().named_parameters()]
    assert names == ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"]
    assert [n for n, _ in TwoLayer().named_modules()] == ["", "net", "net.0", "net.1", "net.2"]


def test_shared_parameters_are_counted_once():
    shared = nn.Linear(4, 4)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    params = list(seq.parameters())
    assert len(params) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias"]
    assert "20 parameters" in repr(seq)

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 3, bias=False)
            self.b = nn.Linear(3, 3, bias=False)
            self.b.weight = self.a.weight

    assert [n for n, _ in Tied().named_parameters()] == ["a.weight"]
    assert metrics.count_parameters(Tied()) == 9

    # The shared weight receives the gradient of both uses.
    x = Tensor(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))
    seq(x).sum().backward()
    assert shared.weight.grad is not None and shared.weight.grad.shape == (4, 4)


def test_train_and_eval_propagate_to_children():
    model = TwoLayer()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not any(m.training for m in model.modules())


def test_module_zero_grad_clears_gradients():
    model = TwoLayer()
    model(Tensor(np.ones((2, 4), dtype=np.float32))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# ----------------------------------------------------------------------------- dropout

def test_dropout_is_identity_in_eval_mode():
    drop = nn.Dropout(0.5).eval()
    x = Tensor(np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32), requires_grad=True)
    y = drop(x)
    np.testing.assert_array_equal(y.data, x.data)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones_like(x.data))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_in_training_zeroes_about_p_and_rescales(p):
    mg.manual_seed(0)
    drop = nn.Dropout(p)
    assert drop.training
    x = Tensor(np.ones((200, 500), dtype=np.float32), requires_grad=True)
    y = drop(x)
    zeroed = float((y.data == 0).mean())
    assert abs(zeroed - p) < 0.01                         # 100,000 draws: std of the rate < 0.0016
    survivors = y.data[y.data != 0]
    np.testing.assert_allclose(survivors, 1 / (1 - p), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)         # same mask, same scale in backward


def test_dropout_rejects_bad_probability():
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="dropout probability"):
            nn.Dropout(p)


# ----------------------------------------------------------------------------- state_dict

def test_state_dict_returns_copies():
    model = TwoLayer()
    state = model.state_dict()
    before = model.net[0].weight.data.copy()
    state["net.0.weight"][...] = 123.0
    np.testing.assert_array_equal(model.net[0].weight.data, before)
    assert not np.shares_memory(state["net.0.weight"], model.net[0].weight.data)


def test_load_state_dict_round_trip():
    mg.manual_seed(1)
    source = TwoLayer()
    mg.manual_seed(2)
    target = TwoLayer()
    assert not np.array_equal(source.net[0].weight.data, target.net[0].weight.data)
    target.load_state_dict(source.state_dict())
    for (n1, p1), (n2, p2) in zip(source.named_parameters(), target.named_parameters()):
        assert n1 == n2 and p1.dtype == p2.dtype
        np.testing.assert_array_equal(p1.data, p2.data)
        assert not np.shares_memory(p1.data, p2.data)
    x = Tensor(np.random.default_rng(0).random((3, 4), dtype=np.float32))
    np.testing.assert_array_equal(source(x).data, target(x).data)

    # Loading copies: changing the dict afterwards does not reach the model.
    state = source.state_dict()
    target.load_state_dict(state)
    state["net.2.bias"][...] = 99.0
    assert not np.any(target.net[2].bias.data == 99.0)


def test_load_state_dict_keeps_the_models_dtype():
    model = TwoLayer()
    state = {k: v.astype(np.float64) for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_load_state_dict_with_another_architecture_names_key_and_shapes():
    small, big = TwoLayer(hidden=8), TwoLayer(hidden=16)
    with pytest.raises(ValueError) as info:
        small.load_state_dict(big.state_dict())
    message = str(info.value)
    assert "net.0.weight" in message
    assert "(16, 4)" in message and "(8, 4)" in message


def test_strict_loading_lists_missing_and_unexpected_keys():
    model = TwoLayer()
    state = model.state_dict()
    del state["net.2.bias"]
    state["net.5.weight"] = np.zeros(3, dtype=np.float32)
    with pytest.raises(KeyError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "missing" in message and "net.2.bias" in message
    assert "unexpected" in message and "net.5.weight" in message

    # strict=False loads what matches and ignores the rest.
    before = model.net[2].bias.data.copy()
    state["net.0.weight"] = np.full((8, 4), 0.5, dtype=np.float32)
    model.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(model.net[0].weight.data, 0.5)
    np.testing.assert_array_equal(model.net[2].bias.data, before)


# ----------------------------------------------------------------------------- repr

def test_repr_shows_shapes_and_parameter_count():
    model = TwoLayer(4, 8, 3)
    text = repr(model)
    total = 4 * 8 + 8 + 8 * 3 + 3
    assert f"{total:,} parameters" in text
    assert "weight (8, 4)" in text and "bias (8,)" in text
    assert "weight (3, 8)" in text and "bias (3,)" in text
    assert "in_features=4, out_features=8" in text
    assert "ReLU" in text
    big = repr(nn.Sequential(nn.Linear(1000, 1000)))
    assert "1,001,000 parameters" in big
    assert repr(nn.Parameter(np.zeros((2, 3), dtype=np.float32))) == "Parameter(shape=(2, 3), dtype=float32)"


# ----------------------------------------------------------------------------- Linear

@pytest.mark.parametrize("n_in,n_out", [(3, 5), (100, 20), (784, 64)])
def test_linear_default_init_within_pytorch_bounds(n_in, n_out):
    mg.manual_seed(0)
    layer = nn.Linear(n_in, n_out)
    bound = 1 / math.sqrt(n_in)
    assert layer.weight.shape == (n_out, n_in) and layer.bias.shape == (n_out,)
    assert layer.weight.dtype == np.float32
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.bias.data).max() <= bound
    if layer.weight.numel() > 10_000:   # U(-b, b): max close to b, std b / sqrt(3)
        assert np.abs(layer.weight.data).max() > 0.99 * bound
        assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.02 * bound / math.sqrt(3)


def test_linear_default_init_same_bounds_as_torch():
    torch = pytest.importorskip("torch")
    for n_in in (7, 300):
        t = torch.nn.Linear(n_in, 50)
        m = nn.Linear(n_in, 50)
        bound = 1 / math.sqrt(n_in)
        assert float(t.weight.detach().abs().max()) <= bound and np.abs(m.weight.data).max() <= bound
        assert float(t.bias.detach().abs().max()) <= bound and np.abs(m.bias.data).max() <= bound


def test_linear_without_bias_and_bad_sizes():
    layer = nn.Linear(4, 2, bias=False)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    x = np.ones((3, 4), dtype=np.float32)
    np.testing.assert_allclose(layer(Tensor(x)).data, x @ layer.weight.data.T, rtol=1e-6)
    with pytest.raises(ValueError):
        nn.Linear(0, 3)


def _torch_linear_copy(torch, layer):
    t = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float32)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(layer.weight.data))
        t.bias.copy_(torch.from_numpy(layer.bias.data))
    return t


@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 5), (5,)])
def test_linear_forward_backward_matches_torch(shape):
    torch = pytest.importorskip("torch")
    mg.manual_seed(3)
    layer = nn.Linear(5, 4)
    t_layer = _torch_linear_copy(torch, layer)
    rng = np.random.default_rng(0)
    x_np = rng.normal(size=shape).astype(np.float32)
    upstream = rng.normal(size=shape[:-1] + (4,)).astype(np.float32)

    x = Tensor(x_np, requires_grad=True)
    y = layer(x)
    y.backward(upstream)

    tx = torch.tensor(x_np, requires_grad=True)
    ty = t_layer(tx)
    ty.backward(torch.from_numpy(upstream))

    assert y.shape == tuple(ty.shape) and y.dtype == np.float32
    assert_close(y.data, ty.detach().numpy(), 1e-5)
    assert_close(x.grad, tx.grad.numpy(), 1e-5)
    assert_close(layer.weight.grad, t_layer.weight.grad.numpy(), 1e-5)
    assert_close(layer.bias.grad, t_layer.bias.grad.numpy(), 1e-5)


# ----------------------------------------------------------------------------- Sequential and others

def test_sequential_indexing_len_iter():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3
    assert seq[0] is a and seq[1] is b and seq[2] is c and seq[-1] is c
    assert list(seq) == [a, b, c]
    assert list(seq.children()) == [a, b, c]
    assert list(seq[0:2]) == [a, b] and isinstance(seq[0:2], mg.nn.Sequential)
    with pytest.raises(IndexError):
        seq[3]
    x = Tensor(np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32))
    np.testing.assert_array_equal(seq(x).data, c(b(a(x))).data)
    assert len(nn.Sequential()) == 0


def test_flatten_and_activation_modules():
    x = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 12)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    np.testing.assert_array_equal(nn.ReLU()(x).data, np.maximum(x.data, 0))
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x.data), rtol=1e-6)
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x.data)), rtol=1e-5, atol=1e-7)
    assert nn.Identity()(x) is x


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_module_matches_torch(reduction, label_smoothing):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(10, 5)) * 3
    target = rng.integers(0, 5, size=10)
    loss_fn = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=label_smoothing)
    assert f"reduction={reduction!r}" in repr(loss_fn)

    x = Tensor(logits, requires_grad=True)     # float64 end to end
    loss = loss_fn(x, target)
    tx = torch.tensor(logits, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(tx, torch.from_numpy(target), reduction=reduction,
                                              label_smoothing=label_smoothing)
    assert_close(loss.data, tloss.detach().numpy(), 1e-12)
    upstream = rng.normal(size=loss.shape)
    loss.backward(upstream)
    tloss.backward(torch.from_numpy(upstream))
    assert_close(x.grad, tx.grad.numpy(), 1e-12)

    # The module is exactly the functional form.
    np.testing.assert_array_equal(
        loss.data, F.cross_entropy(Tensor(logits), target, reduction, label_smoothing).data)


def test_cross_entropy_module_float32_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(32, 8)).astype(np.float32)
    target = rng.integers(0, 8, size=32)
    loss = nn.CrossEntropyLoss()(Tensor(logits), Tensor(target))   # target may also be a Tensor
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(target))
    assert loss.dtype == np.float32
    assert_close(loss.data, expected.numpy(), 1e-5)
