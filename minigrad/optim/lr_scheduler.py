"""Learning-rate schedules with ``torch.optim.lr_scheduler``'s names, arguments and update rules.

A scheduler changes ``group["lr"]`` in its optimizer's parameter groups. Call ``step()`` once per epoch,
after the epoch's optimizer steps (``ReduceLROnPlateau.step(metric)`` takes the validation metric it
watches). ``state_dict``/``load_state_dict`` save and restore it with a checkpoint.

    StepLR             lr_e = lr_0 * gamma ** floor(e / step_size)
    CosineAnnealingLR  lr_e = eta_min + (lr_0 - eta_min) (1 + cos(pi e / T_max)) / 2
    ReduceLROnPlateau  lr <- max(lr * factor, min_lr) once the metric has not improved for `patience` epochs
"""

import math


class LRScheduler:
    """Base class: remembers each group's initial lr and the number of epochs stepped (``last_epoch``)."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0

    def lr_at(self, base_lr, epoch):
        raise NotImplementedError

    def step(self):
        self.last_epoch += 1
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base, self.last_epoch)

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state):
        self.__dict__.update(state)


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs:

        lr_e = lr_0 * gamma ** floor(e / step_size)          after e epochs, lr_0 the initial lr
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        if step_size < 1:
            raise ValueError(f"StepLR needs step_size >= 1, got {step_size}")
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the initial lr down to ``eta_min`` over ``T_max`` epochs (Loshchilov & Hutter):

        lr_e = eta_min + (lr_0 - eta_min) (1 + cos(pi e / T_max)) / 2      after e epochs: lr_0 at e = 0,
                                                                             eta_min at e = T_max
    """

    def __init__(self, optimizer, T_max, eta_min=0.0):
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR needs T_max >= 1, got {T_max}")
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, eta_min

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class ReduceLROnPlateau(LRScheduler):
    """Cut the learning rate by ``factor`` when a watched metric stops improving (as PyTorch's).

    ``step(metric)`` after each epoch. The metric improves when it beats best * (1 - threshold) (mode 'min',
    threshold_mode 'rel'), best * (1 + threshold) ('max', 'rel'), or best -/+ threshold ('abs').
    After more than ``patience`` epochs in a row without improvement, every group's lr is cut,

        lr <- max(lr * factor, min_lr)          (unless that changes it by less than ``eps``)

    and ``cooldown`` epochs follow in which bad epochs are not counted. The U-Net encoder paper halves the
    lr this way (factor 0.5).
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(f"mode must be 'min' or 'max' and threshold_mode 'rel' or 'abs', got {mode!r}, "
                             f"{threshold_mode!r}")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        super().__init__(optimizer)
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.min_lr, self.eps = cooldown, min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs, self.cooldown_counter = 0, 0

    def is_better(self, value):
        if self.mode == "min":
            bar = self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold
            return value < bar
        bar = self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold
        return value > bar

    def step(self, metric):
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
            for group in self.optimizer.param_groups:
                new_lr = max(group["lr"] * self.factor, self.min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
