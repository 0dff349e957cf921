"""Draw the computation graph of one training step of a registered model: forward, cross-entropy, backward.

    python examples/draw_graph.py                                   # Pinto & Silva's CNN -> docs/img/pinto_cnn_step.svg
    python examples/draw_graph.py --model mlnn --out /tmp/mlnn.svg
    python examples/draw_graph.py --out /tmp/cnn.png --rankdir LR

A batch of two random 3x28x28 images (BloodMNIST's shape) goes through the model, the loss is the
cross-entropy against two labels, and ``loss.backward()`` fills every parameter's ``.grad``. The picture
shows each op (Conv2d, ReLU, MaxPool2d, Reshape, Linear, CrossEntropy), each tensor's shape, each
parameter's name and the L2 norm of its gradient. Read ``minigrad/viz.py`` for what the picture shows and
``minigrad/autograd.py`` for how the graph was recorded. Needs Graphviz's ``dot`` for .svg/.png; without
it the DOT text is written beside the path asked for.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a clone without installing

import minigrad  # noqa: E402  (before NumPy: see minigrad/threads.py)
import numpy as np  # noqa: E402
from minigrad import functional as F  # noqa: E402
from minigrad.viz import draw_graph  # noqa: E402
from models import create_model, list_models  # noqa: E402
from models.console import run  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="cnn", choices=list_models(), help="a registered model (default: cnn)")
    p.add_argument("--out", default=str(ROOT / "docs" / "img" / "pinto_cnn_step.svg"),
                   help="where to write: .svg, .png or .dot (default: docs/img/pinto_cnn_step.svg)")
    p.add_argument("--batch", type=int, default=2, help="images in the batch (default 2)")
    p.add_argument("--rankdir", default="TB", choices=["TB", "LR"], help="top to bottom or left to right")
    return p.parse_args(argv)


def one_step(model, batch, seed=0):
    """Forward a batch of random 3x28x28 images, take the cross-entropy loss, backward; return both."""
    rng = np.random.default_rng(seed)
    images = minigrad.Tensor(rng.standard_normal((batch, 3, 28, 28)).astype(np.float32))
    model.train()
    logits = model(images)
    labels = rng.integers(0, logits.shape[1], batch)             # one random class per image
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    return images, loss


def main(argv=None):
    args = parse_args(argv)
    minigrad.manual_seed(0)                     # the same weights, so the same picture, on every run
    model = create_model(args.model)
    images, loss = one_step(model, args.batch)
    names = dict(model.named_parameters())
    names["images"] = images
    names["loss"] = loss
    title = (f"One training step of '{args.model}': {args.batch} images 3x28x28, cross-entropy loss, "
             f"after loss.backward()")
    written = draw_graph(loss, args.out, params=names, title=title, rankdir=args.rankdir)
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, resumable=False))
