"""The small training and evaluation loops the examples and benchmarks share.

One epoch of training is, for each batch: forget old gradients, run the model, compute the loss, backward,
optimizer step. Evaluation runs the model in eval mode under ``no_grad`` and collects probabilities.
"""

import math
import time

import numpy as np
from tqdm.auto import tqdm

from . import functional as F
from .autograd import no_grad
from .backend import to_numpy
from .tensor import Tensor


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training stops rather than continue with broken weights."""


def train_one_epoch(model, loader, optimizer, loss_fn=F.cross_entropy, epoch=0, progress=True, device=None):
    """Train for one pass over ``loader``; returns {"loss", "accuracy", "seconds"} averaged over examples."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    bar = tqdm(loader, desc=f"epoch {epoch + 1}", leave=False, disable=not progress)
    for batch, (x, y) in enumerate(bar):
        optimizer.zero_grad()
        logits = model(Tensor(x, device=device))
        loss = loss_fn(logits, y)
        value = loss.item()
        if not math.isfinite(value):
            raise NonFiniteLossError(f"loss is {value} at epoch {epoch + 1}, batch {batch + 1}; stopping. "
                                     "Lower the learning rate or check the inputs.")
        loss.backward()
        optimizer.step()
        n = len(y)
        total_loss += value * n
        correct += int((to_numpy(logits.data).argmax(axis=1) == y).sum())
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
