"""Shared hypothesis strategies for minigrad's tests (gradient checks, torch parity, later conv/pool).

Shapes come from hypothesis (so failures shrink to the smallest shape); the *values* of an array come from a
NumPy generator seeded by a drawn integer. Hypothesis' own array strategy likes to fill arrays with one
repeated value, which hides bugs such as a missing transpose in a square matmul; seeded random values do not.

    from strategies import shapes, float_arrays, reduce_dims

    @given(st.data())
    def test_something(data):
        shape = data.draw(shapes(min_dims=1))
        x = data.draw(float_arrays(shape))
        dim = data.draw(reduce_dims(len(shape)))

Every value strategy returns float64 arrays; cast with ``.astype`` for float32 tests.
"""

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


# ----- shapes ---------------------------------------------------------------------------------------------

def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Array shapes, 0-d included when ``min_dims == 0``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcast_pairs(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Two shapes that broadcast together: size-1 axes, missing leading axes and 0-d all occur."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=min_dims, max_dims=max_dims,
                                             min_side=min_side, max_side=max_side).map(lambda r: r.input_shapes)


def nchw_shapes(max_batch=3, max_channels=3, min_hw=1, max_hw=6):
    """(N, C, H, W) image-batch shapes for conv and pooling tests."""
    side = st.integers(min_hw, max_hw)
    return st.tuples(st.integers(1, max_batch), st.integers(1, max_channels), side, side)


@st.composite
def matmul_shapes(draw):
    """(shape_a, shape_b) that ``a @ b`` accepts: 2-D, batched with broadcast batch axes, and 1-D operands."""
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["2d", "batched", "vec@vec", "vec@mat", "mat@vec"]))
    batch_a, batch_b = draw(broadcast_pairs(min_dims=0, max_dims=2, max_side=3)) if kind != "2d" else ((), ())
    if kind in ("2d", "batched"):
        return batch_a + (n, k), batch_b + (k, m)
    if kind == "vec@vec":
        return (k,), (k,)
    if kind == "vec@mat":
        return (k,), batch_b + (k, m)
    return batch_a + (n, k), (k,)


@st.composite
def reshape_targets(draw, shape, max_dims=4):
    """A shape with the same number of elements as ``shape`` (possibly with one -1 entry)."""
    size = math.prod(shape)
    candidates = [s for s in _factorisations(size, max_dims)]
    target = list(draw(st.sampled_from(candidates)))
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


def _factorisations(n, max_dims):
    """Every ordered tuple of positive ints (at most max_dims long) whose product is n; () for n == 1."""
    out = [()] if n == 1 else []

    def extend(prefix, rest):
        if len(prefix) == max_dims:
            return
        for d in range(1, rest + 1):
            if rest % d == 0:
                if d == rest:
                    out.append(prefix + (d,))
                extend(prefix + (d,), rest // d)
    extend((), n)
    return sorted(set(out))


# ----- axes -------------------------------------------------------------------------------------------------

def dims(ndim):
    """One valid axis of an ``ndim``-d array, negative forms included."""
    return st.integers(-ndim, ndim - 1)


def reduce_dims(ndim):
    """What a reduction's ``dim`` may be: None, an int (maybe negative), or a tuple of distinct axes."""
    if ndim == 0:
        return st.none()
    tuples = hnp.valid_tuple_axes(ndim, min_size=1)  # distinct axes, some written negatively
    return st.one_of(st.none(), dims(ndim), tuples)


@st.composite
def flatten_dims(draw, ndim):
    """(start_dim, end_dim) with start <= end once normalised, each maybe written negatively."""
    start = draw(st.integers(0, ndim - 1))
    end = draw(st.integers(start, ndim - 1))
    start = start - ndim if draw(st.booleans()) else start
    end = end - ndim if draw(st.booleans()) else end
    return start, end


# ----- values ---------------------------------------------------------------------------------------------

def float_arrays(shape, low=-2.0, high=2.0):
    """Uniform values in [low, high)."""
    return SEEDS.map(lambda s: np.random.default_rng(s).uniform(low, high, shape))


def positive_arrays(shape, low=0.2, high=3.0):
    """Values in [low, high), for log, sqrt, fractional powers and divisors."""
    return float_arrays(shape, low, high)


def nonzero_arrays(shape, margin=0.05, high=2.0):
    """Values with margin <= |x| < high and random sign: away from the kink of relu (and from 0 divisors)."""
    def make(seed):
        rng = np.random.default_rng(seed)
        return rng.uniform(margin, high, shape) * rng.choice([-1.0, 1.0], size=shape)
    return SEEDS.map(make)


def distinct_arrays(shape, spacing=0.1):
    """A random permutation of evenly spaced values (no ties, so max has a single winner everywhere)."""
    def make(seed):
        n = math.prod(shape)
        values = (np.random.default_rng(seed).permutation(n) - (n - 1) / 2) * spacing
        return values.reshape(shape)
    return SEEDS.map(make)


# ----- indices ----------------------------------------------------------------------------------------------

@st.composite
def indices(draw, shape):
    """An index for ``x[index]`` of one of these kinds (all of NumPy's rules apply):

    basic: ints, slices with steps (negative too), None and Ellipsis;
    int_array: an integer array along one axis with a repeated entry (gradients must add up), plus slices;
    int_arrays: integer arrays on several leading axes (broadcast together);
    bool_mask: a boolean mask over the whole array or over the leading axis.
    """
    kind = draw(st.sampled_from(["basic", "int_array", "int_arrays", "bool_mask"]))
    if kind == "basic" or not shape:
        return draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True))
    if kind == "int_array":
        axis = draw(st.integers(0, len(shape) - 1))
        n = shape[axis]
        picks = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5))
        picks.append(picks[0])  # a repeat
        rest = [draw(st.sampled_from([slice(None), slice(None, None, -1), slice(0, None, 2)]))
                for _ in range(len(shape) - axis - 1)]
        return (slice(None),) * axis + (np.array(picks),) + tuple(rest)
    if kind == "int_arrays":
        return draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2,
                                                                                    max_side=3)))
    full = draw(st.booleans())
    mask_shape = shape if full else shape[:1]
    return draw(hnp.arrays(np.bool_, mask_shape))


# ----- cross-entropy ----------------------------------------------------------------------------------------

@st.composite
def cross_entropy_cases(draw, max_n=5, max_c=5):
    """(logits, labels, label_smoothing, reduction) with logits (N, C) float64 and labels (N,) int64."""
    n, c = draw(st.integers(1, max_n)), draw(st.integers(1, max_c))
    logits = draw(float_arrays((n, c), -3.0, 3.0))
    labels = np.asarray(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    smoothing = draw(st.sampled_from([0.0, 0.5]) | st.floats(0.0, 0.5))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return logits, labels, smoothing, reduction
