"""The training loop every example, benchmark and the command line use.

One epoch of training is, for each batch: forget old gradients, run the model, compute the loss, backward,
optimizer step. Evaluation runs the model in eval mode under ``no_grad`` and collects probabilities.
:class:`Trainer` repeats the two for a number of epochs and adds what a long run needs: a validation pass
and a history row per epoch, a learning-rate schedule, callbacks (early stopping, best checkpoint), and a
checkpoint after every epoch from which ``fit(resume=True)`` continues exactly where it stopped.

A run that diverges stops before it can save broken weights: a NaN or infinite batch loss stops it before the
step (:class:`NonFiniteLossError`), and before each checkpoint every parameter, buffer and optimizer state
array and the validation loss are checked (:class:`~minigrad.errors.DivergenceError`); the last good
checkpoint is left as it was. A loss that grows by orders of magnitude without becoming infinite is logged
as a warning (see :data:`LOSS_GROWTH_WARNING`).
"""

import math
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import functional as F
from . import random
from .autograd import no_grad
from .backend import get_array_module, to_numpy
from .checkpoint import fitting, load_checkpoint, save_checkpoint
from .errors import DivergenceError
from .nn.utils import clip_grad_norm_
from .ops.softmax import check_class_targets
from .optim.lr_scheduler import ReduceLROnPlateau
from .tensor import Tensor

# An epoch whose mean training loss is at least this many times the lowest loss seen so far is reported.
LOSS_GROWTH_WARNING = 100.0


class NonFiniteLossError(DivergenceError):
    """The loss of a batch became NaN or infinite; training stops before that batch's step is taken."""


def train_one_epoch(model, loader, optimizer, loss_fn=F.cross_entropy, epoch=0, progress=True, device=None,
                    clip_grad_norm=None, augment=None):
    """Train for one pass over ``loader``; returns {"loss", "accuracy", "seconds"} (loss and accuracy averaged
    over examples) and "first_loss", the loss of the first batch, before its step.

    ``augment`` (a function of a NumPy batch of images) is applied to each training batch;
    ``clip_grad_norm`` caps the joint norm of the gradients before each step. With ``device="cuda"`` each
    batch is copied to the GPU once, and only the loss and the count of correct predictions (two numbers)
    come back per batch.
    """
    model.train()
    total_loss, correct, seen, first_loss = 0.0, 0, 0, None
    start = time.perf_counter()
    bar = tqdm(loader, desc=f"epoch {epoch + 1}", leave=False, disable=not progress)
    for batch, (x, y) in enumerate(bar):
        if augment is not None:
            x = augment(x)
        optimizer.zero_grad()
        labels = Tensor(y, device=device)
        logits = model(Tensor(x, device=device))
        loss = loss_fn(logits, labels)
        value = loss.item()
        if not math.isfinite(value):
            if loss_fn is F.cross_entropy:   # on a GPU a label out of range gives a NaN loss: name it from the host
                check_class_targets(to_numpy(labels.data), len(y), logits.shape[1])
            raise NonFiniteLossError(f"loss is {value} at epoch {epoch + 1}, batch {batch + 1}; stopping before "
                                     "its step. Lower the learning rate or check the inputs.")
        loss.backward()
        if clip_grad_norm is not None:
            clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        n = len(y)
        if first_loss is None:
            first_loss = value
        total_loss += value * n
        correct += int((logits.data.argmax(axis=1) == labels.data).sum())
        seen += n
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}")
    return {"loss": total_loss / seen, "accuracy": correct / seen, "seconds": time.perf_counter() - start,
            "first_loss": first_loss}


def non_finite_arrays(model, optimizer):
    """Names of the parameters, buffers and optimizer state arrays holding a NaN or an infinity, e.g.
    ["parameter fc.weight", "optimizer state exp_avg_sq of fc.weight"]; empty when all are finite."""
    names = {id(p): name for name, p in model.named_parameters()}
    arrays = [(f"parameter {name}", p._data) for name, p in model.named_parameters()]
    arrays += [(f"buffer {name}", b._data) for name, b in model.named_buffers()]
    arrays += [(f"optimizer state {key} of {names.get(id(p), 'an unnamed parameter')}", value)
               for p, state in optimizer.state.items() for key, value in state.items()]
    return [name for name, array in arrays if not all_finite(array)]


def all_finite(value):
    """False when a float array or number holds a NaN or an infinity (integers and others are finite)."""
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return not isinstance(value, float) or math.isfinite(value)
    return dtype.kind not in "fc" or bool(get_array_module(value).isfinite(value).all())


@no_grad()
def predict_logits(model, images, batch_size=512, device=None):
    """Logits (N, C) as a NumPy array, the model in eval mode, batches of ``batch_size``."""
    model.eval()
    out = [to_numpy(model(Tensor(images[i:i + batch_size], device=device)).data)
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out)


def softmax_rows(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def evaluate(model, images, labels, batch_size=512, device=None):
    """{"loss", "accuracy", "probabilities"} of ``model`` on a whole split."""
    logits = predict_logits(model, images, batch_size, device)
    loss = F.cross_entropy(Tensor(logits), labels).item()
    probs = softmax_rows(logits.astype(np.float64))
    return {"loss": loss, "accuracy": float((logits.argmax(axis=1) == labels).mean()), "probabilities": probs}


class Trainer:
    """Train ``model`` for some epochs, validating, scheduling and checkpointing after each.

        trainer = Trainer(model, optimizer, DataLoader(train, 128, shuffle=True, seed=0), val_data=(xv, yv),
                          callbacks=[EarlyStopping(patience=3, restore_best_weights=True)],
                          checkpoint_path="results/run/checkpoint.npz")
        history = trainer.fit(epochs=15, resume=True)      # a list of per-epoch dicts

    Each epoch: ``train_one_epoch``, then ``evaluate`` on ``val_data`` (if given), a history row
    {epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr, seconds}, the divergence checks, the
    scheduler's step (``ReduceLROnPlateau`` gets the row's ``plateau_metric``), the callbacks, and a checkpoint.

    The checkpoint holds everything the rest of the run depends on: the model's and optimizer's state,
    the scheduler's and callbacks', the data loader's shuffling generator, the augmentation's generator,
    minigrad's own generator (dropout), the epoch and the history. ``fit(resume=True)`` loads it and goes
    on, so a run killed at any moment and resumed ends with the same weights as one never interrupted.

    Divergence never reaches the checkpoint. A NaN or infinite batch loss stops training with
    :class:`NonFiniteLossError` (epoch and batch) before the bad step; after each epoch, before anything is
    saved, a non-finite parameter, buffer, optimizer state array or validation loss stops it with
    :class:`~minigrad.errors.DivergenceError` (epoch and array). Both messages name the last good checkpoint,
    which is left untouched. An epoch whose training loss is at least ``LOSS_GROWTH_WARNING`` (100) times the
    lowest loss so far (the run's first batch, or an earlier epoch's mean) gets a "warning" in its history
    row and a line in the log.
    """

    def __init__(self, model, optimizer, train_loader, val_data=None, loss_fn=F.cross_entropy, scheduler=None,
                 callbacks=(), checkpoint_path=None, clip_grad_norm=None, augment=None, device=None,
                 plateau_metric="val_loss", progress=True, log=print, meta=None):
        self.model, self.optimizer, self.train_loader = model, optimizer, train_loader
        self.val_data, self.loss_fn, self.scheduler = val_data, loss_fn, scheduler
        self.callbacks = list(callbacks)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.clip_grad_norm, self.augment, self.device = clip_grad_norm, augment, device
        self.plateau_metric, self.progress, self.log = plateau_metric, progress, log
        self.meta = dict(meta or {})   # what the run is (model name, settings, ...), saved with each checkpoint
        self.epoch, self.history, self.train_seconds, self.stop_training = 0, [], 0.0, False
        self.first_loss = None         # the run's first batch loss: the scale that loss growth is measured on
        self.saved_epoch = None        # the epoch of the checkpoint on disk that this run wrote or resumed

    # ----- saving and resuming ------------------------------------------------------------------------------
    def state_dict(self):
        """Everything a resumed run needs, as plain arrays and Python values."""
        def state_of(obj):
            return obj.state_dict() if obj is not None and hasattr(obj, "state_dict") else None
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": state_of(self.scheduler), "callbacks": [state_of(c) for c in self.callbacks],
                "loader": state_of(self.train_loader), "augment": state_of(self.augment),
                "rng": random.get_state(), "epoch": self.epoch, "history": self.history,
                "train_seconds": self.train_seconds, "stop_training": self.stop_training,
                "first_loss": self.first_loss, "meta": self.meta}

    def load_state_dict(self, state):
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for obj, saved in [(self.scheduler, state["scheduler"]), (self.train_loader, state["loader"]),
                           (self.augment, state["augment"])] + list(zip(self.callbacks, state["callbacks"])):
            if saved is not None:
                obj.load_state_dict(saved)
        random.set_state(state["rng"])
        self.epoch, self.history = state["epoch"], list(state["history"])
        self.train_seconds, self.stop_training = state["train_seconds"], state["stop_training"]
        self.first_loss = state["first_loss"]

    def restore(self, state):
        """Continue from ``state`` (a checkpoint's content), which is the last good state on disk."""
        with fitting(self.checkpoint_path, "this run's model and optimizer"):
            self.load_state_dict(state)
        self.saved_epoch = self.epoch
        self.log(f"resumed after epoch {self.epoch} from {self.checkpoint_path}")

    def save(self):
        if self.checkpoint_path is not None:
            save_checkpoint(self.checkpoint_path, self.state_dict())
            self.saved_epoch = self.epoch

    def last_good_checkpoint(self):
        """A sentence saying which checkpoint is the last good state, for the divergence messages."""
        if self.checkpoint_path is None:
            return "This run keeps no checkpoint."
        if self.saved_epoch is None:
            return f"No checkpoint of this run has been written yet ({self.checkpoint_path})."
        return f"The last good checkpoint, {self.checkpoint_path} (epoch {self.saved_epoch}), is left untouched."

    # ----- the loop ----------------------------------------------------------------------------------------
    def fit(self, epochs, resume=False):
        """Train until ``epochs`` epochs are done (or a callback stops it); returns the history."""
        if resume and self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.restore(load_checkpoint(self.checkpoint_path))
        while self.epoch < epochs and not self.stop_training:
            with np.errstate(over="ignore", invalid="ignore"):    # NaN and inf are caught below, by name
                record = self.run_epoch(epochs)
            self.check_finite(record)
            self.warn_on_loss_growth(record)
            self.history.append(record)
            self.epoch += 1
            self.log(describe(record, epochs))
            self.step_scheduler(record)
            for callback in self.callbacks:
                callback.on_epoch_end(self, record)
            self.save()
        for callback in self.callbacks:
            callback.on_train_end(self)
        return self.history

    def run_epoch(self, epochs):
        try:
            stats = train_one_epoch(self.model, self.train_loader, self.optimizer, self.loss_fn, epoch=self.epoch,
                                    progress=self.progress, device=self.device,
                                    clip_grad_norm=self.clip_grad_norm, augment=self.augment)
        except NonFiniteLossError as e:
            raise NonFiniteLossError(f"{e} {self.last_good_checkpoint()}") from None
        if self.first_loss is None:
            self.first_loss = stats["first_loss"]
        self.train_seconds += stats["seconds"]
        record = {"epoch": self.epoch + 1, "train_loss": stats["loss"], "train_accuracy": stats["accuracy"],
                  "lr": self.optimizer.param_groups[0]["lr"], "seconds": stats["seconds"]}
        if self.val_data is not None:
            val = evaluate(self.model, *self.val_data, device=self.device)
            record.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
        return record

    def check_finite(self, record):
        """Raise DivergenceError, before anything is saved, if the epoch of ``record`` left a NaN or an
        infinity in the weights, the buffers, the optimizer's state or the validation loss."""
        bad = non_finite_arrays(self.model, self.optimizer)
        if "val_loss" in record and not math.isfinite(record["val_loss"]):
            bad.append("the validation loss")
        if bad:
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
            raise DivergenceError(f"training diverged at epoch {record['epoch']}: {', '.join(bad[:3])}{more} "
                                  f"became NaN or infinite; stopping. {self.last_good_checkpoint()} Lower the "
                                  "learning rate or check the inputs.")

    def warn_on_loss_growth(self, record):
        """Log a warning and put it in ``record`` when the epoch's training loss is LOSS_GROWTH_WARNING times
        the lowest loss so far: the run's first batch loss or an earlier epoch's mean."""
        lowest = min([self.first_loss] + [row["train_loss"] for row in self.history])
        if lowest > 0 and record["train_loss"] >= LOSS_GROWTH_WARNING * lowest:
            record["warning"] = (f"epoch {record['epoch']}: the training loss {record['train_loss']:.4g} is "
                                 f"{record['train_loss'] / lowest:.3g} times the lowest so far ({lowest:.4g}); "
                                 "training is diverging: try a lower learning rate")
            self.log(f"warning: {record['warning']}")

    def step_scheduler(self, record):
        if self.scheduler is None:
            return
        if isinstance(self.scheduler, ReduceLROnPlateau):
            if self.plateau_metric not in record:
                raise KeyError(f"ReduceLROnPlateau watches {self.plateau_metric!r}, which the history does not "
                               f"have (it has {sorted(record)}); pass validation data to the trainer")
            self.scheduler.step(record[self.plateau_metric])
        else:
            self.scheduler.step()


def describe(record, epochs):
    """One line per epoch for the log."""
    text = (f"epoch {record['epoch']}/{epochs}: train loss {record['train_loss']:.4f} "
            f"acc {record['train_accuracy']:.4f}")
    if "val_loss" in record:
        text += f" | val loss {record['val_loss']:.4f} acc {record['val_accuracy']:.4f}"
    return text + f" | lr {record['lr']:.2g} | {record['seconds']:.1f} s"
