"""Matrix products: ``matmul`` and the fused affine map ``linear`` used by every fully connected layer.

Both stay on BLAS (``xp.matmul``): the arithmetic is all in the products, and NumPy hands them to an
optimised sgemm/dgemm.
"""

from ..autograd import NUMERIC, Function
from ..backend import get_array_module
from .broadcast import sum_to_shape


def swap_last(a):
    """The transpose of the last two axes (a batch of matrix transposes)."""
    return a.swapaxes(-1, -2)


class MatMul(Function):
    """Y = A @ B for A (..., n, k) and B (..., k, m), batch axes broadcast.

    Each Y[i, j] = sum_k A[i, k] B[k, j], so dY[i, j]/dA[i, k] = B[k, j]. Summing over j:
        dL/dA = G @ B^T        (..., n, m) @ (..., m, k)
        dL/dB = A^T @ G        (..., k, n) @ (..., n, m)
    followed by a sum over any batch axes that were broadcast.
    """

    dtypes, name = NUMERIC, "matmul"

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul expects A (..., n, k) and B (..., k, m) with matching k; got A "
                             f"{tuple(a.shape)} and B {tuple(b.shape)}")
        ctx.save_for_backward(a, b)
        return get_array_module(a, b).matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        xp = get_array_module(g)
        da = sum_to_shape(xp.matmul(g, swap_last(b)), a.shape) if ctx.needs_input_grad[0] else None
        db = sum_to_shape(xp.matmul(swap_last(a), g), b.shape) if ctx.needs_input_grad[1] else None
        return da, db


class Linear(Function):
    """y = x W^T + b for x (..., in), W (out, in), b (out,) — PyTorch's layout, one op instead of three.

    With G = dL/dy (..., out) and the leading axes of x and G flattened into one batch axis:
        dL/dx = G W             (..., out) @ (out, in)
        dL/dW = G^T x           (out, N) @ (N, in): each example's outer product, summed over the batch
        dL/db = sum of G over the batch
    Pinto & Silva's MLNN (Algorithm 2) is two of these with a ReLU between.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
            raise ValueError(f"linear expects input (..., in) and weight (out, in) with the same 'in'; got "
                             f"input {tuple(x.shape)} and weight {tuple(weight.shape)}")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"linear expects bias of shape ({weight.shape[0]},), got {tuple(bias.shape)}")
        ctx.save_for_backward(x, weight)
        y = x @ weight.T
        if bias is not None:
            y += bias
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved
        needs = ctx.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1])
        dx = (g @ weight) if needs[0] else None
        dw = (g2.T @ x.reshape(-1, x.shape[-1])) if needs[1] else None
        if len(needs) == 3:
            return dx, dw, (g2.sum(axis=0) if needs[2] else None)
        return dx, dw
