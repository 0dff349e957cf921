"""An LSTM unrolled step by step, forward and back: the gates at every step, then backpropagation through time.

    python examples/teach_lstm_unrolled.py
    python examples/teach_lstm_unrolled.py --steps 6 --hidden 2

A tiny ``minigrad.nn.LSTMCell`` (float64) reads a short random sequence x_1 .. x_T from a random initial
state (h_0, c_0). Each step, in the gate order i, f, g, o of ``minigrad.ops.rnn.LSTMCell``:

    a = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh          split into a_i, a_f, a_g, a_o
    i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
    c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)

The loss reads every step: L = 1/2 sum_t |h_t - y_t|^2 for random targets y_t.

What you will see:

1. forward: at each step the four gates, computed here with NumPy from the cell's weights, and the cell
   and hidden state, checked against what minigrad's cell returned;
2. backward through time, from the last step to the first: dL/dh_t and dL/dc_t computed by hand with the
   formulas in the docstring of ``minigrad.ops.rnn.LSTMCell``, beside the gradients minigrad's autograd
   stored on the same tensors (``retain_grad()``). dL/dh_t has two sources, the loss at step t and step
   t+1 (through W_hh); dL/dc_t reaches c_t only from step t+1 (through f_{t+1}), and inside step t also
   through h_t = o tanh(c_t). The weight gradients are summed over the steps and compared with the cell's;
3. the whole-layer ``minigrad.nn.LSTM`` (one op for the whole sequence, ``LSTMLayer``) given the same
   weights: the same outputs, loss and gradients as the unrolled cell.

Exits with status 1 if anything disagrees. Read alongside: ``docs/ops/lstm.md``, ``minigrad/ops/rnn.py``
(``LSTMCell`` and ``LSTMLayer``) and ``minigrad/nn/rnn.py``.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone without installing

import minigrad  # noqa: E402  (before NumPy: see minigrad/threads.py)
import numpy as np  # noqa: E402
from minigrad import nn  # noqa: E402
from models.console import run  # noqa: E402

TOLERANCE = 1e-10    # everything here is exact float64 arithmetic, in a different order


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=4, help="T, the sequence length")
    p.add_argument("--input", type=int, default=2, help="I, input features per step")
    p.add_argument("--hidden", type=int, default=3, help="H, the state size")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def vec(a):
    return np.array2string(np.asarray(a).ravel(), precision=4, floatmode="fixed", sign=" ", suppress_small=True)


def grad_of(t):
    """A tensor's .grad, or zeros where no gradient reached it (c_T: the loss reads only h)."""
    return np.zeros(t.shape) if t.grad is None else t.grad


class Check:
    """Keeps the largest difference seen, to decide the exit status."""

    def __init__(self):
        self.worst = 0.0

    def __call__(self, a, b):
        d = float(np.abs(np.asarray(a) - np.asarray(b)).max())
        self.worst = max(self.worst, d)
        return d


def forward_by_hand(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """The gates and states of every step in NumPy; returns a list of dicts, one per step."""
    steps, h, c = [], h0, c0
    for x_t in x:
        a = x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh           # (B, 4H)
        a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)           # the gate order i, f, g, o
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        steps.append(dict(x=x_t, h_prev=h, c_prev=c, i=i, f=f, g=g, o=o, c=c_new, h=h_new))
        h, c = h_new, c_new
    return steps


def main(argv=None):
    args = parse_args(argv)
    T, I, H = args.steps, args.input, args.hidden
    minigrad.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    cell = nn.LSTMCell(I, H, dtype="float64")
    x = rng.standard_normal((T, 1, I))                         # a batch of one sequence
    y = 0.5 * rng.standard_normal((T, 1, H))                   # the targets
    h0_array, c0_array = 0.5 * rng.standard_normal((2, 1, H))
    w_ih, w_hh, b_ih, b_hh = (p.data for p in cell.weights())
    check = Check()

    # ----- forward, with minigrad, keeping every state for its gradient --------------------------------------
    h0 = minigrad.Tensor(h0_array.copy(), requires_grad=True)
    c0 = minigrad.Tensor(c0_array.copy(), requires_grad=True)
    hs, cs, loss, (h, c) = [], [], 0.0, (h0, c0)
    for t in range(T):
        h, c = cell(minigrad.Tensor(x[t]), (h, c))
        hs.append(h.retain_grad())
        cs.append(c.retain_grad())
        loss = loss + 0.5 * ((h - y[t]) ** 2).sum()
    loss.backward()

    steps = forward_by_hand(x, h0_array, c0_array, w_ih, w_hh, b_ih, b_hh)
    print(f"LSTMCell(input {I}, hidden {H}), float64, over T = {T} steps; gates in the order i, f, g, o")
    print(f"h_0 = {vec(h0_array)}\nc_0 = {vec(c0_array)}")
    print("\n1. forward, step by step (i, f, o in (0, 1), g in (-1, 1))")
    for t, s in enumerate(steps, start=1):
        print(f"\nstep t = {t}: x_t = {vec(s['x'])}")
        for gate, meaning in (("i", "input gate: how much of g to write"),
                              ("f", "forget gate: how much of c to keep"),
                              ("g", "candidate values"),
                              ("o", "output gate: how much of tanh(c) to show")):
            print(f"  {gate}   = {vec(s[gate])}   {meaning}")
        d = max(check(s["c"], cs[t - 1].data), check(s["h"], hs[t - 1].data))
        print(f"  c_t = {vec(s['c'])}   = f * c_(t-1) + i * g")
        print(f"  h_t = {vec(s['h'])}   = o * tanh(c_t)      (max |by hand - minigrad| = {d:.1e})")
    print(f"\nL = 1/2 sum_t |h_t - y_t|^2 = {loss.item():.10f}")

    # ----- backward through time, by hand ----------------------------------------------------------------
    print("\n2. backward through time, from the last step to the first")
    print("   dL/dh_t = (h_t - y_t) + dA_(t+1) W_hh      dL/dc_t (from step t+1) = dc_(t+1) * f_(t+1)")
    print("   inside step t: dc = dL/dc_t + dL/dh_t * o * (1 - tanh(c_t)^2), "
          "then dA = dL/d(a_i, a_f, a_g, a_o)")
    dW_ih, dW_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b_ih)
    dh_next, dc_next = np.zeros((1, H)), np.zeros((1, H))     # what step t+1 sends back; nothing after T
    for t in range(T, 0, -1):
        s = steps[t - 1]
        dh = (s["h"] - y[t - 1]) + dh_next                    # the loss at step t, and step t+1
        dc_from_next = dc_next                                # c_t reaches L through step t+1 ...
        tanh_c = np.tanh(s["c"])
        dc = dc_from_next + dh * s["o"] * (1 - tanh_c ** 2)   # ... and through h_t = o tanh(c_t)
        do = dh * tanh_c
        di, df, dg = dc * s["g"], dc * s["c_prev"], dc * s["i"]      # c_t = f c_(t-1) + i g
        dA = np.concatenate([di * s["i"] * (1 - s["i"]),      # sigmoid' = s (1 - s)
                             df * s["f"] * (1 - s["f"]),
                             dg * (1 - s["g"] ** 2),          # tanh' = 1 - tanh^2
                             do * s["o"] * (1 - s["o"])], axis=1)
        dW_ih += dA.T @ s["x"]                                # a = x W_ih^T + h W_hh^T + b: as for Linear
        dW_hh += dA.T @ s["h_prev"]
        db += dA.sum(axis=0)
        dh_next = dA @ w_hh                                   # to h_(t-1)
        dc_next = dc * s["f"]                                 # to c_(t-1)
        auto_h, auto_c = grad_of(hs[t - 1]), grad_of(cs[t - 1])
        print(f"\nstep t = {t}")
        print(f"  dL/dh_t by hand  {vec(dh)}   minigrad {vec(auto_h)}   |diff| {check(dh, auto_h):.1e}")
        print(f"  dL/dc_t by hand  {vec(dc_from_next)}   minigrad {vec(auto_c)}   "
              f"|diff| {check(dc_from_next, auto_c):.1e}")
        print(f"  dc, with h_t     {vec(dc)}   (inside the step's backward: minigrad keeps no tensor for it)")
    print("\nstep t = 0, the initial state (leaves: minigrad stores their .grad)")
    print(f"  dL/dh_0 by hand  {vec(dh_next)}   minigrad {vec(h0.grad)}   |diff| {check(dh_next, h0.grad):.1e}")
    print(f"  dL/dc_0 by hand  {vec(dc_next)}   minigrad {vec(c0.grad)}   |diff| {check(dc_next, c0.grad):.1e}")

    print("\n   weight gradients, summed over the steps:")
    for name, hand, p in (("W_ih", dW_ih, cell.weight_ih), ("W_hh", dW_hh, cell.weight_hh),
                          ("b_ih", db, cell.bias_ih), ("b_hh", db, cell.bias_hh)):
        print(f"  dL/d{name} {str(hand.shape):<8} max |by hand - minigrad| = {check(hand, p.grad):.1e}")

    # ----- the whole layer: one op over the sequence --------------------------------------------------------
    lstm = nn.LSTM(I, H, dtype="float64")
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(lstm, name + "_l0").data[...] = getattr(cell, name).data
    h0_layer = minigrad.Tensor(h0_array[None].copy(), requires_grad=True)     # (layers, B, H)
    c0_layer = minigrad.Tensor(c0_array[None].copy(), requires_grad=True)
    output, (h_n, c_n) = lstm(minigrad.Tensor(x), (h0_layer, c0_layer))       # output (T, B, H)
    layer_loss = 0.5 * ((output - y) ** 2).sum()
    layer_loss.backward()
    print("\n3. nn.LSTM, the whole layer as one op (LSTMLayer), with the same weights")
    rows = [("outputs h_1..h_T", output.data, np.stack([t.data for t in hs])),
            ("final cell c_T", c_n.data[0], cs[-1].data),
            ("loss", layer_loss.item(), loss.item()),
            ("dL/dh_0", h0_layer.grad[0], h0.grad), ("dL/dc_0", c0_layer.grad[0], c0.grad)]
    rows += [(f"dL/d{name}", getattr(lstm, name + "_l0").grad, getattr(cell, name).grad)
             for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    for label, layer, unrolled in rows:
        print(f"  {label:<18} max |layer - unrolled cell| = {check(layer, unrolled):.1e}")

    ok = check.worst <= TOLERANCE
    print(f"\nmax difference {check.worst:.2e}: " + ("ALL AGREE" if ok else f"DISAGREEMENT above {TOLERANCE:g}"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run(main, resumable=False))
