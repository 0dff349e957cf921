"""The training loop every example, benchmark and the command line use.

One epoch of training is, for each batch: forget old gradients, run the model, compute the loss, backward,
optimizer step. Evaluation runs the model in eval mode under ``no_grad`` and collects probabilities.
:class:`Trainer` repeats the two for a number of epochs and adds what a long run needs: a validation pass
and a history row per epoch, a learning-rate schedule, callbacks (early stopping, best checkpoint), and a
checkpoint after every epoch from which ``fit(resume=True)`` continues exactly where it stopped.
"""

import math
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import functional as F
from . import random
from .autograd import no_grad
from .backend import to_numpy
from .checkpoint import load_checkpoint, save_checkpoint
from .nn.utils import clip_grad_norm_
from .optim.lr_scheduler import ReduceLROnPlateau
from .tensor import Tensor


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training stops rather than continue with broken weights."""


def train_one_epoch(model, loader, optimizer, loss_fn=F.cross_entropy, epoch=0, progress=True, device=None,
                    clip_grad_norm=None, augment=None):
    """Train for one pass over ``loader``; returns {"loss", "accuracy", "seconds"} averaged over examples.

    ``augment`` (a function of a NumPy batch of images) is applied to each training batch;
    ``clip_grad_norm`` caps the joint norm of the gradients before each step. With ``device="cuda"`` each
    batch is copied to the GPU once, and only the loss and the count of correct predictions (two numbers)
    come back per batch.
    """
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
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
            raise NonFiniteLossError(f"loss is {value} at epoch {epoch + 1}, batch {batch + 1}; stopping. "
                                     "Lower the learning rate or check the inputs.")
        loss.backward()
        if clip_grad_norm is not None:
            clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        n = len(y)
        total_loss += value * n
        correct += int((logits.data.argmax(axis=1) == labels.data).sum())
        seen += n
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}")
    return {"loss": total_loss / seen, "accuracy": correct / seen, "seconds": time.perf_counter() - start}


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
                          checkpoint_path="results/run/checkpoint.pkl")
        history = trainer.fit(epochs=15, resume=True)      # a list of per-epoch dicts

    Each epoch: ``train_one_epoch``, then ``evaluate`` on ``val_data`` (if given), a history row
    {epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr, seconds}, the scheduler's step
    (``ReduceLROnPlateau`` gets the row's ``plateau_metric``), the callbacks, and a checkpoint.

    The checkpoint holds everything the rest of the run depends on: the model's and optimizer's state,
    the scheduler's and callbacks', the data loader's shuffling generator, the augmentation's generator,
    minigrad's own generator (dropout), the epoch and the history. ``fit(resume=True)`` loads it and goes
    on, so a run killed at any moment and resumed ends with the same weights as one never interrupted.
    A NaN or infinite loss stops training with :class:`NonFiniteLossError` naming epoch and batch, before
    the bad step is taken; the last checkpoint is then the last good state.
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

    # ----- saving and resuming ------------------------------------------------------------------------------
    def state_dict(self):
        """Everything a resumed run needs, as plain arrays and Python values."""
        def state_of(obj):
            return obj.state_dict() if obj is not None and hasattr(obj, "state_dict") else None
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": state_of(self.scheduler), "callbacks": [state_of(c) for c in self.callbacks],
                "loader": state_of(self.train_loader), "augment": state_of(self.augment),
                "rng": random.get_state(), "epoch": self.epoch, "history": self.history,
                "train_seconds": self.train_seconds, "stop_training": self.stop_training, "meta": self.meta}

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

    def save(self):
        if self.checkpoint_path is not None:
            save_checkpoint(self.checkpoint_path, self.state_dict())

    # ----- the loop ----------------------------------------------------------------------------------------
    def fit(self, epochs, resume=False):
        """Train until ``epochs`` epochs are done (or a callback stops it); returns the history."""
        if resume and self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.load_state_dict(load_checkpoint(self.checkpoint_path))
            self.log(f"resumed after epoch {self.epoch} from {self.checkpoint_path}")
        while self.epoch < epochs and not self.stop_training:
            record = self.run_epoch(epochs)
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
        stats = train_one_epoch(self.model, self.train_loader, self.optimizer, self.loss_fn, epoch=self.epoch,
                                progress=self.progress, device=self.device, clip_grad_norm=self.clip_grad_norm,
                                augment=self.augment)
        self.train_seconds += stats["seconds"]
        record = {"epoch": self.epoch + 1, "train_loss": stats["loss"], "train_accuracy": stats["accuracy"],
                  "lr": self.optimizer.param_groups[0]["lr"], "seconds": stats["seconds"]}
        if self.val_data is not None:
            val = evaluate(self.model, *self.val_data, device=self.device)
            record.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
        return record

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
