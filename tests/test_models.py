"""Tests for models/: the registry and Pinto & Silva's MLNN, checked against an identical PyTorch model."""

import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import metrics, nn, optim
from minigrad.tensor import Tensor
from models import create_model, list_models, model_info, register_model
from models.pinto_silva import MLNN, he_init, hidden_size

MLNN_PARAMETERS = 2352 * 1180 + 1180 + 1180 * 8 + 8     # 2,785,988


@pytest.fixture(scope="module")
def mlnn():
    mg.manual_seed(0)
    return create_model("mlnn")


def test_registry_lists_mlnn():
    assert "mlnn" in list_models()
    assert list_models() == sorted(list_models())
    info = model_info("mlnn")
    assert "Pinto" in info["paper"] and info["summary"]


def test_unknown_model_raises_key_error_listing_known_names():
    with pytest.raises(KeyError) as info:
        create_model("resnet9000")
    assert "resnet9000" in str(info.value) and "mlnn" in str(info.value)
    with pytest.raises(KeyError, match="mlnn"):
        model_info("nope")


def test_registering_a_name_twice_raises():
    with pytest.raises(ValueError, match="twice"):
        register_model("mlnn", "another paper")(lambda: None)


def test_mlnn_size_and_layout(mlnn):
    assert MLNN_PARAMETERS == 2_785_988
    assert metrics.count_parameters(mlnn) == MLNN_PARAMETERS
    assert sum(p.numel() for p in mlnn.parameters()) == MLNN_PARAMETERS
    assert hidden_size(3 * 28 * 28, 8) == 1180                     # eq. (1): (2352 + 8) / 2
    shapes = {n: p.shape for n, p in mlnn.named_parameters()}
    assert shapes == {"net.1.weight": (1180, 2352), "net.1.bias": (1180,),
                      "net.3.weight": (8, 1180), "net.3.bias": (8,)}
    assert [type(m).__name__ for m in mlnn.net] == ["Flatten", "Linear", "ReLU", "Linear"]
    assert all(p.dtype == np.float32 for p in mlnn.parameters())
    assert "2,785,988 parameters" in repr(mlnn)


def test_mlnn_options():
    model = MLNN(in_shape=(1, 4, 4), num_classes=3, hidden_layers=2)
    assert [p.shape for p in model.parameters()] == [(9, 16), (9,), (9, 9), (9,), (3, 9), (3,)]
    assert create_model("mlnn", num_classes=5, hidden=7).net[-1].weight.shape == (5, 7)


def test_mlnn_he_initialisation(mlnn):
    for layer in (mlnn.net[1], mlnn.net[3]):
        fan_in = layer.in_features
        w = layer.weight.data
        # He-normal: N(0, 2 / fan_in). The first layer has 2.8M samples, the second 9,440.
        tol = 0.01 if w.size > 1e6 else 0.04
        assert w.std() == pytest.approx(math.sqrt(2 / fan_in), rel=tol)
        assert abs(w.mean()) < 0.05 * math.sqrt(2 / fan_in)
        np.testing.assert_array_equal(layer.bias.data, 0)
    # Not the uniform Linear default (whose std would be 1 / sqrt(3 fan_in)).
    assert np.abs(mlnn.net[1].weight.data).max() > 1 / math.sqrt(2352)


def test_he_init_is_seeded():
    mg.manual_seed(5)
    a = MLNN(in_shape=(3, 4, 4), hidden=6)
    mg.manual_seed(5)
    b = MLNN(in_shape=(3, 4, 4), hidden=6)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert he_init(a) is a


# ----------------------------------------------------------------------------- parity with PyTorch

def torch_mlnn(torch, model, dtype):
    class TorchMLNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2352, 1180), torch.nn.ReLU(),
                                           torch.nn.Linear(1180, 8))

        def forward(self, x):
            return self.net(x)

    tmodel = TorchMLNN().to(dtype)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.state_dict().items()}
    tmodel.load_state_dict(state)     # strict: the parameter names match exactly
    return tmodel


def as_float64(model):
    """The same model with every floating parameter and buffer (batch norm's statistics) in float64."""
    for _, t in list(model.named_parameters()) + list(model.named_buffers()):
        if t.data.dtype.kind == "f":
            t.data = t.data.astype(np.float64)
    return model


def assert_close(actual, expected, rtol, name=""):
    """rtol elementwise, with an absolute floor of rtol * max|expected| for entries near 0 (sums that cancel)."""
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max(), err_msg=name)


def batch(dtype, n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 3, 28, 28)).astype(dtype), rng.integers(0, 8, size=n)


@pytest.mark.parametrize("dtype,rtol", [("float32", 1e-5), ("float64", 1e-10)])
def test_mlnn_forward_backward_match_torch(dtype, rtol):
    torch = pytest.importorskip("torch")
    mg.manual_seed(1)
    model = create_model("mlnn")
    if dtype == "float64":
        as_float64(model)
    tdtype = torch.float32 if dtype == "float32" else torch.float64
    tmodel = torch_mlnn(torch, model, tdtype)
    x, y = batch(dtype)

    logits = model(Tensor(x))
    loss = F.cross_entropy(logits, y)
    loss.backward()
    tlogits = tmodel(torch.from_numpy(x))
    tloss = torch.nn.functional.cross_entropy(tlogits, torch.from_numpy(y))
    tloss.backward()

    assert logits.shape == (16, 8) and logits.dtype == np.dtype(dtype) and loss.dtype == np.dtype(dtype)
    assert_close(logits.data, tlogits.detach().numpy(), rtol, "logits")
    assert loss.item() == pytest.approx(tloss.item(), rel=rtol)
    tgrads = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.dtype == np.dtype(dtype), name
        assert_close(p.grad, tgrads[name].grad.numpy(), rtol, name)


@pytest.mark.parametrize("dtype,rtol", [("float32", 1e-5), ("float64", 1e-10)])
def test_mlnn_adam_training_step_matches_torch(dtype, rtol):
    torch = pytest.importorskip("torch")
    mg.manual_seed(2)
    model = create_model("mlnn")
    if dtype == "float64":
        as_float64(model)
    tmodel = torch_mlnn(torch, model, torch.float32 if dtype == "float32" else torch.float64)
    before = model.state_dict()
    opt = optim.Adam(model.parameters(), lr=0.01)
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.01)

    x, y = batch(dtype, seed=10)
    opt.zero_grad()
    F.cross_entropy(model(Tensor(x)), y).backward()
    opt.step()
    topt.zero_grad()
    torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    topt.step()

    expected = {k: v.detach().numpy() for k, v in tmodel.state_dict().items()}
    tgrads = {k: v.grad.numpy() for k, v in tmodel.named_parameters()}
    for name, value in model.state_dict().items():
        assert value.dtype == np.dtype(dtype)
        assert not np.array_equal(value, before[name]), f"{name} did not change"
        # Adam's first step moves each weight by lr * g / (|g| + eps), at most lr.
        assert np.abs(value - before[name]).max() <= 0.01 * (1 + 1e-5)
        noise = np.zeros(value.shape, dtype=bool)
        if dtype == "float32":
            # Float32 sums of 16 terms carry an absolute error of about 1e-7 of the largest gradient, and
            # each framework sums in its own order. Adam's first step, lr * g / (|g| + 1e-8), amplifies that
            # error by 1e-8 / |g|, so where |g| < 1e-4 max|g| the two steps may differ by more than 1e-5
            # relative (seen: up to 1.2e-5 max|g|). Those entries are left out, and only they; dead ReLU
            # units (exact 0s) are kept.
            g = tgrads[name]
            noise = (g != 0) & (np.abs(g) < 1e-4 * np.abs(g).max())
            assert noise.mean() < 0.02, f"{name}: {noise.sum()} gradients in the noise"
        assert_close(value[~noise], expected[name][~noise], rtol, name)


# ----------------------------------------------------------------------------- the CNNs against PyTorch

def torch_twin_of(model, name, dtype):
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from torch_twins import torch_twin
    import torch
    return torch_twin(name, model.state_dict(), dtype=torch.float64 if dtype == "float64" else torch.float32,
                      num_classes=num_classes_of(model))


def num_classes_of(model):
    """The width of the model's last linear layer."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features


# Models without dropout train in training mode (batch norm on batch statistics); those with dropout are
# compared in eval mode, where dropout is the identity and batch norm uses its running statistics.
NO_DROPOUT = {"cnn", "gounder_cnn", "simple_cnn", "unet_no_dropout"}


@pytest.mark.parametrize("name", ["cnn", "gounder_cnn", "dclnn", "dclnn_avg", "simple_cnn", "deep_cnn",
                                  "unet_encoder", "unet_no_bn", "unet_shallow", "unet_no_dropout", "cnn_lstm",
                                  "cnn_gru"])
@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-4), ("float64", 1e-9)])
def test_cnn_training_step_matches_torch(name, dtype, rtol):
    """One full Adam step (forward, loss, backward, update) of each CNN equals PyTorch's, gradients included."""
    torch = pytest.importorskip("torch")
    mg.manual_seed(3)
    model = create_model(name)
    if dtype == "float64":
        as_float64(model)
    twin = torch_twin_of(model, name, dtype)
    training = name in NO_DROPOUT
    model.train(training)
    twin.train(training)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    topt = torch.optim.Adam(twin.parameters(), lr=1e-3)
    x, y = batch(dtype, n=8, seed=4)
    y = y % num_classes_of(model)

    opt.zero_grad()
    loss = F.cross_entropy(model(Tensor(x)), y)
    loss.backward()
    topt.zero_grad()
    tloss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y))
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=rtol)
    tgrads = {k: v.grad.numpy() for k, v in twin.named_parameters()}
    # Some gradients are exactly 0 in exact arithmetic and rounding noise here (a bias before a train-mode
    # batch norm that cancels any constant shift): the absolute floor is rtol times the largest gradient.
    scale = max(np.abs(g).max() for g in tgrads.values())
    for pname, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, tgrads[pname], rtol=rtol, atol=rtol * scale, err_msg=pname)

    opt.step()
    topt.step()
    if dtype == "float64":                                 # float32 steps: see the MLNN test on Adam's noise
        expected = {k: v.detach().numpy() for k, v in twin.state_dict().items()}
        scale = max(np.abs(v).max() for v in expected.values())
        for pname, value in model.state_dict().items():      # weights, and batch norm's running statistics
            np.testing.assert_allclose(value, expected[pname], rtol=rtol, atol=rtol * scale, err_msg=pname)
