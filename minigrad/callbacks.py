"""Callbacks: what the training loop does after each epoch besides training.

A callback has ``on_epoch_end(trainer, record)`` (``record`` is the epoch's row of the history: epoch,
train_loss, train_accuracy, val_loss, val_accuracy, lr, seconds) and ``on_train_end(trainer)``. It can ask
the loop to stop by setting ``trainer.stop_training = True``. Its ``state_dict()`` goes into every
checkpoint, so a resumed run remembers, say, the best validation loss seen so far.

    EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)    Keras' EarlyStopping
    BestCheckpoint(path, monitor="val_accuracy")                                 keep the best model on disk
"""

import copy
import math

from .checkpoint import load_checkpoint, save_checkpoint


def improvement_mode(monitor):
    """'min' for losses, 'max' for everything else (accuracy, AUC, F1)."""
    return "min" if "loss" in monitor else "max"


class MonitorBest:
    """Remembers the best value of one history column and the epoch it came from."""

    def __init__(self, monitor, mode=None, min_delta=0.0):
        self.monitor, self.mode = monitor, mode or improvement_mode(monitor)
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.min_delta = abs(min_delta)
        self.best, self.best_epoch = (math.inf if self.mode == "min" else -math.inf), None

    def value(self, record):
        if self.monitor not in record:
            raise KeyError(f"{type(self).__name__} monitors {self.monitor!r}, which the history does not have "
                           f"(it has {sorted(record)}); pass validation data to the trainer")
        return record[self.monitor]

    def improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def state_dict(self):
        return copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "path"})

    def load_state_dict(self, state):
        self.__dict__.update(copy.deepcopy(state))

    def on_train_end(self, trainer):
        pass


class EarlyStopping(MonitorBest):
    """Stop when ``monitor`` has not improved (by more than ``min_delta``) for ``patience`` epochs.

    With ``restore_best_weights`` the model gets back the weights of its best epoch when training ends,
    whether it ended by stopping early or by running out of epochs (as Keras 3; Gounder's report relies on
    it: trained to epoch 15, kept epoch 13).
    """

    def __init__(self, monitor="val_loss", patience=3, min_delta=0.0, mode=None, restore_best_weights=False):
        super().__init__(monitor, mode, min_delta)
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.patience, self.restore_best_weights = patience, restore_best_weights
        self.wait, self.best_weights, self.stopped_epoch = 0, None, None

    def on_epoch_end(self, trainer, record):
        value = self.value(record)
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, record["epoch"], 0
            if self.restore_best_weights:
                self.best_weights = trainer.model.state_dict()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = record["epoch"]
            trainer.stop_training = True

    def on_train_end(self, trainer):
        if self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)
            trainer.log(f"restored the weights of epoch {self.best_epoch} ({self.monitor} {self.best:.4f})")


class BestCheckpoint(MonitorBest):
    """Write the model's weights to ``path`` (atomically) whenever ``monitor`` improves; with
    ``restore`` (the default) load them back into the model when training ends.

    Before each write it asks the trainer to check that the weights, buffers and optimizer state are finite
    (``trainer.check_finite``, a :class:`~minigrad.errors.DivergenceError` if not), so a diverged epoch never
    replaces the best weights on disk."""

    def __init__(self, path, monitor="val_accuracy", mode=None, restore=True):
        super().__init__(monitor, mode)
        self.path, self.restore = path, restore

    def on_epoch_end(self, trainer, record):
        value = self.value(record)
        if self.improved(value):
            trainer.check_finite(record)
            self.best, self.best_epoch = value, record["epoch"]
            save_checkpoint(self.path, {"model": trainer.model.state_dict(), "epoch": record["epoch"],
                                        self.monitor: value, "meta": trainer.meta})

    def on_train_end(self, trainer):
        if self.restore and self.best_epoch is not None:
            trainer.model.load_state_dict(load_checkpoint(self.path)["model"])
            trainer.log(f"restored the best weights (epoch {self.best_epoch}, {self.monitor} {self.best:.4f}) "
                        f"from {self.path}")
