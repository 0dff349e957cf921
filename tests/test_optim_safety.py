"""Optimizers, schedules and gradient clipping refuse what would crash, write out of bounds or train wrongly.

Cases that used to crash the interpreter (a state dict of other shapes, a gradient of the wrong size handed
to the numba Adam kernel) run in a subprocess: a segfault then fails the test instead of killing pytest.
"""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn, optim
from minigrad.errors import DivergenceError, SettingsError
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_
from minigrad.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau, StepLR

OPTIMIZERS = [optim.SGD, optim.Adam, optim.AdamW]


def run_python(code):
    """Run ``code`` in a fresh interpreter; (return code, stdout + stderr)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300)
    return done.returncode, done.stdout + done.stderr


def param(*shape, value=1.0):
    return nn.Parameter(np.full(shape, value, dtype=np.float32))


def snapshot(opt):
    """The optimizer's groups and state as plain values, to compare before and after a refused call."""
    state = opt.state_dict()
    arrays = {(i, k): np.array(v) for i, s in state["state"].items() for k, v in s.items()}
    return state["param_groups"], arrays


def assert_same(before, after):
    assert before[0] == after[0]
    assert before[1].keys() == after[1].keys()
    for key in before[1]:
        np.testing.assert_array_equal(before[1][key], after[1][key], err_msg=str(key))


# ----- the two crashes, in a subprocess --------------------------------------------------------------------------

def test_adam_state_of_a_small_layer_is_refused_by_a_large_one():
    rc, out = run_python("""
        import numpy as np
        from minigrad import nn, optim
        small, big = nn.Linear(3, 2), nn.Linear(500, 700)
        opt = optim.Adam(small.parameters(), lr=0.01)
        for p in small.parameters():
            p.grad = np.ones(p.shape, dtype=p.dtype)
        opt.step()
        big_opt = optim.Adam(big.parameters(), lr=0.01)
        try:
            big_opt.load_state_dict(opt.state_dict())
        except ValueError as e:
            print("refused:", e)
        for p in big.parameters():
            p.grad = np.ones(p.shape, dtype=p.dtype)
        big_opt.step()
        print("stepped with fresh state:", all(s["step"] == 1 for s in big_opt.state.values()))
    """)
    assert rc == 0, out
    assert "refused: optimizer state for parameter 0 has exp_avg of shape (2, 3); the parameter has shape " \
           "(700, 500)" in out
    assert "stepped with fresh state: True" in out


@pytest.mark.parametrize("name,grad_shape", [("Adam", (6,)), ("AdamW", (6,)), ("SGD", (500,))])
def test_a_hand_set_gradient_of_the_wrong_size_changes_nothing(name, grad_shape):
    rc, out = run_python(f"""
        import numpy as np
        from minigrad import nn, optim
        layer = nn.Linear(500, 700)
        before = layer.weight.numpy().copy()
        opt = optim.{name}(layer.parameters(), lr=0.1)
        layer.weight.grad = np.ones({grad_shape}, dtype=np.float32)
        try:
            opt.step()
        except ValueError as e:
            print("refused:", e)
        print("unchanged:", np.array_equal(layer.weight.numpy(), before), len(opt.state))
    """)
    assert rc == 0, out
    assert (f"refused: {name}.step: the gradient of parameter 0 of group 0 has shape {grad_shape}; the parameter "
            "has shape (700, 500)") in out
    assert "unchanged: True 0" in out


def test_adam_refuses_state_that_no_longer_fits_a_reshaped_parameter():
    rc, out = run_python("""
        import numpy as np
        from minigrad import nn, optim
        p = nn.Parameter(np.ones((2, 3), dtype=np.float32))
        opt = optim.Adam([p], lr=0.1)
        p.grad = np.ones((2, 3), dtype=np.float32)
        opt.step()
        p.data = np.ones((300, 400), dtype=np.float32)
        p.grad = np.ones((300, 400), dtype=np.float32)
        try:
            opt.step()
        except ValueError as e:
            print("refused:", e)
    """)
    assert rc == 0, out
    assert "refused: optimizer state for parameter 0 of group 0 has exp_avg of shape (2, 3); the parameter has " \
           "shape (300, 400)" in out


# ----- gradients are checked, all of them, before any parameter changes --------------------------------------

@pytest.mark.parametrize("cls", OPTIMIZERS)
@pytest.mark.parametrize("bad,match", [
    (np.zeros(12, np.float32), r"parameter 1 of group 0 has shape \(12,\); the parameter has shape \(2, 3\)"),
    (np.zeros((2, 3), np.float64), r"parameter 1 of group 0 has dtype float64; the parameter has dtype float32"),
])
def test_one_bad_gradient_stops_the_whole_step(cls, bad, match):
    good, other = param(4), param(2, 3)
    opt = cls([good, other], lr=0.1)
    good.grad, other.grad = np.ones(4, np.float32), bad
    with pytest.raises(ValueError, match=match):
        opt.step()
    np.testing.assert_array_equal(good.numpy(), np.ones(4))            # the good parameter did not move either
    assert opt.state == {}


def test_a_gradient_that_is_not_an_array_is_a_type_error():
    p = param(3)
    opt = optim.SGD([p], lr=0.1)
    p.grad = [1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="the gradient of parameter 0 of group 0 is a list, not an array"):
        opt.step()


def test_sgd_momentum_buffer_that_no_longer_fits_is_refused():
    p = param(2, 3)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.ones((2, 3), np.float32)
    opt.step()
    p.data, p.grad = np.ones((4, 3), np.float32), np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"has momentum_buffer of shape \(2, 3\); the parameter has shape \(4, 3\)"):
        opt.step()


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_step_checks_a_learning_rate_set_by_hand(cls):
    p = param(3)
    opt = cls([p], lr=0.1)
    opt.param_groups[0]["lr"] = float("nan")
    p.grad = np.ones(3, np.float32)
    with pytest.raises(SettingsError, match="Invalid learning rate: nan"):
        opt.step()
    np.testing.assert_array_equal(p.numpy(), np.ones(3))


# ----- parameters --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_a_bare_tensor_is_a_type_error_as_in_torch(cls):
    with pytest.raises(TypeError, match="params argument given to the optimizer should be an iterable of Tensors "
                                        "or dicts, but got Parameter"):
        cls(param(3, 2))


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_a_parameter_twice_is_refused(cls):
    p = param(3)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        cls([{"params": [p]}, {"params": [p, param(2)]}])
    with pytest.raises(ValueError, match="duplicate parameters"):
        cls([p, p])


@pytest.mark.parametrize("make,error,match", [
    (lambda: [mg.Tensor(np.arange(3))], TypeError, "floating-point Tensors, but one of the params has dtype int64"),
    (lambda: [param(3) * 2], ValueError, "can't optimize a non-leaf Tensor"),
    (lambda: [np.zeros(3, np.float32)], TypeError, "optimizer can only optimize Tensors, but one of the params is "
                                                   "ndarray"),
    (lambda: {param(3)}, TypeError, "ordering of tensors in sets will change"),
])
def test_what_is_not_a_floating_leaf_tensor_is_refused(make, error, match):
    with pytest.raises(error, match=match):
        optim.Adam(make())


@pytest.mark.parametrize("cls,kwargs", [(optim.SGD, dict(momentum=0.9, weight_decay=0.1)), (optim.Adam, {}),
                                        (optim.AdamW, dict(weight_decay=0.5))])
def test_frozen_parameters_are_accepted_and_skipped_as_in_torch(cls, kwargs):
    torch = pytest.importorskip("torch")
    live, frozen = param(3), nn.Parameter(np.ones(3, np.float32), requires_grad=False)
    tlive, tfrozen = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=False)
    opt = cls([live, frozen], lr=0.1, **kwargs)
    topt = getattr(torch.optim, cls.__name__)([tlive, tfrozen], lr=0.1, **kwargs)
    for _ in range(2):
        live.grad, tlive.grad = np.full(3, 0.5, np.float32), torch.full((3,), 0.5)
        opt.step()
        topt.step()
    assert frozen.grad is None and tfrozen.grad is None
    np.testing.assert_array_equal(frozen.numpy(), tfrozen.numpy())
    np.testing.assert_allclose(live.numpy(), tlive.detach().numpy(), rtol=1e-6)
    assert frozen not in opt.state and len(topt.state) == 1


def test_a_group_may_hold_one_tensor_as_in_torch():
    p = param(2, 2)
    opt = optim.SGD([{"params": p, "lr": 0.5}], lr=0.1)
    assert opt.param_groups[0]["params"] == [p] and opt.param_groups[0]["lr"] == 0.5


def test_add_param_group_checks_before_adding():
    opt = optim.Adam([param(3)], lr=0.1)
    with pytest.raises(SettingsError, match="Invalid learning rate: -1.0"):
        opt.add_param_group({"params": [param(2)], "lr": -1.0})
    with pytest.raises(SettingsError, match="Adam has no hyper-parameter 'momentum'"):
        opt.add_param_group({"params": [param(2)], "momentum": 0.9})
    assert len(opt.param_groups) == 1
    opt.add_param_group({"params": [param(2)], "lr": 0.5})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]


# ----- hyper-parameters: finite and in range, with PyTorch's messages -----------------------------------------

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("cls,kwargs,message", [
    (cls, kwargs, message) for cls in OPTIMIZERS for kwargs, message in [
        (dict(lr=NAN), "Invalid learning rate: nan"),
        (dict(lr=INF), "Invalid learning rate: inf"),
        (dict(lr=-1.0), "Invalid learning rate: -1.0"),
        (dict(weight_decay=NAN), "Invalid weight_decay value: nan"),
        (dict(weight_decay=INF), "Invalid weight_decay value: inf"),
        (dict(lr="0.1"), "Invalid learning rate: '0.1'"),
    ]] + [
    (cls, kwargs, message) for cls in (optim.Adam, optim.AdamW) for kwargs, message in [
        (dict(eps=NAN), "Invalid epsilon value: nan"),
        (dict(eps=INF), "Invalid epsilon value: inf"),
        (dict(betas=(NAN, 0.999)), "Invalid beta parameter at index 0: nan"),
        (dict(betas=(1.5, 0.999)), "Invalid beta parameter at index 0: 1.5"),
        (dict(betas=(0.9, INF)), "Invalid beta parameter at index 1: inf"),
        (dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
        (dict(betas=0.9), "betas must be a pair"),
    ]] + [
    (optim.SGD, dict(momentum=NAN), "Invalid momentum value: nan"),
    (optim.SGD, dict(momentum=INF), "Invalid momentum value: inf"),
    (optim.SGD, dict(momentum=0.9, dampening=NAN), "Invalid dampening value: nan"),
    (optim.SGD, dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
])
def test_bad_hyper_parameters_raise_settings_error(cls, kwargs, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cls([param(3)], **kwargs)


def test_a_group_setting_is_checked_like_a_default():
    with pytest.raises(SettingsError, match="Invalid learning rate: nan"):
        optim.SGD([{"params": [param(3)]}, {"params": [param(2)], "lr": NAN}], lr=0.1)


# ----- load_state_dict: checked whole, before anything changes -------------------------------------------------

def trained(make_params, cls=optim.Adam, **kwargs):
    params = make_params()
    opt = cls(params, lr=0.1, **kwargs)
    for p in params:
        p.grad = np.full(p.shape, 0.5, np.float32)
    opt.step()
    return opt


def two_params():
    return [param(2, 3), param(3)]


def edited(state, edit):
    state = {"state": {i: dict(s) for i, s in state["state"].items()},
             "param_groups": [dict(g) for g in state["param_groups"]]}
    edit(state)
    return state


@pytest.mark.parametrize("edit,error,match", [
    (lambda s: s["param_groups"].append({**s["param_groups"][0], "params": []}), ValueError,
     r"different number of parameter groups \(2; this optimizer has 1\)"),
    (lambda s: s["param_groups"][0].update(params=[0]), ValueError,
     r"doesn't match the size of optimizer's group \(group 0: 1 parameters saved, 2 here\)"),
    (lambda s: s["state"][0].update(exp_avg=np.zeros((3, 2))), ValueError,
     r"optimizer state for parameter 0 has exp_avg of shape \(3, 2\); the parameter has shape \(2, 3\)"),
    (lambda s: s["state"][1].update(exp_avg_sq=np.zeros(4)), ValueError,
     r"parameter 1 has exp_avg_sq of shape \(4,\); the parameter has shape \(3,\)"),
    (lambda s: s["state"][1].update(exp_avg_sq=np.zeros(3, np.int64)), ValueError, "a floating dtype is expected"),
    (lambda s: s["state"][0].update(step=-1), ValueError, "has step -1; a whole number >= 0 is expected"),
    (lambda s: s["state"][0].update(step=1.5), ValueError, "has step 1.5"),
    (lambda s: s["state"][0].pop("exp_avg_sq"), ValueError, r"has the entries \['exp_avg', 'step'\]; Adam keeps"),
    (lambda s: s["state"].update({7: s["state"][0]}), ValueError, "the loaded param_groups have no parameter 7"),
    (lambda s: s["param_groups"][0].update(lr=NAN), SettingsError, "Invalid learning rate: nan"),
    (lambda s: s["param_groups"][0].update(betas=(0.9, 2.0)), SettingsError, "Invalid beta parameter at index 1"),
    (lambda s: s["param_groups"][0].pop("eps"), ValueError, r"missing \['eps'\]"),
    (lambda s: s["param_groups"][0].update(amsgrad=True), ValueError,
     r"Adam keeps \['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step'\]"),
])
def test_load_state_dict_refuses_a_mismatch_and_changes_nothing(edit, error, match):
    source = trained(two_params)
    target = trained(two_params)
    target.param_groups[0]["lr"] = 0.25
    before = snapshot(target)
    with pytest.raises(error, match=match):
        target.load_state_dict(edited(source.state_dict(), edit))
    assert_same(before, snapshot(target))


def test_sgd_state_does_not_load_into_adam():
    sgd = trained(two_params, optim.SGD, momentum=0.9)
    adam = optim.Adam(two_params())
    with pytest.raises(ValueError, match="does not fit Adam"):
        adam.load_state_dict(sgd.state_dict())
    assert adam.state == {}


def test_a_loaded_step_count_may_be_a_zero_dimensional_array():
    state = edited(trained(two_params).state_dict(), lambda s: s["state"][0].update(step=np.array(3)))
    opt = optim.Adam(two_params())
    opt.load_state_dict(state)
    assert [opt.state[p]["step"] for p in opt.param_groups[0]["params"]] == [3, 1]
    assert all(type(s["step"]) is int for s in opt.state.values())


# ----- learning-rate schedules ------------------------------------------------------------------------------------

def sgd(lr=0.1):
    return optim.SGD([param(3)], lr=lr)


@pytest.mark.parametrize("make,message", [
    (lambda o: StepLR(o, step_size=2, gamma=-1.0), "Invalid gamma value: -1.0"),
    (lambda o: StepLR(o, step_size=2, gamma=NAN), "Invalid gamma value: nan"),
    (lambda o: StepLR(o, step_size=2, gamma=INF), "Invalid gamma value: inf"),
    (lambda o: StepLR(o, step_size=0), "Invalid step_size value: 0"),
    (lambda o: StepLR(o, step_size=1.5), "Invalid step_size value: 1.5"),
    (lambda o: CosineAnnealingLR(o, T_max=0), "Invalid T_max value: 0"),
    (lambda o: CosineAnnealingLR(o, T_max=-3), "Invalid T_max value: -3"),
    (lambda o: CosineAnnealingLR(o, T_max=10, eta_min=-0.01), "Invalid eta_min value: -0.01"),
    (lambda o: CosineAnnealingLR(o, T_max=10, eta_min=NAN), "Invalid eta_min value: nan"),
    (lambda o: ReduceLROnPlateau(o, factor=1.0), r"Factor should be < 1.0."),
    (lambda o: ReduceLROnPlateau(o, factor=1.5), r"Factor should be < 1.0."),
    (lambda o: ReduceLROnPlateau(o, factor=0.0), r"Factor should be > 0.0."),
    (lambda o: ReduceLROnPlateau(o, factor=-0.5), r"Factor should be > 0.0."),
    (lambda o: ReduceLROnPlateau(o, factor=NAN), "Invalid factor value: nan"),
    (lambda o: ReduceLROnPlateau(o, patience=-1), "Invalid patience value: -1"),
    (lambda o: ReduceLROnPlateau(o, patience=2.5), "Invalid patience value: 2.5"),
    (lambda o: ReduceLROnPlateau(o, cooldown=-1), "Invalid cooldown value: -1"),
    (lambda o: ReduceLROnPlateau(o, min_lr=-1e-3), "Invalid min_lr value: -0.001"),
    (lambda o: ReduceLROnPlateau(o, min_lr=NAN), "Invalid min_lr value: nan"),
    (lambda o: ReduceLROnPlateau(o, min_lr=[0.0, 0.1]), "expected 1 min_lrs, got 2"),
    (lambda o: ReduceLROnPlateau(o, threshold=-0.1), "Invalid threshold value: -0.1"),
    (lambda o: ReduceLROnPlateau(o, eps=NAN), "Invalid eps value: nan"),
    (lambda o: ReduceLROnPlateau(o, mode="maximum"), "mode maximum is unknown!"),
    (lambda o: ReduceLROnPlateau(o, threshold_mode="relative"), "threshold mode relative is unknown!"),
])
def test_bad_schedule_settings_raise_settings_error(make, message):
    opt = sgd()
    with pytest.raises(SettingsError, match=message):
        make(opt)
    assert "initial_lr" not in opt.param_groups[0]                      # the optimizer was not touched


def test_a_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        StepLR([param(3)], step_size=1)


@pytest.mark.parametrize("make,edit,error,match", [
    (lambda o: StepLR(o, step_size=2), dict(gamma=-0.5), SettingsError, "Invalid gamma value: -0.5"),
    (lambda o: StepLR(o, step_size=2), dict(last_epoch=-4), SettingsError, "Invalid last_epoch value: -4"),
    (lambda o: StepLR(o, step_size=2), dict(base_lrs=[0.1, 0.2]), SettingsError, "expected 1 base_lrs"),
    (lambda o: StepLR(o, step_size=2), dict(base_lrs=[NAN]), SettingsError, "Invalid initial learning rate: nan"),
    (lambda o: StepLR(o, step_size=2), dict(optimizer=None), ValueError, "expects the entries"),
    (lambda o: CosineAnnealingLR(o, T_max=5), dict(T_max=0), SettingsError, "Invalid T_max value: 0"),
    (lambda o: ReduceLROnPlateau(o), dict(factor=2.0), SettingsError, "Factor should be < 1.0."),
    (lambda o: ReduceLROnPlateau(o), dict(best=NAN), SettingsError, "Invalid best value: nan"),
    (lambda o: ReduceLROnPlateau(o), dict(num_bad_epochs=-1), SettingsError, "Invalid num_bad_epochs value"),
])
def test_scheduler_load_state_dict_checks_before_changing(make, edit, error, match):
    sched = make(sgd())
    before = sched.state_dict()
    with pytest.raises(error, match=match):
        sched.load_state_dict({**before, **edit})
    assert sched.state_dict() == before


def test_a_growing_step_schedule_stops_before_an_infinite_learning_rate():
    opt = sgd(lr=10.0)
    sched = StepLR(opt, step_size=1, gamma=10.0)
    with pytest.raises(SettingsError, match=r"StepLR would set the learning rate to inf at epoch 30\d"):
        for _ in range(400):
            sched.step()
    assert math.isfinite(opt.param_groups[0]["lr"]) and opt.param_groups[0]["lr"] > 1e300


SCHEDULES = st.one_of(
    st.tuples(st.just(StepLR), st.fixed_dictionaries({"step_size": st.integers(-2, 5),
                                                     "gamma": st.floats(allow_nan=True, allow_infinity=True)})),
    st.tuples(st.just(CosineAnnealingLR), st.fixed_dictionaries({"T_max": st.integers(-2, 20),
                                                                "eta_min": st.floats(-1, 1) | st.just(NAN)})),
)


@settings(max_examples=200, deadline=None)
@given(schedule=SCHEDULES, lr=st.floats(0, 10), epochs=st.integers(1, 60))
def test_an_accepted_schedule_never_makes_the_learning_rate_negative_or_nan(schedule, lr, epochs):
    cls, kwargs = schedule
    opt = sgd(lr)
    try:
        sched = cls(opt, **kwargs)
    except SettingsError:
        return
    for _ in range(epochs):
        try:
            sched.step()
        except SettingsError:                                        # refused, before setting it
            pass
        value = opt.param_groups[0]["lr"]
        assert math.isfinite(value) and value >= 0, (cls.__name__, kwargs, value)


@settings(max_examples=100, deadline=None)
@given(factor=st.floats(allow_nan=True, allow_infinity=True), min_lr=st.floats(-1, 1),
       metrics=st.lists(st.floats(allow_nan=True), min_size=1, max_size=30))
def test_an_accepted_plateau_schedule_never_makes_the_learning_rate_negative_or_nan(factor, min_lr, metrics):
    opt = sgd(0.1)
    try:
        sched = ReduceLROnPlateau(opt, factor=factor, min_lr=min_lr, patience=0)
    except SettingsError:
        return
    for m in metrics:
        sched.step(m)
        value = opt.param_groups[0]["lr"]
        assert math.isfinite(value) and value >= 0, (factor, min_lr, value)


# ----- gradient clipping ------------------------------------------------------------------------------------------

def with_grads(*grads):
    params = [mg.Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.copy()
    return params


@pytest.mark.parametrize("kwargs,message", [
    (dict(max_norm=0.0), "max_norm must be a finite number > 0.0, got 0.0"),
    (dict(max_norm=-1.0), "max_norm must be a finite number > 0.0, got -1.0"),
    (dict(max_norm=NAN), "max_norm must be a finite number > 0.0, got nan"),
    (dict(max_norm=INF), "max_norm must be a finite number > 0.0, got inf"),
    (dict(max_norm=1.0, norm_type=0), "norm_type must be a finite number > 0.0, got 0"),
    (dict(max_norm=1.0, norm_type=-2.0), "norm_type must be a finite number > 0.0"),
    (dict(max_norm=1.0, norm_type=NAN), "norm_type must be a finite number > 0.0"),
])
def test_clip_grad_norm_refuses_bad_settings(kwargs, message):
    params = with_grads(np.full(3, 2.0, np.float32))
    with pytest.raises(SettingsError, match=message):
        clip_grad_norm_(params, **kwargs)
    np.testing.assert_array_equal(params[0].grad, np.full(3, 2.0))


def test_clip_grad_norm_takes_a_single_tensor_as_torch():
    torch = pytest.importorskip("torch")
    (p,) = with_grads(np.array([3.0, 4.0], np.float32))
    tp = torch.zeros(2, requires_grad=True)
    tp.grad = torch.tensor([3.0, 4.0])
    assert clip_grad_norm_(p, 1.0) == pytest.approx(float(torch.nn.utils.clip_grad_norm_(tp, 1.0)))
    np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-6)


@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply")      # inf * 0, as in torch
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_grad_norm_with_a_non_finite_norm_is_torch(bad):
    torch = pytest.importorskip("torch")
    grad = np.array([bad, 1.0, 1.0], np.float32)
    params = with_grads(grad)
    tp = torch.zeros(3, requires_grad=True)
    tp.grad = torch.from_numpy(grad.copy())
    total, ttotal = clip_grad_norm_(params, 1.0), torch.nn.utils.clip_grad_norm_([tp], 1.0)
    np.testing.assert_array_equal(total, float(ttotal))                  # nan or inf, as torch returns it
    np.testing.assert_array_equal(params[0].grad, tp.grad.numpy())       # and the gradients scaled as torch's
    with pytest.raises(DivergenceError, match="The total norm of order 2.0 for gradients from `parameters` is "
                                              "non-finite"):
        clip_grad_norm_(with_grads(grad), 1.0, error_if_nonfinite=True)


@pytest.mark.parametrize("clip_value", [-1.0, NAN, INF])
def test_clip_grad_value_refuses_bad_settings(clip_value):
    params = with_grads(np.array([-3.0, 3.0], np.float32))
    with pytest.raises(SettingsError, match="clip_value must be a finite number >= 0.0"):
        clip_grad_value_(params, clip_value)


def test_clip_grad_value_takes_a_single_tensor():
    (p,) = with_grads(np.array([-3.0, 0.5, 3.0], np.float32))
    clip_grad_value_(p, 1.0)
    np.testing.assert_array_equal(p.grad, [-1.0, 0.5, 1.0])
