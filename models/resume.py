"""Resuming a run with the settings it was trained with, or with changes that are applied and recorded.

A checkpoint's meta records what the run is: the model and its arguments, the task, the seed, the --limit,
and the recipe's settings (lr, batch_size, epochs, ...). On ``--resume`` the settings asked for are compared
with the recorded ones, and any difference is refused, every one listed in one
:class:`~minigrad.errors.SettingsError`, unless it is one of the :data:`CHANGEABLE` settings and
``--change SETTING`` asks for it:

    lr          the new rate is set on every parameter group at once, and becomes the schedule's base rate
    batch_size  the loader's batch size from the next epoch
    epochs      the target number of epochs; it may grow without --change (it is where the run stops, not
                how it trains), unless a cosine schedule's length depends on it

An option left out keeps the recorded value. The model, its arguments, the task, the seed and the limit can
never change: the data subset, the weights' shapes and the random states all come from them (see
:data:`FIXED`). Each change applied is recorded as {"epoch": e, "setting", "from", "to"}, ``e`` being the
number of epochs trained before it, in the meta of every later checkpoint and in report.json.
"""

from minigrad.errors import SettingsError
from minigrad.optim.lr_scheduler import CosineAnnealingLR

CHANGEABLE = ("lr", "batch_size", "epochs")
FIXED = {
    "model": "it would be another run; start it in another output folder",
    "model_kwargs": "the weights in the checkpoint have the old model's shapes",
    "task": "it would be another run on other classes; start it in another output folder",
    "seed": "the random states (shuffling, dropout, augmentation) come from the checkpoint",
    "limit": "it would be another run on another training subset; start it in another output folder",
}


def change_name(text):
    """The setting named by ``--change TEXT`` ("batch-size" or "batch_size"); SettingsError saying why not."""
    name = text.replace("-", "_")
    if name in CHANGEABLE:
        return name
    if name in FIXED:
        raise SettingsError(f"{name} cannot change on resume: {FIXED[name]}")
    raise SettingsError(f"--change takes one of {', '.join(CHANGEABLE)}; got {text!r}")


def resume_settings(folder, meta, identity, overrides, changes, epochs_done):
    """(settings, changes to apply) for resuming the run whose checkpoint ``meta`` is in ``folder``.

    ``identity`` holds the FIXED values asked for now (model, model_kwargs, task, seed, limit);
    ``overrides`` the settings given explicitly (None: left out); ``changes`` the --change names;
    ``epochs_done`` how many epochs the checkpoint holds. The settings are the recorded ones with the changes
    applied. Raises SettingsError listing every difference that is not allowed.
    """
    settings = dict(meta["settings"])
    asked = {key: value for key, value in overrides.items() if value is not None}
    fixed = [(key, meta.get(key), identity[key]) for key in FIXED if meta.get(key) != identity[key]]
    fixed += [(key, settings.get(key), value) for key, value in asked.items()
              if key not in CHANGEABLE and settings.get(key) != value]
    unflagged, applied, problems = [], [], []
    for key, value in asked.items():
        old = settings.get(key)
        if key not in CHANGEABLE or value == old:
            continue
        if key == "epochs" and value < epochs_done:
            problems.append(f"the run has already trained {epochs_done} epochs, more than --epochs {value}")
        elif key in changes or (key == "epochs" and value > old and "cosine" not in settings):
            applied.append({"epoch": epochs_done, "setting": key, "from": old, "to": value})
        else:
            unflagged.append((key, old, value))
    problems += [f"--change {key} needs --{key.replace('_', '-')} with the new value"
                 for key in changes if key not in asked]
    if fixed or unflagged or problems:
        raise SettingsError(refusal(folder, fixed, unflagged, problems))
    settings.update({change["setting"]: change["to"] for change in applied})
    return settings, applied


def refusal(folder, fixed, unflagged, problems):
    """The one message listing every difference between the recorded run and the resumed one."""
    differences = unflagged + fixed
    parts = []
    if differences:
        was = ", ".join(f"{key}={old}" for key, old, _ in differences)
        now = ", ".join(f"{key}={new}" for key, _, new in differences)
        parts.append(f"the run in {folder} was trained with {was}; you asked for {now}.")
    if unflagged:
        flags = " ".join(f"--change {key}" for key, _, _ in unflagged)
        them = "the changes, or leave those options" if len(unflagged) > 1 else "the change, or leave the option"
        parts.append(f"Pass {flags} (repeatable) to apply {them} out.")
    for key, _, _ in fixed:
        reason = FIXED.get(key, f"only {', '.join(CHANGEABLE)} can change on resume")
        parts.append(f"{key} cannot change on resume: {reason}.")
    parts += [f"{problem}." for problem in problems]
    return "--resume: " + " ".join(parts)


def apply_change(trainer, change):
    """Make ``trainer`` (restored from its checkpoint) train with ``change["to"]`` from now on."""
    setting, value = change["setting"], change["to"]
    if setting == "lr":
        set_learning_rate(trainer.optimizer, trainer.scheduler, value)
    elif setting == "batch_size":
        trainer.train_loader.batch_size = value
    elif setting == "epochs" and isinstance(trainer.scheduler, CosineAnnealingLR):
        trainer.scheduler.T_max = value
    trainer.log(f"after epoch {change['epoch']}: {setting} changed from {change['from']} to {value}")


def set_learning_rate(optimizer, scheduler, lr):
    """Set ``lr`` on every parameter group and as the base rate a scheduler computes its rates from."""
    for group in optimizer.param_groups:
        group["lr"] = lr
        if "initial_lr" in group:
            group["initial_lr"] = lr
    if scheduler is not None:
        scheduler.base_lrs = [lr] * len(optimizer.param_groups)
