"""Ops that move elements without changing them: reshape, permute, indexing, concatenate, stack.

Their backward only routes gradients: each input element receives the gradient of the output element(s)
it became. So backward applies the inverse movement (reshape back, inverse permutation, scatter, split).
"""

import itertools

from ..autograd import ANY, Function
from ..backend import get_array_module
from .broadcast import sum_to_shape


class Reshape(Function):
    """y = x viewed with a new shape (same elements, row-major order).   dL/dx = g reshaped to x's shape."""

    dtypes, view = ANY, True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                             f"to {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    """y = x with axes reordered: y.shape[i] = x.shape[dims[i]].   dL/dx = g permuted by the inverse order."""

    dtypes, view = ANY, True

    @staticmethod
    def forward(ctx, x, dims):
        if sorted(dims) != list(range(x.ndim)):
            raise ValueError(f"permute needs a reordering of 0..{x.ndim - 1} for a tensor of shape "
                             f"{x.shape}, got {tuple(dims)}")
        ctx.inverse = tuple(sorted(range(len(dims)), key=lambda i: dims[i]))
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(ctx.inverse)


class GetItem(Function):
    """y = x[index] for slices, integers, None, Ellipsis and integer or boolean arrays.

    dL/dx = zeros like x with g scattered back to the positions it came from. An integer array may pick
    the same element twice; its gradients must then add up, which ``xp.add.at`` does (plain assignment
    would keep only the last one).
    """

    dtypes, view = ANY, True  # basic indexing gives a view, an index array a copy

    @staticmethod
    def forward(ctx, x, index):
        ctx.index, ctx.shape, ctx.dtype = index, x.shape, x.dtype
        try:
            return x[index]
        except IndexError as e:
            raise IndexError(f"index {index!r} is invalid for a tensor of shape {x.shape}: {e}") from None

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        dx = xp.zeros(ctx.shape, dtype=g.dtype)
        if has_array_index(ctx.index):
            xp.add.at(dx, ctx.index, g)
        else:  # basic indexing never repeats an element
            dx[ctx.index] = g
        return dx


def has_array_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "shape") or isinstance(p, (list, tuple)) for p in parts)


class Concatenate(Function):
    """y = [x1, x2, ...] joined along ``dim``.   dL/dxk = the slice of g that xk occupies."""

    dtypes, name = ANY, "cat"

    @staticmethod
    def forward(ctx, *xs, dim=0):
        xp = get_array_module(*xs)
        ctx.dim = dim
        ctx.sizes = [x.shape[dim] for x in xs]
        try:
            return xp.concatenate(xs, axis=dim)
        except ValueError:
            raise ValueError(f"cat needs equal shapes except along dim {dim}, "
                             f"got {[tuple(x.shape) for x in xs]}") from None

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        cuts = list(itertools.accumulate(ctx.sizes))[:-1]
        return tuple(xp.split(g, cuts, axis=ctx.dim))


class Stack(Function):
    """y = x1, x2, ... stacked along a new axis ``dim``.   dL/dxk = g[..., k, ...] (index k along ``dim``)."""

    dtypes = ANY

    @staticmethod
    def forward(ctx, *xs, dim=0):
        xp = get_array_module(*xs)
        ctx.dim = dim
        try:
            return xp.stack(xs, axis=dim)
        except ValueError:
            raise ValueError(f"stack needs equal shapes, got {[tuple(x.shape) for x in xs]}") from None

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        return tuple(xp.moveaxis(g, ctx.dim, 0))


class Expand(Function):
    """y = x broadcast to ``shape`` (size-1 axes repeated, new leading axes added), as ``torch.expand``.

    Every output element along a repeated axis is the same input element, so dL/dx = g summed over the
    repeated and the added axes. (PyTorch's expand is a view; this is a copy, so writing into y cannot
    change x.)
    """

    dtypes = ANY

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return get_array_module(x).broadcast_to(x, shape).copy()

    @staticmethod
    def backward(ctx, g):
        return sum_to_shape(g, ctx.shape)
