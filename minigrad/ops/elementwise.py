"""Elementwise ops. Inputs broadcast as in NumPy; backward sums each gradient back to its input's shape.

Notation: y is the output, g = dL/dy the upstream gradient, products are elementwise.
"""

from ..autograd import NUMERIC, Function
from ..backend import get_array_module
from ..kernels.relu import relu_backward
from .broadcast import sum_to_shape


class Add(Function):
    """y = a + b.   dL/da = g,  dL/db = g  (each summed back over broadcast axes)."""

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return sum_to_shape(g, sa), sum_to_shape(g, sb)


class Sub(Function):
    """y = a - b.   dL/da = g,  dL/db = -g."""

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a - b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return sum_to_shape(g, sa), (sum_to_shape(-g, sb) if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b.   dL/da = g * b,  dL/db = g * a."""

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        da = sum_to_shape(g * b, a.shape) if ctx.needs_input_grad[0] else None
        db = sum_to_shape(g * a, b.shape) if ctx.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """y = a / b.   dL/da = g / b,  dL/db = -g * a / b^2 = -g * y / b."""

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, a, b):
        y = a / b
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved
        da = sum_to_shape(g / b, a.shape) if ctx.needs_input_grad[0] else None
        db = sum_to_shape(-g * y / b, b.shape) if ctx.needs_input_grad[1] else None
        return da, db


class Neg(Function):
    """y = -x.   dL/dx = -g."""

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    """y = x^p for a constant exponent p.   dL/dx = g * p * x^(p-1)."""

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, x, exponent):
        ctx.save_for_backward(x)
        ctx.exponent = exponent
        return x ** exponent

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        p = ctx.exponent
        return g * p * x ** (p - 1)


class Exp(Function):
    """y = e^x.   dL/dx = g * e^x = g * y."""

    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * y


class Log(Function):
    """y = ln x (natural log; x <= 0 gives nan/-inf as in NumPy).   dL/dx = g / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / x


class Sqrt(Function):
    """y = sqrt(x).   dL/dx = g / (2 sqrt(x)) = g / (2y)."""

    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g / (2 * y)


class Tanh(Function):
    """y = tanh x.   dL/dx = g * (1 - y^2)."""

    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * (1 - y * y)


class Sigmoid(Function):
    """y = sigma(x) = 1 / (1 + e^-x).   dL/dx = g * y * (1 - y).

    Computed as (1 + tanh(x/2)) / 2, the same function without exp overflow for large |x|.
    """

    @staticmethod
    def forward(ctx, x):
        y = 0.5 * (get_array_module(x).tanh(0.5 * x) + 1)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * y * (1 - y)


class ReLU(Function):
    """y = max(x, 0).   dL/dx = g where x > 0, else 0 (the subgradient 0 is taken at x = 0, as PyTorch).

    Backward reads y, not x: y > 0 exactly where x > 0. It runs as one fused loop, numba's on the CPU and
    numba.cuda's on a GPU (``minigrad.kernels.relu``).
    """

    dtypes, name = NUMERIC, "relu"

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        y = xp.asarray(xp.maximum(x, 0))        # asarray: NumPy gives a scalar for a 0-d x
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return relu_backward(g, y)


class Abs(Function):
    """y = |x|.   dL/dx = g * sign(x), with sign(0) = 0 (PyTorch's subgradient at the kink)."""

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * get_array_module(x).sign(x)


class Clamp(Function):
    """y = min(max(x, low), high) (either bound may be None: no bound on that side).

    dL/dx = g where low <= x <= high, else 0: the bounds themselves pass the gradient, as in PyTorch.
    """

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, x, low=None, high=None):
        xp = get_array_module(x)
        inside = xp.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.inside = inside
        return xp.asarray(xp.clip(x, low, high), dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.inside


class Maximum(Function):
    """y = max(a, b) elementwise (broadcasting).

    dL/da = g where a > b, g / 2 where a = b, 0 where a < b; dL/db the other way round. Ties split the
    gradient in half, as ``torch.maximum`` does (each input is then a maximum).
    """

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return get_array_module(a).maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        return split_between(ctx, g, lambda a, b: a > b)


class Minimum(Function):
    """y = min(a, b) elementwise.   dL/da = g where a < b, g / 2 where a = b, 0 where a > b; dL/db likewise."""

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return get_array_module(a).minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        return split_between(ctx, g, lambda a, b: a < b)


def split_between(ctx, g, a_wins):
    """Maximum's and Minimum's backward: g to the winner, g / 2 to each on a tie, summed to each shape."""
    a, b = ctx.saved
    share = (a_wins(a, b) + (a == b) * 0.5).astype(g.dtype)
    da = sum_to_shape(g * share, a.shape) if ctx.needs_input_grad[0] else None
    db = sum_to_shape(g * (1 - share), b.shape) if ctx.needs_input_grad[1] else None
    return da, db


class Where(Function):
    """y = a where condition, else b (all three broadcast; condition a bool array, not differentiated).

    dL/da = g where condition, else 0;   dL/db = g where not condition, else 0 (each summed to its shape).
    """

    dtypes = NUMERIC

    @staticmethod
    def forward(ctx, a, b, condition):
        xp = get_array_module(a)
        ctx.condition, ctx.shapes = condition, (a.shape, b.shape)
        return xp.where(condition, a, b)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        zero = xp.zeros((), g.dtype)
        sa, sb = ctx.shapes
        return sum_to_shape(xp.where(ctx.condition, g, zero), sa), sum_to_shape(xp.where(ctx.condition, zero, g), sb)
