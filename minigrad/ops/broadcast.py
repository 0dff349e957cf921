"""Undoing broadcasting in backward.

When NumPy broadcasts ``a`` of shape (3, 1) against ``b`` of shape (4,) to make y of shape (3, 4), each
element of ``a`` is used 4 times. By the chain rule its gradient is the sum of the gradients of every
output element it fed, so dL/da is dL/dy summed over the broadcast axes, back to shape (3, 1).
"""


def sum_to_shape(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape`` again."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:  # leading axes that broadcasting prepended
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad
