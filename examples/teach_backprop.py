"""Backpropagation by hand on a two-layer network, checked against minigrad's autograd and central differences.

    python examples/teach_backprop.py                   # tanh hidden layer
    python examples/teach_backprop.py --activation relu --show 5

The network, in float64, for a batch of N examples with D features, H hidden units and C classes:

    z1 = x W1^T + b1          (N, H)     the first Linear layer
    a1 = tanh(z1)             (N, H)     (or relu)
    z2 = a1 W2^T + b2         (N, C)     the second Linear layer: the logits
    p  = softmax(z2)          (N, C)
    L  = -(1/N) sum_n log p[n, y_n]      cross-entropy against the labels y

What you will see: every gradient, dL/dz2 back to dL/dx, three times over: computed by hand below with
NumPy (each line one use of the chain rule), by minigrad's autograd (``loss.backward()``, with
``retain_grad()`` on the intermediate tensors), and numerically, by nudging each element by +-eps and
recomputing the loss (central differences, ``minigrad.gradcheck.numeric_gradient``). The three must agree
to about 1e-9. The script exits with status 1 if any do not.

Read alongside: ``docs/ops/linear.md`` and ``docs/ops/softmax_cross_entropy.md`` (the derivations),
``minigrad/ops/linear.py``, ``minigrad/ops/elementwise.py`` (Tanh, ReLU), ``minigrad/ops/softmax.py``
(CrossEntropy), and ``minigrad/gradcheck.py``, which runs the same central-difference loop for every op.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone without installing

import minigrad  # noqa: E402  (before NumPy: see minigrad/threads.py)
import numpy as np  # noqa: E402
from minigrad import functional as F  # noqa: E402
from minigrad.gradcheck import numeric_gradient  # noqa: E402
from models.console import run  # noqa: E402

TOLERANCE = 1e-6     # largest |difference| accepted; float64 central differences are good to about 1e-9


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--activation", default="tanh", choices=["tanh", "relu"])
    p.add_argument("--batch", type=int, default=4, help="N, examples in the batch")
    p.add_argument("--features", type=int, default=3, help="D, input features")
    p.add_argument("--hidden", type=int, default=5, help="H, hidden units")
    p.add_argument("--classes", type=int, default=3, help="C, classes")
    p.add_argument("--show", type=int, default=3, help="elements of each gradient to print")
    p.add_argument("--eps", type=float, default=1e-6, help="the central-difference step")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


# ----- the network as a chain of stages, in minigrad ---------------------------------------------------------

def stages(W1, b1, W2, b2, y, activation):
    """The forward pass as (name of the stage's output, function of the previous stage's output) pairs.

    Written as a chain so that the numeric gradient of L with respect to any intermediate (z1, a1, z2) can
    be taken by nudging that tensor and running only the stages after it."""
    act = F.tanh if activation == "tanh" else F.relu
    return [("z1", lambda x: F.linear(x, W1, b1)),
            ("a1", act),
            ("z2", lambda a1: F.linear(a1, W2, b2)),
            ("L", lambda z2: F.cross_entropy(z2, y))]


def run_from(chain, start, value):
    """Run the stages after the one named ``start`` on ``value`` (a Tensor); return the last output."""
    names = [name for name, _ in chain]
    for _, fn in chain[names.index(start) + 1:] if start in names else chain:
        value = fn(value)
    return value


# ----- backprop by hand, in NumPy ----------------------------------------------------------------------------

def by_hand(x, W1, b1, W2, b2, y, activation):
    """Every gradient of L, from the logits back to the input, with the chain rule written out."""
    n = len(x)
    # forward, keeping what backward needs
    z1 = x @ W1.T + b1                       # (N, H)
    a1 = np.tanh(z1) if activation == "tanh" else np.maximum(z1, 0)
    z2 = a1 @ W2.T + b2                      # (N, C)
    p = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)        # softmax, each row sums to 1
    loss = -np.log(p[np.arange(n), y]).mean()
    g = {}
    # L = -(1/N) sum_n log p[n, y_n] and p = softmax(z2): dL/dz2 = (p - onehot(y)) / N
    onehot = np.eye(p.shape[1])[y]
    g["z2"] = (p - onehot) / n               # (N, C)
    # z2 = a1 W2^T + b2, so z2[n, c] = sum_h a1[n, h] W2[c, h] + b2[c]:
    #   dL/dW2[c, h] = sum_n dL/dz2[n, c] a1[n, h]         i.e. dz2^T a1
    g["W2"] = g["z2"].T @ a1                 # (C, H)
    #   dL/db2[c] = sum_n dL/dz2[n, c]                     (b2 is added to every row)
    g["b2"] = g["z2"].sum(axis=0)            # (C,)
    #   dL/da1[n, h] = sum_c dL/dz2[n, c] W2[c, h]         i.e. dz2 W2
    g["a1"] = g["z2"] @ W2                   # (N, H)
    # a1 = tanh(z1) elementwise: da1/dz1 = 1 - tanh(z1)^2 = 1 - a1^2   (relu: 1 where z1 > 0, else 0)
    slope = 1 - a1 ** 2 if activation == "tanh" else (z1 > 0).astype(z1.dtype)
    g["z1"] = g["a1"] * slope                # (N, H)
    # z1 = x W1^T + b1: the same three rules as for the second layer
    g["W1"] = g["z1"].T @ x                  # (H, D)
    g["b1"] = g["z1"].sum(axis=0)            # (H,)
    g["x"] = g["z1"] @ W1                    # (N, D)
    return loss, g


# ----- the comparison --------------------------------------------------------------------------------------

def print_gradient(name, hand, auto, numeric, show):
    print(f"\ndL/d{name}  shape {hand.shape}")
    print(f"  {'element':<10}{'by hand':>16}{'autograd':>16}{'numeric':>16}")
    for j in list(np.ndindex(*hand.shape))[:show]:
        print(f"  {str(j):<10}{hand[j]:>16.10f}{auto[j]:>16.10f}{numeric[j]:>16.10f}")
    d_auto, d_num = np.abs(hand - auto).max(), np.abs(hand - numeric).max()
    print(f"  max |by hand - autograd| = {d_auto:.2e}    max |by hand - numeric| = {d_num:.2e}")
    return d_auto, d_num


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    n, d, h, c = args.batch, args.features, args.hidden, args.classes
    arrays = {"x": rng.standard_normal((n, d)), "W1": rng.standard_normal((h, d)) / np.sqrt(d),
              "b1": 0.1 * rng.standard_normal(h), "W2": rng.standard_normal((c, h)) / np.sqrt(h),
              "b2": 0.1 * rng.standard_normal(c)}
    y = rng.integers(0, c, n)

    # 1. by hand
    loss_hand, hand = by_hand(*arrays.values(), y, args.activation)

    # 2. minigrad's autograd: leaves for x and the weights, retain_grad() on the intermediates
    leaves = {name: minigrad.Tensor(a, requires_grad=True) for name, a in arrays.items()}
    chain = stages(leaves["W1"], leaves["b1"], leaves["W2"], leaves["b2"], y, args.activation)
    value, outputs = leaves["x"], {}
    for name, fn in chain:
        value = outputs[name] = fn(value)
        if name != "L":
            value.retain_grad()
    loss = outputs["L"]
    loss.backward()
    auto = {name: t.grad for name, t in {**leaves, **outputs}.items() if name != "L"}

    # 3. numeric: nudge each element of each leaf (or intermediate) and recompute the loss forward from there
    numeric = {}
    with minigrad.no_grad():
        for name in ("x", "W1", "b1", "W2", "b2"):
            numeric[name] = numeric_gradient(lambda: run_from(chain, None, leaves["x"]).item(),
                                             leaves[name].data, args.eps)
        for name in ("z1", "a1", "z2"):
            point = minigrad.Tensor(outputs[name].data.copy())
            numeric[name] = numeric_gradient(lambda: run_from(chain, name, point).item(), point.data, args.eps)

    print(f"A two-layer network, float64: x ({n}, {d}) -> Linear -> {args.activation} ({h}) -> Linear ({c}) "
          f"-> softmax cross-entropy, labels {y.tolist()}")
    print(f"loss by hand {loss_hand:.12f}, by minigrad {loss.item():.12f}")
    print(f"gradients from the loss backwards (numeric: central differences, eps = {args.eps:g})")
    rows = []
    for name in ("z2", "W2", "b2", "a1", "z1", "W1", "b1", "x"):
        rows.append((name, *print_gradient(name, hand[name], auto[name], numeric[name], args.show)))

    print(f"\n{'gradient':<10}{'|hand - autograd|':>20}{'|hand - numeric|':>20}")
    for name, d_auto, d_num in rows:
        print(f"dL/d{name:<6}{d_auto:>20.2e}{d_num:>20.2e}")
    worst = max(max(d_auto, d_num) for _, d_auto, d_num in rows)
    worst = max(worst, abs(loss_hand - loss.item()))

    # and minigrad.gradcheck on the whole network: the library's own check, with a random upstream gradient
    result = minigrad.gradcheck(lambda x, W1, b1, W2, b2: run_from(stages(W1, b1, W2, b2, y, args.activation),
                                                                   None, x),
                                *arrays.values(), raise_exception=False)
    print(f"\nminigrad.gradcheck over x, W1, b1, W2, b2: {'passed' if result.passed else 'FAILED'} "
          f"(worst: {result.describe()})")
    ok = worst <= TOLERANCE and result.passed
    print(f"max difference {worst:.2e}: " + ("ALL AGREE" if ok else f"DISAGREEMENT above {TOLERANCE:g}"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run(main, resumable=False))
