"""Optimizer: the base class holding parameter groups and per-parameter state, as ``torch.optim``.

An optimizer's step hands arrays to compiled loops that do not check their indices (``minigrad.kernels``),
so everything that reaches a step is checked first, here, and refused with one clear error:

- hyper-parameters (:func:`check_hyper_parameters`): finite numbers in PyTorch's ranges, with PyTorch's
  messages, when the optimizer is made, when a group is added, when a state dict is loaded, and before
  each step (a learning rate can be changed by hand or by a schedule in between);
- PyTorch's keyword arguments that minigrad does not implement (:func:`refuse_unsupported`: ``foreach``,
  ``fused``, ``maximize``, ``capturable``, ``differentiable``, Adam's ``decoupled_weight_decay``): accepted
  at their "off" values, refused with a TypeError naming the argument otherwise;
- parameters (:meth:`Optimizer.add_param_group`): floating-point leaf Tensors, each in one group only (a
  parameter with ``requires_grad=False`` is accepted, as in PyTorch: it gets no gradient, and a step
  skips every parameter whose ``.grad`` is None);
- gradients and state (:meth:`Optimizer.check_step`): before any parameter changes, every gradient has its
  parameter's shape, dtype and device, and so has every state array; a bad one changes nothing;
- a loaded state dict (:meth:`Optimizer.load_state_dict`): the same groups, and state entries of the right
  names, shapes and kinds, all checked before anything is assigned.
"""

import math
import numbers

import numpy as np

from ..backend import device_of, to_numpy
from ..errors import SettingsError
from ..tensor import Tensor, as_array

# hyper-parameter -> (PyTorch's message, lowest value, highest value): a finite number in [lowest, highest]
RANGES = {
    "lr": ("Invalid learning rate", 0.0, math.inf),
    "initial_lr": ("Invalid initial learning rate", 0.0, math.inf),     # set by a learning-rate schedule
    "eps": ("Invalid epsilon value", 0.0, math.inf),
    "weight_decay": ("Invalid weight_decay value", 0.0, math.inf),
    "momentum": ("Invalid momentum value", 0.0, math.inf),
    "dampening": ("Invalid dampening value", 0.0, 1.0),
}
FLAGS = ("nesterov", "amsgrad")        # hyper-parameters that are True or False
SET_MESSAGE = ("optimizer parameters need to be organized in ordered collections, but the ordering of tensors "
               "in sets will change between runs. Please use a list instead.")


def check_number(label, value, low, high, high_open=False):
    """``value`` as a float, if it is a real number, finite, in [low, high] (or [low, high) when
    ``high_open``); otherwise SettingsError "label: value" (NaN and inf are refused too)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SettingsError(f"{label}: {value!r} (a number is expected)")
    value = float(value)
    if not (math.isfinite(value) and low <= value and (value < high if high_open else value <= high)):
        raise SettingsError(f"{label}: {value}")
    return value


def check_hyper_parameters(group):
    """Check the hyper-parameters a group has: those of ``RANGES``, betas in [0, 1), the ``FLAGS`` (nesterov,
    amsgrad) True or False, nesterov needing momentum > 0 and dampening 0. Raises SettingsError with
    PyTorch's message."""
    for key, (label, low, high) in RANGES.items():
        if key in group:
            check_number(label, group[key], low, high)
    if "betas" in group:
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise SettingsError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            check_number(f"Invalid beta parameter at index {i}", beta, 0.0, 1.0, high_open=True)
    for flag in FLAGS:
        if flag in group and not isinstance(group[flag], (bool, np.bool_)):
            raise SettingsError(f"{flag} must be True or False, got {group[flag]!r}")
    if "nesterov" in group:
        if group["nesterov"] and (group.get("momentum", 0) <= 0 or group.get("dampening", 0) != 0):
            raise SettingsError("Nesterov momentum requires a momentum and zero dampening")


def refuse_unsupported(owner, **given):
    """Refuse PyTorch keyword arguments that ask for what minigrad does not implement.

    ``given`` maps each such argument to its value. Each may be left at a value that means "off", as
    PyTorch's defaults do: ``foreach`` and ``fused`` None or False (PyTorch's multi-tensor and fused
    kernels, implementation choices: minigrad has one implementation), ``maximize``, ``capturable``,
    ``differentiable`` and ``decoupled_weight_decay`` False. Anything else raises TypeError naming the
    argument, what is expected and what was given.
    """
    for name, value in given.items():
        may_be_none = name in ("foreach", "fused")
        if value is None:
            is_off = may_be_none
        else:
            is_off = isinstance(value, (bool, np.bool_)) and not value
        if not is_off:
            expected = "None or False" if may_be_none else "False"
            hint = "; use AdamW for decoupled weight decay" if name == "decoupled_weight_decay" else ""
            raise TypeError(f"{owner}: {name}={value!r} is not supported by minigrad (expected {expected}, got "
                            f"{value!r}){hint}")


def check_parameter(p):
    """A parameter an optimizer can update: a floating-point leaf Tensor (``requires_grad`` may be False:
    such a parameter gets no gradient from backward, and a step skips a parameter without one)."""
    if not isinstance(p, Tensor):
        raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
    if not (p.is_leaf or getattr(p, "_retains_grad", False)):
        raise ValueError("can't optimize a non-leaf Tensor")
    if p.dtype.kind != "f":
        raise TypeError(f"optimizer can only optimize floating-point Tensors, but one of the params has dtype "
                        f"{p.dtype} (shape {tuple(p.shape)})")


def check_gradient(owner, p, where):
    """p.grad (not None) an array of p's shape, dtype and device; ``where`` names p ("parameter 3 of group 0")."""
    g = p.grad
    if not (hasattr(g, "shape") and hasattr(g, "dtype")):
        raise TypeError(f"{owner}.step: the gradient of {where} is a {type(g).__name__}, not an array")
    if tuple(g.shape) != tuple(p.shape):
        raise ValueError(f"{owner}.step: the gradient of {where} has shape {tuple(g.shape)}; the parameter has "
                         f"shape {tuple(p.shape)}")
    if g.dtype != p.dtype:
        raise ValueError(f"{owner}.step: the gradient of {where} has dtype {g.dtype}; the parameter has dtype "
                         f"{p.dtype}")
    if device_of(g) != p.device:
        raise ValueError(f"{owner}.step: the gradient of {where} is on {device_of(g)}; the parameter is on "
                         f"{p.device}")


def check_state_array(p, name, value, where):
    """A state entry (exp_avg, momentum_buffer, ...) that fits parameter p: an array of p's shape and a
    floating dtype. Raises ValueError naming ``where`` (the parameter) and both shapes."""
    if not (hasattr(value, "shape") and hasattr(value, "dtype")):
        raise ValueError(f"optimizer state for {where} has {name} of type {type(value).__name__}, not an array")
    if tuple(value.shape) != tuple(p.shape):
        raise ValueError(f"optimizer state for {where} has {name} of shape {tuple(value.shape)}; the parameter "
                         f"has shape {tuple(p.shape)}")
    if np.dtype(value.dtype).kind != "f":
        raise ValueError(f"optimizer state for {where} has {name} of dtype {value.dtype}; a floating dtype is "
                         "expected")


def as_step_count(value, where):
    """A saved step counter as an int >= 0 (an int, or a whole float or 0-d array as a file may hold it)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            and value >= 0 and value == int(value)):
        return int(value)
    raise ValueError(f"optimizer state for {where} has step {value!r}; a whole number >= 0 is expected")


def as_index(key):
    """A state dict's parameter key: an int, or its decimal string (as a text format may store it)."""
    if isinstance(key, str) and key.isdigit():
        return int(key)
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        return int(key)
    raise ValueError(f"optimizer state is keyed by parameter index, got the key {key!r}")


class Optimizer:
    """Holds ``param_groups`` (lists of parameters with their own hyper-parameters, e.g. ``lr``, which
    learning-rate schedules change) and ``state`` (per-parameter buffers such as Adam's moments).

    ``params`` is an iterable of Tensors, or of dicts each holding "params" and the hyper-parameters that
    group sets differently from ``defaults``. ``state_keys`` names the state a subclass keeps for each
    parameter: "step", a counter, and arrays of the parameter's shape; :meth:`state_keys_of` gives them
    for one group, where they depend on its settings (Adam's ``max_exp_avg_sq`` when ``amsgrad``).
    """

    state_keys = ()

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}")
        if isinstance(params, (set, frozenset)):
            raise TypeError(SET_MESSAGE)
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        check_hyper_parameters(defaults)
        self.defaults = defaults
        self.param_groups = []
        self.state = {}  # parameter -> dict of arrays and counters
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group, as ``torch.optim.Optimizer.add_param_group`` (e.g. layers unfrozen while fine-tuning):
        a dict with "params" (Tensors, or one Tensor) and any hyper-parameters it sets; the others come from
        ``defaults``, so ``opt.add_param_group({"params": head.parameters(), "lr": 0.1})`` gets the
        optimizer's betas, eps, ... Raises TypeError for what is not a Tensor, ValueError for a parameter
        already in this optimizer ("some parameters appear in more than one parameter group"),
        SettingsError for a hyper-parameter out of range or unknown. Nothing is added unless all pass."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"param_group must have a 'params' entry, got the keys {sorted(param_group)}")
        params = param_group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(SET_MESSAGE)
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            check_parameter(p)
        unknown = sorted(set(param_group) - set(self.defaults) - {"params", "initial_lr"})
        if unknown:
            raise SettingsError(f"{type(self).__name__} has no hyper-parameter {', '.join(map(repr, unknown))} "
                                f"(it has {', '.join(self.defaults)})")
        group = {**self.defaults, **param_group, "params": params}
        check_hyper_parameters(group)
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        if not {id(p) for p in params}.isdisjoint(id(p) for p in self._params()):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Forget the accumulated gradients (they add up otherwise; see ``minigrad.autograd``), as PyTorch:

            set_to_none=True  (default)   p.grad <- None           for every parameter
            set_to_none=False             p.grad <- 0, in place    for every parameter that has a gradient

        A step skips a parameter whose grad is None but updates one whose grad is zero (momentum and Adam's
        moments still move it, and weight decay shrinks it), so the two are not the same.
        """
        if not isinstance(set_to_none, (bool, np.bool_)):
            raise TypeError(f"zero_grad: set_to_none must be True or False, got {set_to_none!r}")
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

    def state_keys_of(self, group):
        """The state entries kept for each parameter of ``group`` (a dict of hyper-parameters)."""
        return self.state_keys

    def step(self):
        raise NotImplementedError

    def check_step(self):
        """Before a step changes anything: each group's hyper-parameters, each gradient (shape, dtype and
        device of its parameter) and each parameter's state arrays (its shape and dtype). O(parameters)."""
        owner = type(self).__name__
        for g, group in enumerate(self.param_groups):
            check_hyper_parameters(group)
            for i, p in enumerate(group["params"]):
                where = f"parameter {i} of group {g}"
                if p.grad is not None:
                    check_gradient(owner, p, where)
                for name, value in self.state.get(p, {}).items():
                    if name != "step":
                        check_state_array(p, name, value, where)
                        if value.dtype != p.dtype:
                            raise ValueError(f"optimizer state for {where} has {name} of dtype {value.dtype}; "
                                             f"the parameter has dtype {p.dtype}")

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self):
        """Hyper-parameters and per-parameter state (NumPy copies), parameters referred to by position."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[id(p)]: {k: (to_numpy(v).copy() if hasattr(v, "shape") else v) for k, v in s.items()}
                 for p, s in self.state.items()}
        groups = [{**{k: v for k, v in g.items() if k != "params"},
                   "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` returned, into an optimizer over parameters of the same shapes.

        Everything is checked before anything changes: the number and sizes of the groups, each group's
        hyper-parameters (SettingsError when out of range), and each parameter's state (its index, the
        entries this optimizer keeps, arrays of the parameter's shape and a floating dtype, a step count
        >= 0). Any mismatch raises ValueError and leaves the optimizer as it was.
        """
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError("an optimizer state dict is a dict with the entries 'state' and 'param_groups', got "
                             f"{sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__}")
        groups, by_index = self._loaded_groups(state_dict["param_groups"])
        state = self._loaded_state(state_dict["state"], by_index)
        for mine, loaded in zip(self.param_groups, groups):
            mine.update(loaded)
        self.state = state

    def _loaded_groups(self, saved):
        """The hyper-parameters of each saved group, checked, and the map saved index -> (parameter, the
        loaded hyper-parameters of its group)."""
        if not isinstance(saved, (list, tuple)) or not all(isinstance(g, dict) and "params" in g for g in saved):
            raise ValueError("loaded state dict's param_groups must be a list of dicts with a 'params' entry")
        if len(saved) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups ({len(saved)}; "
                             f"this optimizer has {len(self.param_groups)})")
        for i, (mine, theirs) in enumerate(zip(self.param_groups, saved)):
            if len(theirs["params"]) != len(mine["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group (group {i}: {len(theirs['params'])} parameters saved, "
                                 f"{len(mine['params'])} here)")
        indices = [as_index(k) for g in saved for k in g["params"]]
        if len(set(indices)) != len(indices):
            raise ValueError(f"loaded state dict's param_groups name a parameter twice: {indices}")
        groups = [self._loaded_hyper_parameters(i, theirs) for i, theirs in enumerate(saved)]
        owners = [(p, settings) for settings, mine in zip(groups, self.param_groups) for p in mine["params"]]
        return groups, dict(zip(indices, owners))

    def _loaded_hyper_parameters(self, i, saved):
        settings = {k: v for k, v in saved.items() if k != "params"}
        missing = sorted(set(self.defaults) - set(settings))
        unknown = sorted(set(settings) - set(self.defaults) - {"initial_lr"})
        if missing or unknown:
            raise ValueError(f"loaded parameter group {i} does not fit {type(self).__name__}: missing "
                             f"{missing or 'nothing'}, unknown {unknown or 'nothing'}")
        check_hyper_parameters(settings)
        if "betas" in settings:
            settings["betas"] = tuple(float(b) for b in settings["betas"])
        for flag in FLAGS:
            if flag in settings:
                settings[flag] = bool(settings[flag])          # a file may hold numpy's bool
        return settings

    def _loaded_state(self, saved, by_index):
        """The saved per-parameter state as this optimizer's ``state``: checked, copied to each parameter's
        dtype and device."""
        if not isinstance(saved, dict):
            raise ValueError(f"loaded state dict's state must be a dict, got {type(saved).__name__}")
        state = {}
        for key, entry in saved.items():
            index = as_index(key)
            where = f"parameter {index}"
            if index not in by_index:
                raise ValueError(f"optimizer state for {where}: the loaded param_groups have no parameter "
                                 f"{index}")
            p, settings = by_index[index]
            keys = self.state_keys_of(settings)
            if not isinstance(entry, dict) or set(entry) != set(keys):
                found = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
                raise ValueError(f"optimizer state for {where} has the entries {found}; {type(self).__name__} "
                                 f"keeps {sorted(keys)}")
            state[p] = {name: self._loaded_entry(p, name, entry[name], where) for name in keys}
        return state

    @staticmethod
    def _loaded_entry(p, name, value, where):
        if name == "step":
            return as_step_count(value, where)
        check_state_array(p, name, value, where)
        return as_array(np.array(to_numpy(value), dtype=p.dtype, order="C"), device=p.device)
