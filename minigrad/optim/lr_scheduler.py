"""Learning-rate schedules with ``torch.optim.lr_scheduler``'s names, arguments and update rules.

A scheduler changes ``group["lr"]`` in its optimizer's parameter groups. Call ``step()`` once per epoch,
after the epoch's optimizer steps (``ReduceLROnPlateau.step(metric)`` takes the validation metric it
watches). ``state_dict``/``load_state_dict`` save and restore it with a checkpoint.

    StepLR             lr_e = lr_0 * gamma ** floor(e / step_size)
    MultiStepLR        lr_e = lr_0 * gamma ** (number of milestones <= e)
    ExponentialLR      lr_e = lr_0 * gamma ** e
    CosineAnnealingLR  lr_e = eta_min + (lr_0 - eta_min) (1 + cos(pi e / T_max)) / 2
    ReduceLROnPlateau  lr <- max(lr * factor, min_lr) once the metric has not improved for `patience` epochs

Every setting is checked when a scheduler is made and when its state is loaded (:meth:`LRScheduler.
check_state`): finite numbers in range, so that no schedule can make a learning rate negative or NaN, and a
step that would still do so (a gamma > 1 overflowing after many epochs) raises instead of setting it.
Errors are SettingsError, with PyTorch's messages where PyTorch has one.
"""

import bisect
import math
import numbers

from ..errors import SettingsError
from .optimizer import Optimizer, check_number

INF = math.inf


def check_int(name, value, low):
    """``value`` as an int, if it is an int (not a bool) >= ``low``; else SettingsError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise SettingsError(f"Invalid {name} value: {value!r} (an int >= {low} is expected)")
    return int(value)


class LRScheduler:
    """Base class: remembers each group's initial lr (``base_lrs``) and the number of epochs stepped
    (``last_epoch``). Subclasses pass their settings to ``__init__`` and extend :meth:`check_state`."""

    def __init__(self, optimizer, **settings):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        state = {"base_lrs": [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups],
                 "last_epoch": 0, **settings}
        self.check_state(state)
        for group, base in zip(optimizer.param_groups, state["base_lrs"]):
            group.setdefault("initial_lr", base)
        self.__dict__.update(state)

    def check_state(self, state):
        """Raise SettingsError unless ``state`` (what :meth:`state_dict` returns) is a valid one: one initial
        lr >= 0 per parameter group, last_epoch an int >= 0."""
        base_lrs = state["base_lrs"]
        groups = len(self.optimizer.param_groups)
        if not isinstance(base_lrs, (list, tuple)) or len(base_lrs) != groups:
            raise SettingsError(f"expected {groups} base_lrs, one per parameter group, got {base_lrs!r}")
        for lr in base_lrs:
            check_number("Invalid initial learning rate", lr, 0.0, INF)
        check_int("last_epoch", state["last_epoch"], 0)

    def lr_at(self, base_lr, epoch):
        raise NotImplementedError

    def step(self):
        """Advance one epoch and set every group's lr to the schedule's value for it."""
        epoch = self.last_epoch + 1
        self.set_lrs([self.lr_at(base, epoch) for base in self.base_lrs], epoch)
        self.last_epoch = epoch

    def set_lrs(self, lrs, epoch):
        """Give each group its new lr, after checking that every one is finite and >= 0."""
        for lr in lrs:
            if not (math.isfinite(lr) and lr >= 0):
                raise SettingsError(f"{type(self).__name__} would set the learning rate to {lr} at epoch {epoch}")
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        """Everything but the optimizer: the settings, ``base_lrs``, ``last_epoch`` and any counters."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict`: it must have exactly this scheduler's entries, and valid values
        (checked before anything changes)."""
        expected = set(self.state_dict())
        if not isinstance(state, dict) or set(state) != expected:
            found = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"{type(self).__name__}.load_state_dict expects the entries {sorted(expected)}, "
                             f"got {found}")
        self.check_state(state)
        self.__dict__.update({k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in state.items()})


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs:

        lr_e = lr_0 * gamma ** floor(e / step_size)          after e epochs, lr_0 the initial lr

    step_size is an int >= 1, gamma a finite number >= 0.
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer, step_size=step_size, gamma=gamma)

    def check_state(self, state):
        super().check_state(state)
        check_int("step_size", state["step_size"], 1)
        check_number("Invalid gamma value", state["gamma"], 0.0, INF)

    def lr_at(self, base_lr, epoch):
        try:
            return base_lr * self.gamma ** (epoch // self.step_size)
        except OverflowError:                        # gamma > 1 after many epochs
            return INF


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each of the epochs in ``milestones``, as PyTorch's:

        lr_e = lr_0 * gamma ** (number of milestones m with m <= e)      after e epochs

    e.g. milestones=[30, 80], gamma=0.1: lr_0 for epochs 0-29, lr_0 / 10 for 30-79, lr_0 / 100 from 80 on.
    A milestone given twice multiplies by gamma twice (PyTorch counts them). milestones are ints >= 1, in
    any order (kept sorted); gamma a finite number >= 0.
    """

    def __init__(self, optimizer, milestones, gamma=0.1):
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise SettingsError(f"Invalid milestones value: {milestones!r} (a list of ints >= 1 is expected)")
        milestones = list(milestones)
        for m in milestones:
            check_int("milestones", m, 1)
        super().__init__(optimizer, milestones=sorted(int(m) for m in milestones), gamma=gamma)

    def check_state(self, state):
        super().check_state(state)
        milestones = state["milestones"]
        if not isinstance(milestones, (list, tuple)):
            raise SettingsError(f"Invalid milestones value: {milestones!r} (a list of ints >= 1 is expected)")
        for m in milestones:
            check_int("milestones", m, 1)
        if list(milestones) != sorted(milestones):
            raise SettingsError(f"Invalid milestones value: {list(milestones)} (sorted ints are expected)")
        check_number("Invalid gamma value", state["gamma"], 0.0, INF)

    def lr_at(self, base_lr, epoch):
        try:
            return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)
        except OverflowError:                        # gamma > 1 and many milestones
            return INF


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch, as PyTorch's:

        lr_e = lr_0 * gamma ** e          after e epochs

    gamma is a finite number >= 0 (< 1 to decay; PyTorch's common choice is 0.9 to 0.99).
    """

    def __init__(self, optimizer, gamma):
        super().__init__(optimizer, gamma=gamma)

    def check_state(self, state):
        super().check_state(state)
        check_number("Invalid gamma value", state["gamma"], 0.0, INF)

    def lr_at(self, base_lr, epoch):
        try:
            return base_lr * self.gamma ** epoch
        except OverflowError:                        # gamma > 1 after many epochs
            return INF


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the initial lr down to ``eta_min`` over ``T_max`` epochs (Loshchilov & Hutter):

        lr_e = eta_min + (lr_0 - eta_min) (1 + cos(pi e / T_max)) / 2      after e epochs: lr_0 at e = 0,
                                                                             eta_min at e = T_max

    T_max is an int >= 1, eta_min a finite number >= 0 (lr_e then stays between eta_min and lr_0).
    """

    def __init__(self, optimizer, T_max, eta_min=0.0):
        super().__init__(optimizer, T_max=T_max, eta_min=eta_min)

    def check_state(self, state):
        super().check_state(state)
        check_int("T_max", state["T_max"], 1)
        check_number("Invalid eta_min value", state["eta_min"], 0.0, INF)

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class ReduceLROnPlateau(LRScheduler):
    """Cut the learning rate by ``factor`` when a watched metric stops improving (as PyTorch's).

    ``step(metric)`` after each epoch. The metric improves when it beats best * (1 - threshold) (mode 'min',
    threshold_mode 'rel'), best * (1 + threshold) ('max', 'rel'), or best -/+ threshold ('abs').
    After more than ``patience`` epochs in a row without improvement, every group's lr is cut,

        lr <- max(lr * factor, min_lr)          (unless that changes it by less than ``eps``)

    and ``cooldown`` epochs follow in which bad epochs are not counted. The U-Net encoder paper halves the
    lr this way (factor 0.5). factor is in (0, 1); patience and cooldown ints >= 0; threshold, eps and
    min_lr finite and >= 0 (min_lr a number, or a list of one per parameter group, as PyTorch's).
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        super().__init__(optimizer, mode=mode, factor=factor, patience=patience, threshold=threshold,
                         threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr, eps=eps,
                         best=INF if mode == "min" else -INF, num_bad_epochs=0, cooldown_counter=0)

    def check_state(self, state):
        super().check_state(state)
        if state["mode"] not in ("min", "max"):
            raise SettingsError(f"mode {state['mode']} is unknown!")
        if state["threshold_mode"] not in ("rel", "abs"):
            raise SettingsError(f"threshold mode {state['threshold_mode']} is unknown!")
        factor = check_number("Invalid factor value", state["factor"], -INF, INF)
        if factor >= 1.0:
            raise SettingsError("Factor should be < 1.0.")
        if factor <= 0.0:
            raise SettingsError("Factor should be > 0.0.")
        for name in ("patience", "cooldown", "num_bad_epochs", "cooldown_counter"):
            check_int(name, state[name], 0)
        for name in ("threshold", "eps"):
            check_number(f"Invalid {name} value", state[name], 0.0, INF)
        for lr in self.min_lrs(state["min_lr"]):
            check_number("Invalid min_lr value", lr, 0.0, INF)
        best = state["best"]
        if isinstance(best, bool) or not isinstance(best, numbers.Real) or math.isnan(best):
            raise SettingsError(f"Invalid best value: {best!r} (a number, or +-inf, is expected)")

    def min_lrs(self, min_lr):
        """min_lr as one number per parameter group."""
        groups = len(self.optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != groups:
                raise SettingsError(f"expected {groups} min_lrs, got {len(min_lr)}")
            return list(min_lr)
        return [min_lr] * groups

    def is_better(self, value):
        if self.mode == "min":
            bar = self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold
            return value < bar
        bar = self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold
        return value > bar

    def step(self, metric):
        """Record one epoch's ``metric``; cut every group's lr after more than ``patience`` bad epochs."""
        value = float(metric)
        self.last_epoch += 1
        if self.is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            lrs = []
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs(self.min_lr)):
                new_lr = max(group["lr"] * self.factor, min_lr)
                lrs.append(new_lr if group["lr"] - new_lr > self.eps else group["lr"])
            self.set_lrs(lrs, self.last_epoch)
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
