"""Tests for minigrad.optim: update rules against torch.optim, the numba Adam kernel, state and errors."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import nn, optim
from minigrad.checkpoint import load_checkpoint, save_checkpoint
from minigrad.kernels.adam import adam_update_numba, adam_update_reference
from minigrad.tensor import Tensor

N_IN, HIDDEN, N_OUT, BATCH, STEPS = 6, 10, 4, 12, 5


def make_mlp(dtype="float32", seed=0):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(N_IN, HIDDEN, dtype=dtype), nn.ReLU(), nn.Linear(HIDDEN, N_OUT, dtype=dtype))


def make_batches(dtype, steps=STEPS, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(BATCH, N_IN)).astype(dtype), rng.integers(0, N_OUT, size=BATCH))
            for _ in range(steps)]


def train_minigrad(model, opt, batches):
    for x, y in batches:
        opt.zero_grad()
        F.cross_entropy(model(Tensor(x)), y).backward()
        opt.step()


def torch_mirror(torch, model, dtype):
    tmodel = torch.nn.Sequential(torch.nn.Linear(N_IN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, N_OUT))
    tmodel = tmodel.to(dtype)
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    return tmodel


def train_torch(torch, tmodel, topt, batches):
    for x, y in batches:
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        topt.step()


def params_of(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


OPTIMIZERS = {
    "adam": (optim.Adam, "Adam", dict(lr=0.01)),
    "adam_betas_eps": (optim.Adam, "Adam", dict(lr=0.003, betas=(0.8, 0.99), eps=1e-6)),
    "adam_weight_decay": (optim.Adam, "Adam", dict(lr=0.01, weight_decay=0.1)),
    "adamw_default_decay": (optim.AdamW, "AdamW", dict(lr=0.01)),
    "adamw_weight_decay": (optim.AdamW, "AdamW", dict(lr=0.01, weight_decay=0.5)),
    "sgd": (optim.SGD, "SGD", dict(lr=0.1)),
    "sgd_momentum": (optim.SGD, "SGD", dict(lr=0.1, momentum=0.9)),
    "sgd_dampening": (optim.SGD, "SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    "sgd_nesterov": (optim.SGD, "SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    "sgd_weight_decay": (optim.SGD, "SGD", dict(lr=0.1, weight_decay=0.05)),
    "sgd_all": (optim.SGD, "SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.01, nesterov=True)),
}


@pytest.mark.parametrize("dtype,rtol", [("float32", 1e-5), ("float64", 1e-10)])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_five_steps_match_torch_optim(name, dtype, rtol):
    torch = pytest.importorskip("torch")
    cls, torch_name, kwargs = OPTIMIZERS[name]
    model = make_mlp(dtype)
    tdtype = torch.float32 if dtype == "float32" else torch.float64
    tmodel = torch_mirror(torch, model, tdtype)
    batches = make_batches(dtype)
    initial = params_of(model)

    train_minigrad(model, cls(model.parameters(), **kwargs), batches)
    train_torch(torch, tmodel, getattr(torch.optim, torch_name)(tmodel.parameters(), **kwargs), batches)

    expected = {k: v.detach().numpy() for k, v in tmodel.state_dict().items()}
    for key, value in params_of(model).items():
        assert value.dtype == np.dtype(dtype)
        assert not np.array_equal(value, initial[key]), f"{key} did not change"
        scale = np.abs(expected[key]).max()
        np.testing.assert_allclose(value, expected[key], rtol=rtol, atol=rtol * scale, err_msg=key)




# ----------------------------------------------------------------------------- the numba Adam kernel

@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adam_numba_kernel_equals_reference(dtype, rtol, decoupled, weight_decay):
    rng = np.random.default_rng(0)
    shape = (37, 53)                                  # odd sizes: no assumption about chunking
    p0 = rng.normal(size=shape).astype(dtype)
    arrays = {"ref": [p0.copy(), np.zeros(shape, dtype), np.zeros(shape, dtype)],
              "numba": [p0.copy(), np.zeros(shape, dtype), np.zeros(shape, dtype)]}
    for step in range(1, 8):
        g = (rng.normal(size=shape) * rng.choice([1e-3, 1.0, 10.0], size=shape)).astype(dtype)
        args = (0.01, 0.9, 0.999, 1e-8, step, weight_decay, decoupled)
        adam_update_reference(*arrays["ref"][:1], g, *arrays["ref"][1:], *args)
        adam_update_numba(*arrays["numba"][:1], g, *arrays["numba"][1:], *args)
        for name, ref, got in zip("pmv", arrays["ref"], arrays["numba"]):
            assert got.dtype == dtype and got.shape == shape
            # m can cancel to ~0 (its terms have both signs): an absolute floor at the array's scale.
            np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * np.abs(ref).max(),
                                       err_msg=f"{name} at step {step}")
    assert not np.array_equal(arrays["numba"][0], p0)


def test_adam_numba_kernel_accepts_a_non_contiguous_gradient():
    rng = np.random.default_rng(1)
    p = rng.normal(size=(6, 8))
    g = np.asfortranarray(rng.normal(size=(6, 8)))
    ref = [p.copy(), np.zeros_like(p), np.zeros_like(p)]
    got = [p.copy(), np.zeros_like(p), np.zeros_like(p)]
    adam_update_reference(ref[0], g, ref[1], ref[2], 0.01, 0.9, 0.999, 1e-8, 1, 0.0, False)
    adam_update_numba(got[0], g, got[1], got[2], 0.01, 0.9, 0.999, 1e-8, 1, 0.0, False)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_adam_entry_runs_the_reference_where_the_flat_loop_cannot():
    """The adam_update entry's ``fast``: numba's flat loop for C-contiguous p, m, v of one float dtype, the
    reference for other layouts (a transposed parameter) or dtypes; g may have any layout."""
    from minigrad.kernels.adam import adam_update
    p = np.zeros((4, 6))
    hyper = (0.01, 0.9, 0.999, 1e-8, 1, 0.0, False)
    assert adam_update.implementation(p, p.T.copy().T, p.copy(), p.copy(), *hyper) is adam_update_numba
    assert adam_update.implementation(p.T, p.T, p.T.copy(), p.T.copy(), *hyper) is adam_update_reference
    assert adam_update.implementation(p.T.copy(), p.T, p.T.copy(), np.asfortranarray(p.T), *hyper) \
        is adam_update_reference
    half = p.astype(np.float16)
    assert adam_update.implementation(half, half, half.copy(), half.copy(), *hyper) is adam_update_reference
    rng = np.random.default_rng(2)
    got = [rng.normal(size=(6, 4)).T, np.zeros((6, 4)).T, np.zeros((6, 4)).T]     # transposed: the reference
    ref = [a.copy() for a in got]
    g = rng.normal(size=(4, 6))
    adam_update(got[0], g, got[1], got[2], *hyper)
    adam_update_reference(ref[0], g, ref[1], ref[2], *hyper)
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("dtype,rtol", [("float32", 1e-6), ("float64", 1e-12)])
def test_optimizer_numpy_path_equals_numba_path(monkeypatch, cls, dtype, rtol):
    results = {}
    for flag in ("1", "0"):
        monkeypatch.setenv("MINIGRAD_NUMBA", flag)
        model = make_mlp(dtype)
        train_minigrad(model, cls(model.parameters(), lr=0.01, weight_decay=0.01), make_batches(dtype))
        results[flag] = params_of(model)
    for key in results["1"]:
        scale = np.abs(results["0"][key]).max()
        np.testing.assert_allclose(results["1"][key], results["0"][key], rtol=rtol, atol=rtol * scale,
                                   err_msg=key)


def test_numba_switch_selects_the_kernel(monkeypatch):
    from minigrad import kernels
    monkeypatch.setenv("MINIGRAD_NUMBA", "0")
    assert not kernels.enabled(np)
    monkeypatch.setenv("MINIGRAD_NUMBA", "1")
    assert kernels.enabled(np)
    monkeypatch.delenv("MINIGRAD_NUMBA")
    assert kernels.enabled(np)


# ----------------------------------------------------------------------------- gradients and state

@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW])
def test_zero_grad_sets_grads_to_none(cls):
    model = make_mlp()
    opt = cls(model.parameters(), lr=0.01)
    x, y = make_batches("float32", 1)[0]
    F.cross_entropy(model(Tensor(x)), y).backward()
    assert all(p.grad is not None for p in model.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("cls,kwargs", [(optim.SGD, dict(momentum=0.9)), (optim.SGD, {}),
                                        (optim.Adam, {}), (optim.AdamW, {})])
def test_parameters_without_grad_are_skipped(cls, kwargs):
    a = nn.Parameter(np.ones(3, dtype=np.float32))
    b = nn.Parameter(np.ones(3, dtype=np.float32))
    opt = cls([a, b], lr=0.1, **kwargs)
    a.grad = np.full(3, 0.5, dtype=np.float32)
    opt.step()
    opt.step()
    assert np.all(a.data < 1)
    np.testing.assert_array_equal(b.data, np.ones(3))     # untouched, even by AdamW's weight decay
    assert b not in opt.state


def test_param_groups_have_their_own_hyper_parameters():
    torch = pytest.importorskip("torch")
    model = make_mlp()
    tmodel = torch_mirror(torch, model, torch.float32)
    groups = [{"params": list(model[0].parameters()), "lr": 0.1}, {"params": list(model[2].parameters())}]
    tgroups = [{"params": list(tmodel[0].parameters()), "lr": 0.1}, {"params": list(tmodel[2].parameters())}]
    opt = optim.Adam(groups, lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    batches = make_batches("float32")
    train_minigrad(model, opt, batches)
    train_torch(torch, tmodel, torch.optim.Adam(tgroups, lr=0.01), batches)
    for key, value in params_of(model).items():
        expected = tmodel.state_dict()[key].numpy()
        np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("cls,kwargs", [
    (optim.Adam, dict(lr=0.01)), (optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True))])
def test_state_dict_round_trip_continues_identically(cls, kwargs, tmp_path):
    batches = make_batches("float32")

    straight = make_mlp()
    train_minigrad(straight, cls(straight.parameters(), **kwargs), batches)

    model = make_mlp()
    opt = cls(model.parameters(), **kwargs)
    train_minigrad(model, opt, batches[:3])
    save_checkpoint(tmp_path / "c.npz", {"model": model.state_dict(), "optimizer": opt.state_dict()})
    saved = load_checkpoint(tmp_path / "c.npz")

    fresh = make_mlp(seed=99)                               # different initial weights, overwritten by load
    fresh_opt = cls(fresh.parameters(), **{**kwargs, "lr": 123.0})   # lr restored from the state
    fresh.load_state_dict(saved["model"])
    fresh_opt.load_state_dict(saved["optimizer"])
    assert fresh_opt.param_groups[0]["lr"] == kwargs["lr"]
    train_minigrad(fresh, fresh_opt, batches[3:])

    for key, value in params_of(straight).items():
        assert np.array_equal(params_of(fresh)[key], value), key


def test_optimizer_state_dict_is_a_copy():
    model = make_mlp()
    opt = optim.Adam(model.parameters(), lr=0.01)
    train_minigrad(model, opt, make_batches("float32", 1))
    state = opt.state_dict()
    assert set(state) == {"state", "param_groups"}
    assert sorted(state["state"]) == [0, 1, 2, 3]
    assert state["state"][0]["step"] == 1
    state["state"][0]["exp_avg"][...] = 1e6
    assert np.abs(opt.state[model[0].weight]["exp_avg"]).max() < 1e6
    assert state["param_groups"][0]["params"] == [0, 1, 2, 3]


def test_optimizer_load_state_dict_rejects_another_layout():
    model = make_mlp()
    opt = optim.Adam(model.parameters())
    other = optim.Adam(model[0].parameters())
    with pytest.raises(ValueError, match="loaded state dict contains a parameter group that doesn't match the size"):
        other.load_state_dict(opt.state_dict())


# ----------------------------------------------------------------------------- argument checks

@pytest.mark.parametrize("make", [
    lambda ps: optim.Adam(ps, lr=-1.0),
    lambda ps: optim.Adam(ps, eps=-1e-8),
    lambda ps: optim.Adam(ps, weight_decay=-0.1),
    lambda ps: optim.Adam(ps, betas=(1.0, 0.999)),
    lambda ps: optim.Adam(ps, betas=(0.9, -0.1)),
    lambda ps: optim.AdamW(ps, lr=-0.01),
    lambda ps: optim.AdamW(ps, betas=(0.9, 1.5)),
    lambda ps: optim.SGD(ps, lr=-0.1),
    lambda ps: optim.SGD(ps, momentum=-0.9),
    lambda ps: optim.SGD(ps, weight_decay=-1.0),
    lambda ps: optim.SGD(ps, nesterov=True),                       # needs momentum
    lambda ps: optim.SGD(ps, momentum=0.9, dampening=0.1, nesterov=True),
])
def test_bad_hyper_parameters_raise_value_error(make):
    with pytest.raises(ValueError):
        make(make_mlp().parameters())


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW])
def test_empty_parameter_list_raises(cls):
    with pytest.raises(ValueError, match="empty parameter list"):
        cls([])


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW])
def test_parameter_not_requiring_grad_is_accepted_and_skipped_as_in_torch(cls):
    frozen = nn.Parameter(np.zeros((2, 3), dtype=np.float32), requires_grad=False)
    live = nn.Parameter(np.zeros(2, dtype=np.float32))
    opt = cls([live, frozen], lr=0.1)
    live.grad = np.ones(2, dtype=np.float32)
    opt.step()
    assert frozen.grad is None and frozen not in opt.state
    np.testing.assert_array_equal(frozen.numpy(), np.zeros((2, 3)))
    assert np.all(live.numpy() < 0)
