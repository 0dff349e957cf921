"""The op catalogue: every differentiable op once, with what it takes to check and time it.

Each :class:`Op` names the ``Function`` classes it runs, how to call it on minigrad and on PyTorch, how to
build its inputs for a shape, and which shapes and settings it takes. Everything per-op reads this one
table:

    tests/test_catalogue.py      float64 gradcheck, PyTorch parity (float32, float64) on hypothesis-drawn
                                 shapes and settings, the compiled kernels against the reference, and CPU
                                 against GPU where there is one
    python -m minigrad.gradcheck watch one op being checked (``--list`` prints the catalogue)
    benchmarks/ops.py            minigrad beside PyTorch, per op, on the papers' layer shapes

so adding an op is one entry here plus its Function (the checklist is in docs/index.md). A test checks that
every Function in ``minigrad.ops`` (and ``Tensor``'s Cast) appears in some entry.

The PyTorch side is a function of the ``torch`` module, ``torch(T, *inputs, **settings)``: minigrad never
imports PyTorch, the tests and benchmarks pass it in.
"""

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import functional as F
from .backend import get_array_module
from .ops import batchnorm, conv, dropout, elementwise, linear, pool, reduce, rnn, shape, softmax
from .random import manual_seed
from .tensor import Cast


@dataclass(frozen=True)
class Op:
    """One entry of the catalogue.

    name: what tests, ``python -m minigrad.gradcheck`` and benchmarks call it.
    functions: the Function classes a call runs (the coverage test reads these).
    minigrad(*tensors, **settings): the op on minigrad Tensors; returns one Tensor.
    torch(T, *tensors, **settings): the same on PyTorch (module ``T``), or None where PyTorch has no twin.
    inputs(rng, shape, **settings): the op's inputs for a first input of ``shape``, as NumPy float64
        arrays (differentiated) or integer arrays (class labels: passed through).
    shape: the first input's default shape.  ndim, side: the ranges shapes are drawn from in the tests.
    settings: each keyword setting and the values the tests try (the first is the default).
    fits(shape, **settings): whether the op is defined for this shape and these settings.
    gradcheck: atol/rtol for the float64 gradient check, where the defaults do not fit.
    parity: rtol/atol per dtype name ("float32", "float64") where tests/parity.py's defaults do not fit.
    benchmarks: (label, shape, settings) cases that benchmarks/ops.py times.
    """

    name: str
    functions: tuple
    minigrad: Callable
    torch: Callable
    inputs: Callable
    shape: tuple
    ndim: tuple = (1, 3)
    side: tuple = (1, 4)
    settings: dict = field(default_factory=dict)
    fits: Callable = lambda shape, **settings: True
    gradcheck: dict = field(default_factory=dict)
    parity: dict = field(default_factory=dict)
    benchmarks: tuple = ()

    def default_settings(self):
        return {name: values[0] for name, values in self.settings.items()}


CATALOGUE = {}


def entry(name, functions, minigrad, torch, inputs, shape, **details):
    CATALOGUE[name] = Op(name, tuple(functions), minigrad, torch, inputs, tuple(shape), **details)


# ----- inputs ------------------------------------------------------------------------------------------------

def normal(rng, shape):
    return rng.standard_normal(shape)


def away_from_zero(rng, shape, margin=0.3):
    """Values with |x| >= margin: where an op has a kink or pole at 0 (relu, 1/x), finite differences of
    step 1e-6 never cross it."""
    return (margin + rng.uniform(0, 1.5, shape)) * rng.choice([-1.0, 1.0], shape)


def positive(rng, shape, low=0.3):
    return low + rng.uniform(0, 2, shape)


def distinct(rng, shape):
    """Values no two alike and at least 0.1 apart: max and min have one winner, 1e-6 steps change none."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) - np.prod(shape) / 2) * 0.1


def broadcast_partner(rng, shape):
    """A shape that broadcasts with ``shape``: a random trailing part of it, with some axes of size 1."""
    kept = shape[int(rng.integers(0, len(shape) + 1)):]
    return tuple(1 if rng.random() < 0.3 else s for s in kept)


def one_input(values=normal):
    return lambda rng, shape, **settings: [values(rng, shape)]


# ----- elementwise -------------------------------------------------------------------------------------------

def binary(name, function, op, values=normal):
    """a op b for b of a shape that broadcasts with a's; ``swap`` puts b on the left."""
    entry(name, [function], lambda a, b, swap: op(b, a) if swap else op(a, b),
          lambda T, a, b, swap: op(b, a) if swap else op(a, b),
          lambda rng, shape, swap: [values(rng, shape), values(rng, broadcast_partner(rng, shape))],
          (3, 4), ndim=(0, 3), settings={"swap": [False, True]})


binary("add", elementwise.Add, lambda a, b: a + b)
binary("sub", elementwise.Sub, lambda a, b: a - b)
binary("mul", elementwise.Mul, lambda a, b: a * b)
binary("div", elementwise.Div, lambda a, b: a / b, values=away_from_zero)


def unary(name, function, method, values=normal, **details):
    entry(name, [function], lambda x: getattr(x, method)(), lambda T, x: getattr(x, method)(),
          one_input(values), (3, 4), ndim=(0, 3), **details)


unary("neg", elementwise.Neg, "__neg__")
unary("exp", elementwise.Exp, "exp")
unary("log", elementwise.Log, "log", positive)
unary("sqrt", elementwise.Sqrt, "sqrt", positive)
unary("tanh", elementwise.Tanh, "tanh")
unary("sigmoid", elementwise.Sigmoid, "sigmoid")
unary("relu", elementwise.ReLU, "relu", away_from_zero)

unary("abs", elementwise.Abs, "abs", away_from_zero)
entry("clamp", [elementwise.Clamp], lambda x, low, high: x.clamp(low, high), lambda T, x, low, high: x.clamp(low, high),
      lambda rng, shape, low, high: [away_from_zero(rng, shape, 0.05) + 0.5], (3, 4), ndim=(0, 3),
      settings={"low": [-0.2, None, 0.1], "high": [0.7, None]}, fits=lambda shape, low, high: low is not None or
      high is not None)                                         # values >= 0.05 from both bounds: no tie
binary("maximum", elementwise.Maximum, lambda a, b: a.maximum(b))
binary("minimum", elementwise.Minimum, lambda a, b: a.minimum(b))
entry("where", [elementwise.Where], lambda a, b, condition: where_of(a, b, condition),
      lambda T, a, b, condition: T.where(T.from_numpy(where_condition(a, condition)), a, b),
      lambda rng, shape, condition: [normal(rng, shape), normal(rng, broadcast_partner(rng, shape))], (3, 4),
      ndim=(0, 3), settings={"condition": ["a > 0", "a > 0.5"]})


def where_condition(a, kind):
    values = a.detach().numpy()
    return np.asarray(values > 0 if kind == "a > 0" else values > 0.5)


def where_of(a, b, condition):
    from .tensor import where
    return where(where_condition(a, condition), a, b)


entry("pow", [elementwise.Pow], lambda x, exponent: x ** exponent, lambda T, x, exponent: x ** exponent,
      lambda rng, shape, exponent: [positive(rng, shape) if exponent != int(exponent) else away_from_zero(rng, shape)],
      (3, 4), ndim=(0, 3), settings={"exponent": [3, 2, -1, 0.5, -2.5, 0]},
      parity={"float32": dict(rtol=3e-5)})                     # x^p in float32: a few ulps either side
entry("cast", [Cast], lambda x, dtype: x.to(dtype=dtype).to(dtype=x.dtype) * 1.0,
      lambda T, x, dtype: x.to(getattr(T, dtype)).to(x.dtype) * 1.0, one_input(), (3, 4),
      settings={"dtype": ["float32", "float64"]},
      gradcheck=dict(eps=1e-2, atol=1e-4, rtol=1e-4))          # the identity on values: a wide step is exact

# ----- matrix products ---------------------------------------------------------------------------------------

def matmul_inputs(rng, shape, kind):
    """a of ``shape`` (..., n, k) and b (k, 2) ("matrix"), (..., k, 2) ("batched"), (2, 1, ..., k, 2)
    ("broadcast": b's batch axes broadcast against a's) or (k,) ("vector"); "vector@" puts a vector (k,) on
    the left of a matrix of a's shape."""
    k = shape[-1]
    others = {"matrix": (k, 2), "batched": shape[:-2] + (k, 2), "broadcast": (2,) + (1,) * (len(shape) - 2) + (k, 2),
              "vector": (k,)}
    if kind == "vector@":
        return [normal(rng, (shape[-2],)), normal(rng, shape)]
    return [normal(rng, shape), normal(rng, others[kind])]


entry("matmul", [linear.MatMul], lambda a, b, kind: a @ b, lambda T, a, b, kind: a @ b, matmul_inputs, (3, 4),
      ndim=(2, 4), settings={"kind": ["matrix", "batched", "broadcast", "vector", "vector@"]})
entry("linear", [linear.Linear], lambda x, w, b: F.linear(x, w, b), lambda T, x, w, b: T.nn.functional.linear(x, w, b),
      lambda rng, shape: [normal(rng, shape), normal(rng, (3, shape[-1])), normal(rng, (3,))], (5, 4))

# ----- reductions --------------------------------------------------------------------------------------------


def reduction(name, functions, method, values=normal):
    entry(name, functions, lambda x, dim, keepdim: getattr(x, method)(dim=None if dim == "all" else dim,
                                                                      keepdim=keepdim),
          lambda T, x, dim, keepdim: getattr(x, method)(dim=tuple(range(x.ndim)) if dim == "all" else dim,
                                                        keepdim=keepdim),
          one_input(values), (3, 4), settings={"dim": [-1, 0, "all"], "keepdim": [False, True]},
          fits=lambda shape, dim, keepdim: dim == "all" or (-len(shape) <= dim < len(shape)))


reduction("sum", [reduce.Sum], "sum")
reduction("mean", [reduce.Mean], "mean")
reduction("amax", [reduce.Max], "amax", values=distinct)
reduction("amin", [reduce.Min], "amin", values=distinct)
entry("max_dim", [reduce.TakeAlongDim], lambda x, dim, keepdim: x.max(dim=dim, keepdim=keepdim)[0],
      lambda T, x, dim, keepdim: T.max(x, dim=dim, keepdim=keepdim)[0], one_input(distinct), (3, 4),
      settings={"dim": [-1, 0], "keepdim": [False, True]})

# ----- softmax and cross-entropy -----------------------------------------------------------------------------

entry("softmax", [softmax.Softmax], lambda x, dim: x.softmax(dim=dim), lambda T, x, dim: x.softmax(dim=dim),
      one_input(), (3, 4), settings={"dim": [-1, 0]})
entry("log_softmax", [softmax.LogSoftmax], lambda x, dim: x.log_softmax(dim=dim),
      lambda T, x, dim: x.log_softmax(dim=dim), one_input(), (3, 4), settings={"dim": [-1, 0]})
entry("cross_entropy", [softmax.CrossEntropy],
      lambda x, t, reduction, label_smoothing: F.cross_entropy(x, t, reduction=reduction,
                                                               label_smoothing=label_smoothing),
      lambda T, x, t, reduction, label_smoothing: T.nn.functional.cross_entropy(
          x, t, reduction=reduction, label_smoothing=label_smoothing),
      lambda rng, shape, **s: [normal(rng, shape), rng.integers(0, shape[1], shape[0])], (5, 4), ndim=(2, 2),
      settings={"reduction": ["mean", "sum", "none"], "label_smoothing": [0.0, 0.1, 1.0]})

# ----- shapes ------------------------------------------------------------------------------------------------

entry("reshape", [shape.Reshape], lambda x: x.reshape(-1) * 1.0, lambda T, x: x.reshape(-1) * 1.0, one_input(),
      (3, 4), ndim=(0, 3))
entry("permute", [shape.Permute], lambda x: x.permute(tuple(reversed(range(x.ndim)))),
      lambda T, x: x.permute(tuple(reversed(range(x.ndim)))), one_input(), (2, 3, 4))
GETITEM = {"slice": (slice(None), slice(1, None)), "rows twice": (np.array([0, 0, 1]),), "negative": (-1,),
           "mask": "mask"}


def getitem_index(x, kind):
    """The index of case ``kind``; "mask" picks x's positive elements (x a detached tensor, either engine)."""
    return (x.numpy() > 0,) if kind == "mask" else GETITEM[kind]


def torch_index(T, index):
    return tuple(T.from_numpy(i) if isinstance(i, np.ndarray) else i for i in index)


entry("getitem", [shape.GetItem], lambda x, kind: x[getitem_index(x.detach(), kind)],
      lambda T, x, kind: x[torch_index(T, getitem_index(x.detach(), kind))],
      one_input(away_from_zero), (4, 3), ndim=(2, 3), side=(2, 4), settings={"kind": list(GETITEM)})
entry("cat", [shape.Concatenate], lambda a, b, dim: F.cat([a, b], dim=dim), lambda T, a, b, dim: T.cat([a, b], dim=dim),
      lambda rng, shape, dim: [normal(rng, shape), normal(rng, shape)], (2, 3), settings={"dim": [0, -1]})
entry("stack", [shape.Stack], lambda a, b, dim: F.stack([a, b], dim=dim),
      lambda T, a, b, dim: T.stack([a, b], dim=dim),
      lambda rng, shape, dim: [normal(rng, shape), normal(rng, shape)], (2, 3), settings={"dim": [0, -1]})

entry("expand", [shape.Expand], lambda x, lead: x.expand((lead,) + tuple(2 if n == 1 else n for n in x.shape)),
      lambda T, x, lead: x.expand((lead,) + tuple(2 if n == 1 else n for n in x.shape)), one_input(), (3, 1),
      ndim=(0, 3), side=(1, 3), settings={"lead": [2, 1]})

# ----- dropout -----------------------------------------------------------------------------------------------


def seeded_dropout(x, p):
    manual_seed(0)                                   # the same mask on every evaluation of the gradient check
    return F.dropout(x, p=p)


entry("dropout", [dropout.Dropout], seeded_dropout, None, one_input(), (4, 5), settings={"p": [0.3, 0.9]})

# ----- convolution, pooling, batch norm ----------------------------------------------------------------------

IMAGES = dict(ndim=(4, 4), side=(1, 5))


def conv_fits(shape, stride, padding, dilation, out_channels, kernel):
    return all(size + 2 * padding >= dilation * (kernel - 1) + 1 for size in shape[2:])


def conv_inputs(rng, shape, out_channels, kernel, **geometry):
    return [normal(rng, shape), normal(rng, (out_channels, shape[1], kernel, kernel)) / np.sqrt(shape[1] * kernel ** 2),
            normal(rng, (out_channels,))]


entry("conv2d", [conv.Conv2d],
      lambda x, w, b, out_channels, kernel, **geometry: F.conv2d(x, w, b, **geometry),
      lambda T, x, w, b, out_channels, kernel, **geometry: T.nn.functional.conv2d(x, w, b, **geometry),
      conv_inputs, (2, 3, 6, 5), fits=conv_fits, parity={"float32": dict(rtol=1e-4, atol=1e-5)},
      settings={"stride": [1, 2], "padding": [1, 0], "dilation": [1, 2], "out_channels": [3], "kernel": [3, 1]},
      benchmarks=tuple((label, shape, dict(stride=1, padding=padding, dilation=1, out_channels=k, kernel=3))
                       for label, shape, k, padding in [
                           ("Pinto CNN conv1 (128, 3, 28, 28) -> 32", (128, 3, 28, 28), 32, 1),
                           ("Pinto CNN conv2 (128, 32, 14, 14) -> 64", (128, 32, 14, 14), 64, 1),
                           ("Pinto CNN conv3 (128, 64, 7, 7) -> 128", (128, 64, 7, 7), 128, 1),
                           ("U-Net enc1b (32, 32, 28, 28) -> 32", (32, 32, 28, 28), 32, 1),
                           ("U-Net bottleneck (32, 256, 3, 3) -> 512", (32, 256, 3, 3), 512, 1),
                           ("DCLNN conv2 (128, 32, 26, 26) -> 64, no padding", (128, 32, 26, 26), 64, 0)]),
      **IMAGES)


def pool_fits(shape, kernel_size, stride, padding, **rest):
    return padding <= kernel_size // 2 and all(size + 2 * padding >= kernel_size for size in shape[2:])


entry("max_pool2d", [pool.MaxPool2d], lambda x, **s: F.max_pool2d(x, **s),
      lambda T, x, **s: T.nn.functional.max_pool2d(x, **s), one_input(distinct), (2, 3, 6, 5),
      settings={"kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0], "ceil_mode": [False, True]},
      fits=pool_fits, **IMAGES,
      benchmarks=tuple((label, shape, dict(kernel_size=2, stride=2, padding=0, ceil_mode=False)) for label, shape in [
          ("Pinto CNN pool1 (128, 32, 28, 28)", (128, 32, 28, 28)),
          ("Pinto CNN pool2 (128, 64, 14, 14)", (128, 64, 14, 14)),
          ("Pinto CNN pool3 (128, 128, 7, 7)", (128, 128, 7, 7))]))
entry("avg_pool2d", [pool.AvgPool2d], lambda x, **s: F.avg_pool2d(x, **s),
      lambda T, x, **s: T.nn.functional.avg_pool2d(x, **s), one_input(), (2, 3, 6, 5),
      settings={"kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0], "ceil_mode": [True, False],
                "count_include_pad": [False, True]}, fits=pool_fits, **IMAGES,
      benchmarks=(("DCLNN avg pool (128, 64, 24, 24)", (128, 64, 24, 24),
                   dict(kernel_size=2, stride=2, padding=0, ceil_mode=False, count_include_pad=True)),))
entry("adaptive_avg_pool2d", [pool.AdaptiveAvgPool2d], lambda x, output_size: F.adaptive_avg_pool2d(x, output_size),
      lambda T, x, output_size: T.nn.functional.adaptive_avg_pool2d(x, output_size), one_input(), (2, 3, 7, 5),
      settings={"output_size": [(3, 2), 1, (2, 4)]}, **IMAGES)


def running_statistics(c, dtype, xp=np):
    """Fresh running mean and variance per call (training updates them in place), in module ``xp``."""
    return xp.asarray(np.linspace(-1, 1, c), dtype=dtype), xp.asarray(np.linspace(0.5, 2, c), dtype=dtype)


def torch_dtype(T, x):
    return np.float32 if x.dtype == T.float32 else np.float64


entry("batch_norm", [batchnorm.BatchNorm],
      lambda x, w, b, training: F.batch_norm(x, *running_statistics(x.shape[1], x.dtype, get_array_module(x.data)),
                                             w, b, training=training),
      lambda T, x, w, b, training: T.nn.functional.batch_norm(
          x, *(T.from_numpy(a).to(x.device) for a in running_statistics(x.shape[1], torch_dtype(T, x))), w, b,
          training=training),
      lambda rng, shape, training: [normal(rng, shape), normal(rng, shape[1]), normal(rng, shape[1])],
      (4, 3, 5), ndim=(2, 4), settings={"training": [True, False]},
      fits=lambda shape, training: not training or np.prod(shape) > shape[1],
      parity={"float32": dict(rtol=1e-4, atol=1e-4)},
      benchmarks=tuple((f"U-Net {shape}", shape, dict(training=True)) for shape in [
          (32, 32, 28, 28), (32, 64, 14, 14), (32, 128, 7, 7), (32, 512, 1, 1)]))

# ----- recurrent cells and layers ----------------------------------------------------------------------------

def rnn_weights(rng, gates, input_size, hidden, directions=1):
    """weight_ih, weight_hh, bias_ih, bias_hh per direction, PyTorch's layout and initialisation
    U(-1/sqrt(hidden), 1/sqrt(hidden))."""
    shapes = [(gates * hidden, input_size), (gates * hidden, hidden), (gates * hidden,), (gates * hidden,)]
    bound = 1 / np.sqrt(hidden)
    return [rng.uniform(-bound, bound, s) for _ in range(directions) for s in shapes]


def flat(*tensors):
    """Several outputs as one 1-D tensor (every check differentiates one output)."""
    return F.cat([t.reshape(-1) for t in tensors], dim=0)


entry("lstm_cell", [rnn.LSTMCell], lambda x, h, c, *w, hidden: flat(*F.lstm_cell(x, (h, c), *w)),
      lambda T, x, h, c, *w, hidden: T.cat([t.reshape(-1) for t in T.lstm_cell(x, (h, c), *w)]),
      lambda rng, shape, hidden: [normal(rng, shape), normal(rng, (shape[0], hidden)),
                                  normal(rng, (shape[0], hidden)), *rnn_weights(rng, 4, shape[1], hidden)],
      (2, 3), ndim=(2, 2), settings={"hidden": [3, 1]})
entry("gru_cell", [rnn.GRUCell], lambda x, h, *w, hidden: F.gru_cell(x, h, *w),
      lambda T, x, h, *w, hidden: T.gru_cell(x, h, *w),
      lambda rng, shape, hidden: [normal(rng, shape), normal(rng, (shape[0], hidden)),
                                  *rnn_weights(rng, 3, shape[1], hidden)],
      (2, 3), ndim=(2, 2), settings={"hidden": [3, 1]})


def rnn_layer(name, function, gates, benchmarks):
    """One LSTM or GRU layer over a (seq_len, batch, input_size) sequence from a zero state, both directions
    when ``bidirectional``: the output sequence and the final states, flattened into one."""
    def minigrad_layer(x, *w, bidirectional, hidden):
        per_direction = [tuple(w[4 * d:4 * d + 4]) for d in range(len(w) // 4)]
        if name == "lstm":
            out, (h, c) = F.lstm(x, None, per_direction, bidirectional=bidirectional)
            return flat(out, h, c)
        out, h = F.gru(x, None, per_direction, bidirectional=bidirectional)
        return flat(out, h)

    def torch_layer(T, x, *w, bidirectional, hidden):
        # torch.lstm / torch.gru are what torch.nn.LSTM / GRU call: (input, hx, flat weights, has_biases,
        # num_layers, dropout, train, bidirectional, batch_first), the output sequence first.
        zeros = T.zeros(len(w) // 4, x.shape[1], hidden, dtype=x.dtype, device=x.device)
        hx = (zeros, zeros) if name == "lstm" else zeros
        out, *states = getattr(T, name)(x, hx, list(w), True, 1, 0.0, True, bidirectional, False)
        return T.cat([t.reshape(-1) for t in [out, *states]])

    entry(name, [function], minigrad_layer, torch_layer,
          lambda rng, shape, bidirectional, hidden: [
              normal(rng, shape), *rnn_weights(rng, gates, shape[2], hidden, 2 if bidirectional else 1)],
          (4, 2, 3), ndim=(3, 3), settings={"bidirectional": [True, False], "hidden": [3, 1]},
          parity={"float32": dict(rtol=1e-4, atol=1e-5)},
          benchmarks=tuple((label, (seq, batch, features), dict(bidirectional=bidirectional, hidden=hidden))
                           for label, seq, batch, features, hidden, bidirectional in benchmarks))


rnn_layer("lstm", rnn.LSTMLayer, 4, [
    ("CNN-LSTM's LSTM (batch 32, seq 7, 448) -> 128", 7, 32, 448, 128, False),
    ("LSTM (batch 32, seq 28, 128) -> 128", 28, 32, 128, 128, False),
    ("LSTM (batch 32, seq 7, 512) -> 256", 7, 32, 512, 256, False),
    ("LSTM (batch 32, seq 49, 64) -> 128", 49, 32, 64, 128, False)])
rnn_layer("gru", rnn.GRULayer, 3, [
    ("CNN-GRU's bidirectional GRU (batch 32, seq 7, 448) -> 2 x 256", 7, 32, 448, 256, True),
    ("bidirectional GRU (batch 32, seq 28, 128) -> 2 x 256", 28, 32, 128, 256, True),
    ("bidirectional GRU (batch 32, seq 7, 512) -> 2 x 256", 7, 32, 512, 256, True)])
