"""Reductions over axes: sum, mean, max.

``dim`` is None (all axes), an int, or a tuple of ints; ``keepdim`` keeps reduced axes with length 1.
In backward the gradient of the reduced output is first given back its reduced axes (length 1), then
broadcast over them: every input element that fed an output element receives that element's gradient.
"""

from ..autograd import Function
from ..backend import get_array_module


def normalize_dims(dim, ndim):
    """``dim`` as a sorted tuple of non-negative axes; raises a clear error for an axis out of range."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -ndim <= d < max(ndim, 1):
            raise IndexError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(d % max(ndim, 1))
    return tuple(sorted(set(out)))


def expand_reduced(g, dims, keepdim, shape):
    """Give ``g`` back the axes ``dims`` (if reduced away) and broadcast it to ``shape``."""
    xp = get_array_module(g)
    if not keepdim:
        g = xp.expand_dims(g, dims)
    return xp.broadcast_to(g, shape)


class Sum(Function):
    """y = sum of x over ``dim``.   dL/dx[i] = g[reduced index of i]: the gradient is copied to every summand."""

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


class Max(Function):
    """y = max of x over ``dim``.   dL/dx[i] = g * [x[i] == y] / (number of maxima in i's group).

    Only the elements that attain the maximum receive gradient; ties share it equally (as ``torch.amax``).
    """

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.dims = normalize_dims(dim, x.ndim)
        ctx.keepdim = keepdim
        y = x.max(axis=ctx.dims, keepdims=True)
        ctx.save_for_backward(x == y)
        return y if keepdim else y.squeeze(axis=ctx.dims)

    @staticmethod
    def backward(ctx, g):
        (is_max,) = ctx.saved
        if not ctx.keepdim:
            g = get_array_module(g).expand_dims(g, ctx.dims)
        ties = is_max.sum(axis=ctx.dims, keepdims=True, dtype=g.dtype)
        return is_max * (g / ties)
