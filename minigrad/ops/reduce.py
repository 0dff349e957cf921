"""Reductions over axes: sum, mean, max and min (amax/amin), and the values max(dim)/min(dim) select.

``dim`` is None (all axes), an int, or a tuple of ints; ``keepdim`` keeps reduced axes with length 1.
In backward the gradient of the reduced output is first given back its reduced axes (length 1), then
broadcast over them: every input element that fed an output element receives that element's gradient.
"""

import numbers

from ..autograd import NUMERIC, Function
from ..backend import get_array_module


def wrap_dim(dim, ndim):
    """``dim`` as an axis in [0, ndim), negative dims counting from the end, with PyTorch's range check.

    A 0-d tensor takes dim 0 or -1, as in PyTorch. Raises IndexError for a dim out of range and TypeError
    for one that is not an integer.
    """
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"dim must be an int, got {dim!r}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return int(dim) % n


def normalize_dims(dim, ndim):
    """``dim`` as a sorted tuple of non-negative axes; raises a clear error for an axis out of range."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    return tuple(sorted({wrap_dim(d, ndim) for d in dims}))


def expand_reduced(g, dims, keepdim, shape):
    """Give ``g`` back the axes ``dims`` (if reduced away) and broadcast it to ``shape``."""
    xp = get_array_module(g)
    if not keepdim:
        g = xp.expand_dims(g, dims)
    return xp.broadcast_to(g, shape)


class Sum(Function):
    """y = sum of x over ``dim``.   dL/dx[i] = g[reduced index of i]: the gradient is copied to every summand."""

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.dims = normalize_dims(dim, x.ndim)
        ctx.keepdim, ctx.shape = keepdim, x.shape
        return x.sum(axis=ctx.dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return expand_reduced(g, ctx.dims, ctx.keepdim, ctx.shape).copy()


class Mean(Function):
    """y = (1/n) sum of x over ``dim``, n = number of elements reduced.   dL/dx[i] = g[reduced index of i] / n."""

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.dims = normalize_dims(dim, x.ndim)
        ctx.keepdim, ctx.shape = keepdim, x.shape
        ctx.count = 1
        for d in ctx.dims:
            ctx.count *= x.shape[d]
        return x.mean(axis=ctx.dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return expand_reduced(g / ctx.count, ctx.dims, ctx.keepdim, ctx.shape).copy()


def extremum_forward(ctx, x, dim, keepdim, reduce):
    """y = reduce(x) over ``dim`` (``reduce`` is x.max or x.min); saves where x attains it for backward."""
    ctx.dims = normalize_dims(dim, x.ndim)
    ctx.keepdim = keepdim
    y = reduce(axis=ctx.dims, keepdims=True)
    ctx.save_for_backward(x == y)
    return y if keepdim else y.squeeze(axis=ctx.dims)


def extremum_backward(ctx, g):
    """g shared equally among the elements that attain the extremum of their group."""
    (attains,) = ctx.saved
    if not ctx.keepdim:
        g = get_array_module(g).expand_dims(g, ctx.dims)
    ties = attains.sum(axis=ctx.dims, keepdims=True, dtype=g.dtype)
    return attains * (g / ties)


class Max(Function):
    """y = max of x over ``dim``.   dL/dx[i] = g * [x[i] == y] / (number of maxima in i's group).

    Only the elements that attain the maximum receive gradient; ties share it equally (as ``torch.amax``).
    """

    dtypes, name = NUMERIC, "amax"

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        return extremum_forward(ctx, x, dim, keepdim, x.max)

    @staticmethod
    def backward(ctx, g):
        return extremum_backward(ctx, g)


class Min(Function):
    """y = min of x over ``dim``.   dL/dx[i] = g * [x[i] == y] / (number of minima in i's group).

    Only the elements that attain the minimum receive gradient; ties share it equally (as ``torch.amin``).
    """

    dtypes, name = NUMERIC, "amin"

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        return extremum_forward(ctx, x, dim, keepdim, x.min)

    @staticmethod
    def backward(ctx, g):
        return extremum_backward(ctx, g)


class TakeAlongDim(Function):
    """The values ``max(dim)`` and ``min(dim)`` return: one element of x per line along ``dim``.

    With ``index`` holding one position along ``dim`` for each line (its shape is x's with that axis of
    length 1, e.g. x.argmax(dim, keepdims=True)):

        y[..., 0, ...] = x[..., index[..., 0, ...], ...]        (the axis dropped unless ``keepdim``)

    y is a copy of the picked elements, so dL/dx = g at the picked position of each line and 0 elsewhere:
    among tied maxima only the one ``index`` names receives the gradient, as in ``torch.max(x, dim)``.
    """

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, x, index, dim, keepdim=False):
        xp = get_array_module(x)
        ctx.index, ctx.dim, ctx.keepdim, ctx.size = index, dim, keepdim, x.shape[dim]
        y = xp.take_along_axis(x, index, axis=dim)
        return y if keepdim else y.squeeze(axis=dim)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        if not ctx.keepdim:
            g = xp.expand_dims(g, ctx.dim)
        along = [1] * g.ndim
        along[ctx.dim] = ctx.size
        positions = xp.arange(ctx.size).reshape(along)       # 0 .. size-1 along dim, broadcast elsewhere
        return xp.where(positions == ctx.index, g, xp.zeros((), g.dtype))
