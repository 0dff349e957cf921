"""Gradient checking: compare every analytic gradient with a finite-difference estimate, in float64.

For a function y = f(x1, x2, ...) and a fixed random upstream gradient G (the same shape as y), define the
scalar  s(x) = sum(G * f(x)).  Its exact gradient ds/dxi is exactly what ``y.backward(G)`` computes: the
vector-Jacobian product. Its numerical estimate, element by element, is the central difference

    ds/dx[j]  ~  (s(x + eps e_j) - s(x - eps e_j)) / (2 eps)      (error O(eps^2))

Every element of every floating input is checked. G is random, not all-ones: with G = 1 the check only sees
column sums of the Jacobian, and those vanish for zero-mean outputs (softmax, batch norm), hiding errors.

Use it from Python:

    from minigrad import gradcheck
    gradcheck(lambda a, b: a @ b, np.random.randn(3, 4), np.random.randn(4, 2))

or watch one from the shell:

    python -m minigrad.gradcheck matmul --shape 3 4
    python -m minigrad.gradcheck --list
"""

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from .autograd import no_grad
from .backend import device_of, to_numpy
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with its finite-difference estimate."""


@dataclass
class InputCheck:
    """The comparison for one input: both gradients in full and the worst element."""

    position: int
    analytic: np.ndarray
    numeric: np.ndarray
    worst_index: tuple
    worst_excess: float  # |analytic - numeric| - (atol + rtol |numeric|) at the worst element; <= 0 passes

    @property
    def passed(self):
        return self.worst_excess <= 0


@dataclass
class GradcheckResult:
    checks: list
    atol: float
    rtol: float

    @property
    def passed(self):
        return all(c.passed for c in self.checks)

    def worst(self):
        return max(self.checks, key=lambda c: c.worst_excess)

    def describe(self):
        c = self.worst()
        a, n = c.analytic[c.worst_index], c.numeric[c.worst_index]
        return (f"input {c.position}, element {c.worst_index}: analytic {a:.10g}, numeric {n:.10g}, "
                f"|difference| {abs(a - n):.3g} (allowed {self.atol:g} + {self.rtol:g} * |numeric|)")


def _refuse_gpu_inputs(inputs):
    """gradcheck runs on the CPU: a GPU input is refused by name, not silently copied to the host."""
    for position, x in enumerate(inputs):
        where = device_of(x.data if isinstance(x, Tensor) else x)
        if where != "cpu":
            raise ValueError(f"gradcheck runs on the CPU only: input {position} is on {where}. Pass it as a "
                             "NumPy array or .cpu() tensor; tests/test_backends.py compares the GPU with the CPU")


def _as_float64_leaf(x):
    array = to_numpy(x.data if isinstance(x, Tensor) else np.asarray(x))
    if array.dtype.kind != "f":
        return x, False  # integer targets and the like are passed through unchanged
    return Tensor(np.array(array, dtype=np.float64), requires_grad=True), True


def numeric_gradient(loss_of, array, eps=1e-6, indices=None):
    """dL/d(array) by central differences, one element at a time:

        dL/da_j  ~  (L(a + eps e_j) - L(a - eps e_j)) / (2 eps)

    with an error of order eps^2 (the eps^1 terms of the two Taylor expansions cancel). ``loss_of()``
    computes L as a float from ``array``'s current values; ``array`` is changed in place and restored.
    ``indices`` limits the estimate to those elements (the others stay 0); by default every element.
    Returns a float64 array of ``array``'s shape.
    """
    grad = np.zeros(array.shape)
    for j in (np.ndindex(*array.shape) if indices is None else indices):
        original = array[j]
        array[j] = original + eps
        plus = loss_of()
        array[j] = original - eps
        minus = loss_of()
        array[j] = original
        grad[j] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """Check ``fn``'s analytic gradients against central differences for every floating input element.

    Args:
        fn: takes Tensors (one per input) and returns one Tensor. It must be deterministic: reseed inside
            it (``minigrad.manual_seed``) if it draws random numbers, as dropout does.
        inputs: arrays, Tensors or numbers, on the CPU (a GPU input raises ValueError); floating ones are
            copied to float64 leaves and checked, others (e.g. integer class labels) are passed to ``fn``
            unchanged.
        eps: the finite-difference step.  atol, rtol: an element passes when
            |analytic - numeric| <= atol + rtol * |numeric|.
        seed: seeds the random upstream gradient.
        raise_exception: raise :class:`GradcheckError` naming the worst element on failure (default);
            with False, just return the result.

    Returns a :class:`GradcheckResult` with both gradients of every input.
    """
    _refuse_gpu_inputs(inputs)
    leaves, checked = zip(*(_as_float64_leaf(x) for x in inputs)) if inputs else ((), ())
    out = fn(*leaves)
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise TypeError("gradcheck needs fn to return a Tensor that depends on a floating input")
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)

    def s():
        with no_grad():
            return float((to_numpy(fn(*leaves).data) * upstream).sum())

    checks = []
    for position, (leaf, is_checked) in enumerate(zip(leaves, checked)):
        if not is_checked:
            continue
        analytic = np.zeros(leaf.shape) if leaf.grad is None else to_numpy(leaf.grad)
        numeric = numeric_gradient(s, leaf.data, eps)
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        worst = np.unravel_index(int(np.argmax(excess)), excess.shape) if excess.size else ()
        checks.append(InputCheck(position, analytic, numeric, tuple(int(i) for i in worst),
                                 float(excess[worst]) if excess.size else -np.inf))
    result = GradcheckResult(checks, atol, rtol)
    if raise_exception and not result.passed:
        raise GradcheckError("gradient check failed at " + result.describe())
    return result


# ----- the command line: a catalogue of named ops to watch being checked ----------------------------------

CHECKS = {}


def register_check(name, default_shape):
    """Add an op to ``python -m minigrad.gradcheck``: ``build(shape, rng) -> (fn, inputs)``."""
    def decorate(build):
        CHECKS[name] = (build, tuple(default_shape))
        return build
    return decorate


def _unary(name, method, positive=False):
    @register_check(name, (3, 4))
    def build(shape, rng):
        x = rng.standard_normal(shape)
        return (lambda t: getattr(t, method)()), [np.abs(x) + 0.5 if positive else x]


for _name, _positive in [("exp", False), ("log", True), ("sqrt", True), ("tanh", False),
                         ("sigmoid", False), ("relu", False)]:
    _unary(_name, _name, _positive)
_unary("neg", "__neg__")


def _binary(name, fn, positive_b=False):
    @register_check(name, (3, 4))
    def build(shape, rng):
        b = rng.standard_normal(shape[-1:])  # broadcast along the leading axes
        return fn, [rng.standard_normal(shape), np.abs(b) + 0.5 if positive_b else b]


_binary("add", lambda a, b: a + b)
_binary("sub", lambda a, b: a - b)
_binary("mul", lambda a, b: a * b)
_binary("div", lambda a, b: a / b, positive_b=True)


@register_check("pow", (3, 4))
def _pow(shape, rng):
    return (lambda a: a ** 3), [rng.standard_normal(shape)]


@register_check("matmul", (3, 4))
def _matmul(shape, rng):
    return (lambda a, b: a @ b), [rng.standard_normal(shape), rng.standard_normal((shape[-1], 2))]


@register_check("linear", (5, 4))
def _linear(shape, rng):
    from . import functional as F
    return F.linear, [rng.standard_normal(shape), rng.standard_normal((3, shape[-1])), rng.standard_normal(3)]


for _name in ("sum", "mean", "amax"):
    register_check(_name, (3, 4))(
        lambda shape, rng, _m=_name: ((lambda t: getattr(t, _m)(dim=-1)), [rng.standard_normal(shape)]))


@register_check("softmax", (3, 4))
def _softmax(shape, rng):
    return (lambda t: t.softmax(dim=-1)), [rng.standard_normal(shape)]


@register_check("log_softmax", (3, 4))
def _log_softmax(shape, rng):
    return (lambda t: t.log_softmax(dim=-1)), [rng.standard_normal(shape)]


@register_check("cross_entropy", (5, 4))
def _cross_entropy(shape, rng):
    from . import functional as F
    labels = rng.integers(0, shape[1], shape[0])
    return (lambda t: F.cross_entropy(t, labels, label_smoothing=0.1)), [rng.standard_normal(shape)]


@register_check("reshape", (3, 4))
def _reshape(shape, rng):
    return (lambda t: t.reshape(-1) * 1.0), [rng.standard_normal(shape)]


@register_check("permute", (2, 3, 4))
def _permute(shape, rng):
    return (lambda t: t.permute(tuple(reversed(range(t.ndim))))), [rng.standard_normal(shape)]


@register_check("getitem", (4, 3))
def _getitem(shape, rng):
    rows = np.array([0, 2, 0])  # row 0 twice: its gradients must add up
    return (lambda t: t[rows, 1:]), [rng.standard_normal(shape)]


@register_check("cat", (2, 3))
def _cat(shape, rng):
    from . import functional as F
    return (lambda a, b: F.cat([a, b], dim=0)), [rng.standard_normal(shape), rng.standard_normal(shape)]


@register_check("stack", (2, 3))
def _stack(shape, rng):
    from . import functional as F
    return (lambda a, b: F.stack([a, b], dim=1)), [rng.standard_normal(shape), rng.standard_normal(shape)]


@register_check("dropout", (4, 5))
def _dropout(shape, rng):
    from . import functional as F
    from .random import manual_seed

    def fn(t):
        manual_seed(0)  # the same mask on every evaluation
        return F.dropout(t, p=0.3)
    return fn, [rng.standard_normal(shape)]


def _batch_norm_check(name, training):
    @register_check(name, (4, 3, 5))
    def build(shape, rng):
        from . import functional as F
        c = shape[1] if len(shape) > 1 else 1  # a 1-d --shape reaches batch_norm, which says what it expects
        running_mean, running_var = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)

        def fn(x, weight, bias):  # fresh running statistics per evaluation: training updates them in place
            return F.batch_norm(x, running_mean.copy(), running_var.copy(), weight, bias, training=training)
        return fn, [rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)]


_batch_norm_check("batch_norm", training=True)
_batch_norm_check("batch_norm_eval", training=False)


@register_check("conv2d", (2, 3, 6, 5))
def _conv2d(shape, rng):
    from . import functional as F
    weight = rng.standard_normal((4, shape[1] if len(shape) == 4 else 1, 3, 3))
    return (lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1)), [rng.standard_normal(shape), weight,
                                                                      rng.standard_normal(4)]


@register_check("max_pool2d", (2, 3, 6, 5))
def _max_pool2d(shape, rng):
    from . import functional as F
    x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1    # distinct values: one winner per window
    return (lambda t: F.max_pool2d(t, 3, stride=2, padding=1)), [x]


@register_check("avg_pool2d", (2, 3, 6, 5))
def _avg_pool2d(shape, rng):
    from . import functional as F
    return (lambda t: F.avg_pool2d(t, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)), \
        [rng.standard_normal(shape)]


@register_check("adaptive_avg_pool2d", (2, 3, 7, 5))
def _adaptive_avg_pool2d(shape, rng):
    from . import functional as F
    return (lambda t: F.adaptive_avg_pool2d(t, (3, 2))), [rng.standard_normal(shape)]


def _flat_outputs(*tensors):
    """Every element of several output tensors as one 1-D Tensor (gradcheck checks one output)."""
    from .ops.shape import Concatenate
    return Concatenate.apply(*(t.reshape(-1) for t in tensors), dim=0)


def _rnn_weights(rng, gates, input_size, hidden):
    """weight_ih, weight_hh, bias_ih, bias_hh in PyTorch's layout, U(-1, 1)."""
    return [rng.uniform(-1, 1, s) for s in [(gates * hidden, input_size), (gates * hidden, hidden),
                                             (gates * hidden,), (gates * hidden,)]]


@register_check("lstm_cell", (2, 3))
def _lstm_cell(shape, rng):
    from .ops.rnn import lstm_cell
    hidden = 4
    states = [rng.standard_normal(shape[:-1] + (hidden,)) for _ in range(2)]    # h and c, one per example
    return (lambda x, h, c, *w: _flat_outputs(*lstm_cell(x, (h, c), *w))), \
        [rng.standard_normal(shape), *states, *_rnn_weights(rng, 4, shape[-1], hidden)]


@register_check("gru_cell", (2, 3))
def _gru_cell(shape, rng):
    from .ops.rnn import gru_cell
    hidden = 4
    return (lambda x, h, *w: gru_cell(x, h, *w)), \
        [rng.standard_normal(shape), rng.standard_normal(shape[:-1] + (hidden,)),
         *_rnn_weights(rng, 3, shape[-1], hidden)]


def _rnn_check(name, gates):
    # One bidirectional layer over a (seq_len, batch, input_size) sequence: backpropagation through time in
    # both directions; the checked output is the output sequence with the final states.
    @register_check(name, (4, 2, 3))
    def build(shape, rng):
        from .ops import rnn
        hidden, features = 3, shape[-1]
        states = [rng.standard_normal((2,) + shape[1:-1] + (hidden,)) for _ in range(gates - 2)]
        weights = _rnn_weights(rng, gates, features, hidden) + _rnn_weights(rng, gates, features, hidden)

        def fn(x, *rest):
            given, w = rest[:len(states)], rest[len(states):]
            per_direction = [tuple(w[:4]), tuple(w[4:])]
            if name == "lstm":
                out, (h_n, c_n) = rnn.lstm(x, tuple(given), per_direction, bidirectional=True)
                return _flat_outputs(out, h_n, c_n)
            out, h_n = rnn.gru(x, given[0], per_direction, bidirectional=True)
            return _flat_outputs(out, h_n)
        return fn, [rng.standard_normal(shape), *states, *weights]


_rnn_check("lstm", gates=4)
_rnn_check("gru", gates=3)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m minigrad.gradcheck",
        description="Check a named op's backward against central finite differences (float64).")
    parser.add_argument("op", nargs="?", help="the op to check (see --list)")
    parser.add_argument("--shape", type=int, nargs="+", help="shape of the first input")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eps", type=float, default=1e-6)
    parser.add_argument("--show", type=int, default=8, help="how many elements to print per input")
    parser.add_argument("--list", action="store_true", help="list the ops that can be checked")
    args = parser.parse_args(argv)
    if args.list or not args.op:
        print("ops:", " ".join(sorted(CHECKS)))
        return 0
    if args.op not in CHECKS:
        parser.error(f"unknown op {args.op!r}; choose one of: {', '.join(sorted(CHECKS))}")
    build, default_shape = CHECKS[args.op]
    shape = tuple(args.shape) if args.shape else default_shape
    if any(n < 1 for n in shape):
        parser.error(f"--shape needs positive sizes, got {shape}")
    rng = np.random.default_rng(args.seed)
    fn, inputs = build(shape, rng)
    result = gradcheck(fn, *inputs, eps=args.eps, seed=args.seed, raise_exception=False)
    print(f"{args.op}: inputs {[tuple(np.shape(x)) for x in inputs]}, float64, eps={args.eps:g}, "
          f"random upstream gradient (seed {args.seed})")
    for c in result.checks:
        print(f"\ninput {c.position}  shape {c.analytic.shape}")
        print(f"  {'element':<14}{'analytic':>16}{'numeric':>16}{'|diff|':>12}")
        indices = list(np.ndindex(*c.analytic.shape))[:args.show]
        if c.worst_index not in indices:
            indices.append(c.worst_index)
        for j in indices:
            a, n = c.analytic[j], c.numeric[j]
            mark = "  <- worst" if j == c.worst_index else ""
            print(f"  {str(j):<14}{a:>16.8f}{n:>16.8f}{abs(a - n):>12.2e}{mark}")
        print(f"  max |diff| over all {c.analytic.size} elements: {np.abs(c.analytic - c.numeric).max():.2e}")
    print("\nPASSED" if result.passed else "\nFAILED at " + result.describe())
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
