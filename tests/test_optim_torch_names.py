"""PyTorch's optimizer idioms on minigrad.optim, run beside torch.optim (CPU) and compared number for number:

MultiStepLR and ExponentialLR, Adam/AdamW with amsgrad=True, zero_grad(set_to_none=...), add_param_group,
frozen parameters (requires_grad False), and PyTorch's keyword arguments minigrad refuses.
"""

import inspect
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import nn, optim
from minigrad.checkpoint import load_checkpoint, save_checkpoint
from minigrad.errors import SettingsError
from minigrad.optim.lr_scheduler import ExponentialLR, MultiStepLR
from minigrad.tensor import Tensor

torch = pytest.importorskip("torch")

N_IN, HIDDEN, N_OUT, BATCH = 5, 8, 3, 10
RTOL = {"float64": 1e-10, "float32": 1e-5}


def make_mlp(dtype="float64", seed=0):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(N_IN, HIDDEN, dtype=dtype), nn.ReLU(), nn.Linear(HIDDEN, N_OUT, dtype=dtype))


def torch_twin(model, dtype="float64"):
    twin = torch.nn.Sequential(torch.nn.Linear(N_IN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, N_OUT))
    twin = twin.to(getattr(torch, dtype))
    twin.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    return twin


def batches(dtype="float64", steps=6, seed=1, shrink=1.0):
    """Random batches; the inputs of batch k scaled by shrink**k (shrink < 1: gradients shrink, so Adam's
    second moment falls and AMSGrad's maximum differs from it)."""
    rng = np.random.default_rng(seed)
    return [(((shrink ** k) * rng.normal(size=(BATCH, N_IN))).astype(dtype), rng.integers(0, N_OUT, size=BATCH))
            for k in range(steps)]


def step_minigrad(model, opt, x, y):
    opt.zero_grad()
    F.cross_entropy(model(Tensor(x)), y).backward()
    opt.step()


def step_torch(twin, topt, x, y):
    topt.zero_grad()
    torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    topt.step()


def assert_same_weights(model, twin, rtol):
    expected = {k: v.detach().numpy() for k, v in twin.state_dict().items()}
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(value, expected[key], rtol=rtol, atol=rtol * np.abs(expected[key]).max(),
                                   err_msg=key)


def param(*shape, value=1.0):
    return nn.Parameter(np.full(shape, value, dtype=np.float64))


def frozen_param(*shape, value=1.0):
    """A parameter frozen as ``model.requires_grad_(False)`` would freeze it."""
    p = param(*shape, value=value)
    p.requires_grad = False
    return p


# ----- MultiStepLR and ExponentialLR ---------------------------------------------------------------------------

SCHEDULES = {
    "multistep": (lambda o: MultiStepLR(o, milestones=[5, 2, 9, 5], gamma=0.5),
                  lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[5, 2, 9, 5], gamma=0.5)),
    "multistep_default_gamma": (lambda o: MultiStepLR(o, [3, 7]),
                                lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [3, 7])),
    "multistep_tuple": (lambda o: MultiStepLR(o, (1, 4), gamma=0.3),
                        lambda o: torch.optim.lr_scheduler.MultiStepLR(o, (1, 4), gamma=0.3)),
    "exponential": (lambda o: ExponentialLR(o, gamma=0.9),
                    lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
    "exponential_growing": (lambda o: ExponentialLR(o, 1.05),
                            lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 1.05)),
}


def two_group_sgd(lrs=(0.1, 0.03)):
    mine = optim.SGD([{"params": [param(3)], "lr": lrs[0]}, {"params": [param(2)], "lr": lrs[1]}], lr=0.5)
    theirs = torch.optim.SGD([{"params": [torch.ones(3, requires_grad=True)], "lr": lrs[0]},
                              {"params": [torch.ones(2, requires_grad=True)], "lr": lrs[1]}], lr=0.5)
    return mine, theirs


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_gives_torchs_learning_rates_every_epoch(name):
    make, make_torch = SCHEDULES[name]
    opt, topt = two_group_sgd()
    sched, tsched = make(opt), make_torch(topt)
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-15)
    seen = {round(sched.get_last_lr()[0], 12)}
    for epoch in range(1, 16):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12, err_msg=f"epoch {epoch}")
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [g["lr"] for g in topt.param_groups],
                                   rtol=1e-12)
        seen.add(round(sched.get_last_lr()[0], 12))
    assert sched.last_epoch == tsched.last_epoch == 15
    assert len(seen) > 2                                             # the schedule did change the rate


def test_multistep_milestone_given_twice_multiplies_twice_as_torch():
    opt, topt = two_group_sgd()
    sched = MultiStepLR(opt, [2, 2], gamma=0.1)
    tsched = torch.optim.lr_scheduler.MultiStepLR(topt, [2, 2], gamma=0.1)
    for _ in range(3):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
    assert sched.get_last_lr() == pytest.approx([0.1 * 0.01, 0.03 * 0.01], rel=1e-12)
    np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12)


@pytest.mark.parametrize("make", [lambda o: MultiStepLR(o, [2, 4], gamma=0.5), lambda o: ExponentialLR(o, 0.8)])
def test_schedule_state_dict_round_trip_continues_identically(make, tmp_path):
    straight_opt, _ = two_group_sgd()
    straight = make(straight_opt)
    for _ in range(7):
        straight.step()

    opt, _ = two_group_sgd()
    sched = make(opt)
    for _ in range(3):
        sched.step()
    save_checkpoint(tmp_path / "c.npz", {"model": {"w": np.ones(3)}, "optimizer": opt.state_dict(),
                                         "scheduler": sched.state_dict()})
    saved = load_checkpoint(tmp_path / "c.npz")

    fresh_opt, _ = two_group_sgd(lrs=(9.0, 9.0))
    fresh = make(fresh_opt)
    fresh_opt.load_state_dict(saved["optimizer"])
    fresh.load_state_dict(saved["scheduler"])
    assert fresh.state_dict() == sched.state_dict()
    for _ in range(4):
        fresh.step()
    assert fresh.get_last_lr() == straight.get_last_lr()
    assert fresh.last_epoch == straight.last_epoch == 7


@pytest.mark.parametrize("make,message", [
    (lambda o: MultiStepLR(o, [0, 3]), "Invalid milestones value: 0"),
    (lambda o: MultiStepLR(o, [-2]), "Invalid milestones value: -2"),
    (lambda o: MultiStepLR(o, [2.5]), "Invalid milestones value: 2.5"),
    (lambda o: MultiStepLR(o, [True]), "Invalid milestones value: True"),
    (lambda o: MultiStepLR(o, 30), "Invalid milestones value: 30 (a list of ints >= 1 is expected)"),
    (lambda o: MultiStepLR(o, "30"), "Invalid milestones value: '30'"),
    (lambda o: MultiStepLR(o, [3], gamma=-0.1), "Invalid gamma value: -0.1"),
    (lambda o: MultiStepLR(o, [3], gamma=math.nan), "Invalid gamma value: nan"),
    (lambda o: ExponentialLR(o, gamma=-1.0), "Invalid gamma value: -1.0"),
    (lambda o: ExponentialLR(o, gamma=math.inf), "Invalid gamma value: inf"),
    (lambda o: ExponentialLR(o, gamma="0.9"), "Invalid gamma value: '0.9'"),
])
def test_bad_schedule_settings_raise_settings_error(make, message):
    opt, _ = two_group_sgd()
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make(opt)
    assert all("initial_lr" not in g for g in opt.param_groups)        # the optimizer was not touched


@pytest.mark.parametrize("make,edit,match", [
    (lambda o: MultiStepLR(o, [2, 4]), dict(milestones=[4, 2]), r"Invalid milestones value: \[4, 2\] \(sorted"),
    (lambda o: MultiStepLR(o, [2, 4]), dict(milestones=[0]), "Invalid milestones value: 0"),
    (lambda o: MultiStepLR(o, [2, 4]), dict(milestones=4), "Invalid milestones value: 4"),
    (lambda o: MultiStepLR(o, [2, 4]), dict(gamma=math.nan), "Invalid gamma value: nan"),
    (lambda o: ExponentialLR(o, 0.9), dict(gamma=-2.0), "Invalid gamma value: -2.0"),
    (lambda o: ExponentialLR(o, 0.9), dict(last_epoch=-1), "Invalid last_epoch value: -1"),
])
def test_schedule_load_state_dict_checks_before_changing(make, edit, match):
    opt, _ = two_group_sgd()
    sched = make(opt)
    sched.step()
    before = sched.state_dict()
    with pytest.raises(SettingsError, match=match):
        sched.load_state_dict({**before, **edit})
    assert sched.state_dict() == before
    with pytest.raises(ValueError, match="expects the entries"):
        sched.load_state_dict({**before, "step_size": 3})


def test_a_growing_exponential_schedule_stops_before_an_infinite_learning_rate():
    opt, _ = two_group_sgd()
    sched = ExponentialLR(opt, gamma=1e10)
    with pytest.raises(SettingsError, match=r"ExponentialLR would set the learning rate to inf at epoch 3\d"):
        for _ in range(100):
            sched.step()
    assert all(math.isfinite(g["lr"]) for g in opt.param_groups)


# ----- amsgrad ------------------------------------------------------------------------------------------------

AMSGRAD = {
    "adam": (optim.Adam, dict(lr=0.02, amsgrad=True)),
    "adam_weight_decay": (optim.Adam, dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
    "adam_betas_eps": (optim.Adam, dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, amsgrad=True)),
    "adamw": (optim.AdamW, dict(lr=0.02, amsgrad=True)),
    "adamw_weight_decay": (optim.AdamW, dict(lr=0.02, weight_decay=0.3, amsgrad=True)),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(AMSGRAD))
def test_amsgrad_matches_torch(name, dtype):
    cls, kwargs = AMSGRAD[name]
    model = make_mlp(dtype)
    twin = torch_twin(model, dtype)
    opt = cls(model.parameters(), **kwargs)
    topt = getattr(torch.optim, cls.__name__)(twin.parameters(), **kwargs)
    for x, y in batches(dtype, steps=8, shrink=0.5):
        step_minigrad(model, opt, x, y)
        step_torch(twin, topt, x, y)
    assert_same_weights(model, twin, RTOL[dtype])

    tstate = list(topt.state.values())
    bigger = 0
    for p, theirs in zip(model.parameters(), tstate):
        mine = opt.state[p]
        assert set(mine) == set(theirs) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
        assert mine["step"] == int(theirs["step"]) == 8
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            expected = theirs[key].numpy()
            np.testing.assert_allclose(mine[key], expected, rtol=RTOL[dtype],
                                       atol=RTOL[dtype] * np.abs(expected).max(), err_msg=key)
        assert np.all(mine["max_exp_avg_sq"] >= mine["exp_avg_sq"])
        bigger += int(np.sum(mine["max_exp_avg_sq"] > mine["exp_avg_sq"] * (1 + 1e-3)))
    assert bigger > 0, "the maximum never differed from v: the test would not see a missing max"


def test_amsgrad_differs_from_plain_adam_and_only_amsgrad_groups_keep_the_maximum():
    model = make_mlp()
    twin = torch_twin(model)
    groups = [{"params": list(model[0].parameters()), "amsgrad": True}, {"params": list(model[2].parameters())}]
    tgroups = [{"params": list(twin[0].parameters()), "amsgrad": True}, {"params": list(twin[2].parameters())}]
    opt, topt = optim.Adam(groups, lr=0.02), torch.optim.Adam(tgroups, lr=0.02)
    assert [g["amsgrad"] for g in opt.param_groups] == [g["amsgrad"] for g in topt.param_groups] == [True, False]
    plain = make_mlp()
    plain_opt = optim.Adam(plain.parameters(), lr=0.02)
    for x, y in batches(steps=8, shrink=0.5):
        step_minigrad(model, opt, x, y)
        step_torch(twin, topt, x, y)
        step_minigrad(plain, plain_opt, x, y)
    assert_same_weights(model, twin, 1e-10)
    assert all("max_exp_avg_sq" in opt.state[p] for p in model[0].parameters())
    assert all("max_exp_avg_sq" not in opt.state[p] for p in model[2].parameters())
    assert not np.allclose(model[0].weight.numpy(), plain[0].weight.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(plain_opt.param_groups[0]["amsgrad"], False)


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_amsgrad_state_dict_round_trip_continues_identically(cls, tmp_path):
    data = batches(steps=8, shrink=0.5)
    straight = make_mlp()
    straight_opt = cls(straight.parameters(), lr=0.02, amsgrad=True)
    for x, y in data:
        step_minigrad(straight, straight_opt, x, y)

    model = make_mlp()
    opt = cls(model.parameters(), lr=0.02, amsgrad=True)
    for x, y in data[:4]:
        step_minigrad(model, opt, x, y)
    state = opt.state_dict()
    assert state["param_groups"][0]["amsgrad"] is True
    assert all(set(s) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"} for s in state["state"].values())
    save_checkpoint(tmp_path / "c.npz", {"model": model.state_dict(), "optimizer": state})
    saved = load_checkpoint(tmp_path / "c.npz")

    fresh = make_mlp(seed=7)
    fresh_opt = cls(fresh.parameters(), lr=5.0)                     # amsgrad=False: the state dict sets it
    fresh.load_state_dict(saved["model"])
    fresh_opt.load_state_dict(saved["optimizer"])
    assert fresh_opt.param_groups[0]["amsgrad"] is True and fresh_opt.param_groups[0]["lr"] == 0.02
    for x, y in data[4:]:
        step_minigrad(fresh, fresh_opt, x, y)
    for key, value in straight.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value, err_msg=key)
    for p, q in zip(straight.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(fresh_opt.state[q]["max_exp_avg_sq"], straight_opt.state[p]["max_exp_avg_sq"])


def test_amsgrad_state_loads_into_torch_and_back():
    """The state dict has PyTorch's names: torch.optim.Adam loads it (arrays as tensors) and continues as
    minigrad does."""
    model = make_mlp()
    opt = optim.Adam(model.parameters(), lr=0.02, amsgrad=True)
    data = batches(steps=6, shrink=0.5)
    for x, y in data[:3]:
        step_minigrad(model, opt, x, y)
    state = opt.state_dict()
    twin = torch_twin(model)
    topt = torch.optim.Adam(twin.parameters(), lr=0.02)
    topt.load_state_dict({
        "state": {i: {k: torch.tensor(float(v)) if k == "step" else torch.from_numpy(v) for k, v in s.items()}
                  for i, s in state["state"].items()},
        "param_groups": [{**g, "params": list(g["params"])} for g in state["param_groups"]]})
    assert topt.param_groups[0]["amsgrad"] is True
    for x, y in data[3:]:
        step_minigrad(model, opt, x, y)
        step_torch(twin, topt, x, y)
    assert_same_weights(model, twin, 1e-10)


def test_a_state_dict_saved_before_amsgrad_existed_loads_as_amsgrad_false():
    opt = optim.Adam([param(2, 3)], lr=0.1)
    p = opt.param_groups[0]["params"][0]
    p.grad = np.full((2, 3), 0.5)
    opt.step()
    old = opt.state_dict()
    del old["param_groups"][0]["amsgrad"]
    other = optim.Adam([param(2, 3)], lr=0.3, amsgrad=True)
    other.load_state_dict(old)
    assert other.param_groups[0]["amsgrad"] is False and other.param_groups[0]["lr"] == 0.1


def test_amsgrad_state_without_its_maximum_is_refused_and_changes_nothing():
    source = optim.Adam([param(3)], lr=0.1)
    source.param_groups[0]["params"][0].grad = np.ones(3)
    source.step()
    state = source.state_dict()
    state["param_groups"][0]["amsgrad"] = True                  # says amsgrad, but has no max_exp_avg_sq
    target = optim.Adam([param(3)], lr=0.25)
    with pytest.raises(ValueError, match=r"parameter 0 has the entries \['exp_avg', 'exp_avg_sq', 'step'\]; Adam "
                                         r"keeps \['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step'\]"):
        target.load_state_dict(state)
    assert target.param_groups[0]["lr"] == 0.25 and target.param_groups[0]["amsgrad"] is False
    assert target.state == {}


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_amsgrad_changed_by_hand_after_a_step_is_refused_before_any_change(cls):
    p = param(3)
    opt = cls([p], lr=0.1)
    p.grad = np.ones(3)
    opt.step()
    before = p.numpy().copy()
    opt.param_groups[0]["amsgrad"] = True
    with pytest.raises(SettingsError, match=f"{cls.__name__}.step: amsgrad of group 0 is True, but parameter 0 "
                                            "has state from steps with amsgrad=False"):
        opt.step()
    np.testing.assert_array_equal(p.numpy(), before)
    assert opt.state[p]["step"] == 1


@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps, amsgrad="yes"), lambda ps: optim.AdamW(ps, amsgrad=1),
                                  lambda ps: optim.Adam([{"params": ps, "amsgrad": None}])])
def test_amsgrad_must_be_a_bool(make):
    with pytest.raises(SettingsError, match="amsgrad must be True or False, got"):
        make([param(3)])


# ----- zero_grad(set_to_none) ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW])
def test_zero_grad_sets_grads_to_none_by_default_and_zeroes_them_in_place_with_false(cls):
    model = make_mlp()
    idle = param(4)                                                  # never gets a gradient
    opt = cls([*model.parameters(), idle], lr=0.01)
    x, y = batches(steps=1)[0]
    F.cross_entropy(model(Tensor(x)), y).backward()
    grads = [p.grad for p in model.parameters()]
    opt.zero_grad(set_to_none=False)
    for p, g in zip(model.parameters(), grads):
        assert p.grad is g                                          # the same array, zeroed in place (as torch)
        assert p.grad.shape == p.shape and p.grad.dtype == p.dtype
        assert not p.grad.any()
    assert idle.grad is None                                        # no gradient stays no gradient
    F.cross_entropy(model(Tensor(x)), y).backward()                 # accumulates onto zeros: the fresh gradient
    fresh = make_mlp()
    F.cross_entropy(fresh(Tensor(x)), y).backward()
    for p, q in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(p.grad, q.grad)
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert list(inspect.signature(opt.zero_grad).parameters) == ["set_to_none"]
    assert inspect.signature(opt.zero_grad).parameters["set_to_none"].default is True


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad_then_a_step_matches_torch(set_to_none):
    """A zeroed gradient is stepped on (momentum and weight decay still move the weights), a None one skipped:
    both as torch."""
    model = make_mlp()
    twin = torch_twin(model)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.05)
    topt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9, weight_decay=0.05)
    x, y = batches(steps=1)[0]
    step_minigrad(model, opt, x, y)
    step_torch(twin, topt, x, y)
    before = model[0].weight.numpy().copy()
    opt.zero_grad(set_to_none=set_to_none)
    topt.zero_grad(set_to_none=set_to_none)
    opt.step()
    topt.step()
    assert_same_weights(model, twin, 1e-12)
    assert np.array_equal(model[0].weight.numpy(), before) == set_to_none
    assert all((p.grad is None) == (tp.grad is None) == set_to_none
               for p, tp in zip(model.parameters(), twin.parameters()))


@pytest.mark.parametrize("bad", ["no", None, 0])
def test_zero_grad_set_to_none_must_be_a_bool(bad):
    p = param(3)
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.ones(3)
    with pytest.raises(TypeError, match=f"zero_grad: set_to_none must be True or False, got {bad!r}"):
        opt.zero_grad(set_to_none=bad)
    np.testing.assert_array_equal(p.grad, np.ones(3))


# ----- add_param_group -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls,kwargs,added", [
    (optim.Adam, dict(lr=0.01, betas=(0.8, 0.99)), {"lr": 0.05}),
    (optim.AdamW, dict(lr=0.01, amsgrad=True), {"weight_decay": 0.2}),
    (optim.SGD, dict(lr=0.1, momentum=0.9), {"lr": 0.02, "nesterov": True}),
])
def test_add_param_group_fills_torchs_defaults_and_trains_as_torch(cls, kwargs, added):
    model = make_mlp()
    twin = torch_twin(model)
    tcls = getattr(torch.optim, cls.__name__)
    opt, topt = cls(model[0].parameters(), **kwargs), tcls(twin[0].parameters(), **kwargs)
    data = batches(steps=6)
    for x, y in data[:2]:                                          # the head is frozen by being left out
        step_minigrad(model, opt, x, y)
        step_torch(twin, topt, x, y)
    opt.add_param_group({"params": model[2].parameters(), **added})
    topt.add_param_group({"params": twin[2].parameters(), **added})
    assert len(opt.param_groups) == len(topt.param_groups) == 2
    mine, theirs = opt.param_groups[1], topt.param_groups[1]
    assert set(mine) <= set(theirs)                                # torch also keeps foreach, fused, ...
    for key in set(mine) - {"params"}:
        assert mine[key] == (tuple(theirs[key]) if key == "betas" else theirs[key]), key
    assert mine["params"] == list(model[2].parameters())
    for x, y in data[2:]:
        step_minigrad(model, opt, x, y)
        step_torch(twin, topt, x, y)
    assert_same_weights(model, twin, 1e-10)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW])
def test_add_param_group_refuses_a_parameter_already_there_as_torch(cls):
    a, b, c = param(3), param(2), param(4)
    ta, tb, tc = (torch.ones(n, dtype=torch.float64, requires_grad=True) for n in (3, 2, 4))
    opt = cls([a, b], lr=0.1)
    topt = getattr(torch.optim, cls.__name__)([ta, tb], lr=0.1)
    message = "some parameters appear in more than one parameter group"
    with pytest.raises(ValueError, match=message):
        opt.add_param_group({"params": [c, b]})
    with pytest.raises(ValueError, match=message):
        topt.add_param_group({"params": [tc, tb]})
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["params"] == [a, b]
    opt.add_param_group({"params": c})                            # one Tensor, as torch takes it
    assert opt.param_groups[1]["params"] == [c]
    with pytest.raises(ValueError, match=message):
        opt.add_param_group({"params": [c]})


def test_add_param_group_checks_like_the_constructor():
    opt = optim.Adam([param(3)], lr=0.1)
    with pytest.raises(TypeError, match="param_group must be a dict, but got list"):
        opt.add_param_group([param(2)])
    with pytest.raises(TypeError, match="ordering of tensors in sets will change"):
        opt.add_param_group({"params": {param(2)}})
    with pytest.raises(SettingsError, match="Invalid beta parameter at index 1: 1.0"):
        opt.add_param_group({"params": [param(2)], "betas": (0.9, 1.0)})
    with pytest.raises(SettingsError, match="amsgrad must be True or False, got 'no'"):
        opt.add_param_group({"params": [param(2)], "amsgrad": "no"})
    assert len(opt.param_groups) == 1


# ----- frozen parameters --------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls,kwargs", [(optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
                                        (optim.Adam, dict(lr=0.02, amsgrad=True)),
                                        (optim.AdamW, dict(lr=0.02, weight_decay=0.5))])
def test_a_frozen_layer_is_accepted_and_left_alone_as_torch(cls, kwargs):
    model = make_mlp()
    twin = torch_twin(model)
    for p in model[0].parameters():
        p.requires_grad = False
    twin[0].requires_grad_(False)
    frozen_before = {k: v.copy() for k, v in model.state_dict().items() if k.startswith("0.")}
    opt = cls(model.parameters(), **kwargs)                       # the frozen parameters included, as in torch
    topt = getattr(torch.optim, cls.__name__)(twin.parameters(), **kwargs)
    for x, y in batches(steps=4):
        step_minigrad(model, opt, x, y)
        step_torch(twin, topt, x, y)
    assert all(p.grad is None for p in model[0].parameters())
    assert all(p not in opt.state for p in model[0].parameters()) and len(opt.state) == len(topt.state) == 2
    for key, value in frozen_before.items():
        np.testing.assert_array_equal(model.state_dict()[key], value, err_msg=key)
    assert_same_weights(model, twin, 1e-10)


def test_a_frozen_parameter_may_be_added_later_and_trained_once_unfrozen():
    live, frozen = param(3), frozen_param(2, value=2.0)
    opt = optim.Adam([live], lr=0.1)
    opt.add_param_group({"params": [frozen], "lr": 0.5})
    tlive = torch.ones(3, dtype=torch.float64, requires_grad=True)
    tfrozen = torch.full((2,), 2.0, dtype=torch.float64, requires_grad=False)
    topt = torch.optim.Adam([tlive], lr=0.1)
    topt.add_param_group({"params": [tfrozen], "lr": 0.5})
    for step in range(4):
        if step == 2:                                               # unfreeze
            frozen.requires_grad = True
            tfrozen.requires_grad_(True)
        opt.zero_grad(set_to_none=False)
        topt.zero_grad(set_to_none=False)
        ((Tensor(np.arange(3.0)) * live).sum() + (frozen * frozen).sum() if frozen.requires_grad
         else (Tensor(np.arange(3.0)) * live).sum()).backward()
        ((torch.arange(3.0, dtype=torch.float64) * tlive).sum() + (tfrozen * tfrozen).sum()
         if tfrozen.requires_grad else (torch.arange(3.0, dtype=torch.float64) * tlive).sum()).backward()
        opt.step()
        topt.step()
        assert (frozen.grad is None) == (tfrozen.grad is None) == (step < 2)
    np.testing.assert_allclose(live.numpy(), tlive.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(frozen.numpy(), tfrozen.detach().numpy(), rtol=1e-12)
    assert not np.array_equal(frozen.numpy(), np.full(2, 2.0))


# ----- PyTorch's arguments: the same names; those minigrad does not implement are refused ----------------------

@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_constructor_arguments_are_torchs(name):
    mine = inspect.signature(getattr(optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    assert list(mine) == list(theirs)
    for key, p in theirs.items():
        assert mine[key].kind == p.kind, key
        if p.default is not inspect.Parameter.empty:
            assert mine[key].default == p.default, key


@pytest.mark.parametrize("name", ["MultiStepLR", "ExponentialLR"])
def test_schedule_arguments_are_torchs_but_last_epoch(name):
    from minigrad.optim import lr_scheduler
    mine = inspect.signature(getattr(lr_scheduler, name)).parameters
    theirs = inspect.signature(getattr(torch.optim.lr_scheduler, name)).parameters
    assert list(mine) == [k for k in theirs if k != "last_epoch"]
    assert all(mine[k].default == theirs[k].default for k in mine)


UNSUPPORTED = [(cls, name) for cls, names in [
    (optim.SGD, ["maximize", "foreach", "differentiable", "fused"]),
    (optim.Adam, ["foreach", "maximize", "capturable", "differentiable", "fused", "decoupled_weight_decay"]),
    (optim.AdamW, ["maximize", "foreach", "capturable", "differentiable", "fused"]),
] for name in names]


@pytest.mark.parametrize("cls,name", UNSUPPORTED)
def test_an_unsupported_torch_argument_is_refused_naming_it(cls, name):
    expected = "None or False" if name in ("foreach", "fused") else "False"
    for value in (True, 1, "yes"):
        with pytest.raises(TypeError, match=rf"{cls.__name__}: {name}={value!r} is not supported by minigrad "
                                            rf"\(expected {expected}, got {value!r}\)"):
            cls([param(3)], lr=0.1, **{name: value})


@pytest.mark.parametrize("cls,name", UNSUPPORTED)
def test_an_unsupported_torch_argument_left_off_is_accepted_as_torch_accepts_it(cls, name):
    offs = [None, False] if name in ("foreach", "fused") else [False]
    for off in offs:
        opt = cls([param(3)], lr=0.1, **{name: off})
        getattr(torch.optim, cls.__name__)([torch.ones(3, requires_grad=True)], lr=0.1, **{name: off})
        assert name not in opt.param_groups[0]                      # nothing of it in the state dict


def test_adam_decoupled_weight_decay_points_to_adamw():
    with pytest.raises(TypeError, match="decoupled_weight_decay=True is not supported by minigrad .*; use AdamW"):
        optim.Adam([param(3)], decoupled_weight_decay=True)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW])
def test_an_argument_torch_does_not_have_is_a_type_error_naming_it(cls):
    with pytest.raises(TypeError, match="unexpected keyword argument 'momentum_decay'"):
        cls([param(3)], momentum_decay=0.1)
