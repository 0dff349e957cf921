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


# ----- the command line: any op of the catalogue (minigrad/catalogue.py), watched being checked ---------

def parse_setting(text):
    """NAME=VALUE, VALUE read as a Python literal (2, 0.5, True, (3, 2), 'mean'), else kept as text."""
    import ast
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"--set expects NAME=VALUE, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m minigrad.gradcheck",
        description="Check a named op's backward against central finite differences (float64).")
    parser.add_argument("op", nargs="?", help="the op to check (see --list)")
    parser.add_argument("--shape", type=int, nargs="+", help="shape of the first input")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eps", type=float, help="the finite-difference step (default 1e-6, or the op's own)")
    parser.add_argument("--show", type=int, default=8, help="how many elements to print per input")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="one of the op's settings (see --list), e.g. --set stride=2")
    parser.add_argument("--list", action="store_true", help="list the ops that can be checked, with settings")
    args = parser.parse_args(argv)
    from .catalogue import CATALOGUE
    if args.list or not args.op:
        for name, op in sorted(CATALOGUE.items()):
            choices = "  ".join(f"{k}={'|'.join(map(str, v))}" for k, v in op.settings.items())
            print(f"{name:<22}shape {' '.join(map(str, op.shape)):<12}{choices}")
        return 0
    if args.op not in CATALOGUE:
        parser.error(f"unknown op {args.op!r}; choose one of: {', '.join(sorted(CATALOGUE))}")
    op = CATALOGUE[args.op]
    shape = tuple(args.shape) if args.shape else op.shape
    if any(n < 1 for n in shape):
        parser.error(f"--shape needs positive sizes, got {shape}")
    chosen = op.default_settings()
    for text in args.set:
        try:
            name, value = parse_setting(text)
        except ValueError as error:
            parser.error(str(error))
        if name not in chosen:
            parser.error(f"{args.op} has no setting {name!r}; its settings: {', '.join(chosen) or 'none'}")
        chosen[name] = value
    if not op.ndim[0] <= len(shape) <= op.ndim[1] or not op.fits(shape, **chosen):
        parser.error(f"{args.op} is not defined for shape {shape} with {chosen} (its default shape: {op.shape})")
    inputs = op.inputs(np.random.default_rng(args.seed), shape, **chosen)
    tolerances = {**{"eps": 1e-6}, **op.gradcheck, **({"eps": args.eps} if args.eps else {})}
    result = gradcheck(lambda *t: op.minigrad(*t, **chosen), *inputs, **tolerances, seed=args.seed,
                       raise_exception=False)
    print(f"{args.op}: inputs {[tuple(np.shape(x)) for x in inputs]}, {chosen or 'no settings'}, float64, "
          f"eps={tolerances['eps']:g}, "
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
