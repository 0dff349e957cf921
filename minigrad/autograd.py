"""Reverse-mode automatic differentiation over a graph built while the forward pass runs.

How an op is written. Every differentiable op is a subclass of :class:`Function` with two static methods
working on raw arrays (NumPy or CuPy), never on Tensors:

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):             # arrays in, array out
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):            # dL/dy in, one dL/d(input) per input out
            a, b = ctx.saved
            return grad * b, grad * a

``Mul.apply(x, y)`` runs ``forward`` on ``x.data`` and ``y.data`` and, when a gradient is wanted, records a
:class:`Context` on the result: which op made it, from which input tensors, and what forward saved. That
record is the graph. Tensor inputs are positional; settings such as ``dim`` are keyword arguments, which
``forward`` receives and ``backward`` can read back from ``ctx``.

How backward runs. ``loss.backward()`` walks the graph from ``loss`` back to the leaves in reverse
topological order, so a tensor's gradient is complete (every path into it summed) before it is passed on.
By the chain rule, if y = f(x1, x2, ...) and L depends on y, then dL/dxi = (dL/dy) * (dy/dxi): each op's
``backward`` receives dL/dy and returns the vector-Jacobian products dL/dxi, one per input.

Why gradients accumulate. A leaf's ``.grad`` is *added to* on every ``backward`` (a parameter used in two
places must receive both contributions, and gradients of several losses may be summed deliberately). So
a training step clears them first: ``optimizer.zero_grad()`` (or ``tensor.grad = None``).

Gradient arrays are never changed in place, by backward or by minigrad's optimizers and clipping: the same
array may be handed to several tensors. Each ``.grad`` is its tensor's own (see :func:`owned_or_copied`).
"""

import collections
import contextlib

from .backend import cupy_importable

_grad_enabled = True


def is_grad_enabled():
    """Whether new operations are recorded for backward."""
    return _grad_enabled


class no_grad(contextlib.ContextDecorator):
    """Context manager (and decorator) inside which no graph is recorded: evaluation and optimizer updates.

    >>> with no_grad():
    ...     y = model(x)        # y.requires_grad is False; no memory is kept for backward
    """

    def __init__(self):
        # A stack, not one slot: the same instance is re-entered when a function decorated with
        # @no_grad() calls itself (or another function sharing the decorator), and each exit must
        # restore the state its own enter saw.
        self._previous = []

    def __enter__(self):
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = False

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return False


class Context:
    """What one op's backward needs: the op, its input tensors, and the arrays its forward saved.

    A Tensor made by an op holds its Context as ``tensor.grad_fn``; the chain of Contexts is the graph.
    ``needs_input_grad[i]`` tells backward whether input i wants a gradient, so it can skip the work.
    """

    __slots__ = ("op", "inputs", "needs_input_grad", "saved", "__dict__")

    def __init__(self, op, inputs, needs_input_grad):
        self.op = op
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad
        self.saved = ()

    def save_for_backward(self, *arrays):
        self.saved = arrays

    def __repr__(self):
        return f"<{self.op.__name__}Backward>"


class Function:
    """Base class of every differentiable op; see the module docstring for how to write one."""

    @staticmethod
    def forward(ctx, *arrays, **settings):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **settings):
        from .tensor import Tensor  # tensor.py imports this module, so import here

        check_same_device(cls.__name__, inputs)
        needs = tuple(t.requires_grad for t in inputs) if _grad_enabled else (False,) * len(inputs)
        ctx = Context(cls, inputs, needs)
        out = cls.forward(ctx, *(t.data for t in inputs), **settings)
        requires_grad = any(needs)
        result = Tensor._wrap(out, requires_grad)
        if requires_grad:
            result.grad_fn = ctx
        return result


def check_same_device(op, inputs):
    """Raise a clear error when an op's input tensors live on different devices (NumPy and CuPy arrays)."""
    if not cupy_importable() or len(inputs) < 2:
        return
    devices = [t.device for t in inputs]
    if len(set(devices)) > 1:
        described = ", ".join(f"{tuple(t.shape)} on {d}" for t, d in zip(inputs, devices))
        raise RuntimeError(f"{op}: expected every input on one device, got {described}; move them with "
                           f".to('cuda') or .to('cpu') (models: model.to(device))")


def topological_order(root):
    """Tensors reachable from ``root`` that need gradients, each after all of its inputs.

    Iterative depth-first search with an explicit stack: a recursive version hits Python's recursion
    limit (about 1000 frames) on deep graphs such as a long unrolled RNN.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node.grad_fn is not None:
            for parent in node.grad_fn.inputs:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def owned_or_copied(g, dtype, handed_out):
    """The array to store as a tensor's ``.grad``: ``g`` itself if nothing else can see it, else a copy.

    A ``.grad`` belongs to its tensor: a user may change it in place (``p.grad *= 0.5``), so it must not be
    shared. ``g`` may be shared when backward handed the same array to several inputs (``Add`` gives its
    upstream gradient to both), when it is a view of another array (``Reshape`` hands out a reshaped
    view), or when it is the caller's ``grad=``. An array made fresh for one input, the usual case (every
    matrix product, every sum of two contributions), is kept as it is: for a large model that saves a copy
    of every weight gradient on every step.
    """
    private = g.base is None and handed_out[id(g)] <= 1 and g.dtype == dtype
    return g if private else g.astype(dtype)


def run_backward(root, grad):
    """Propagate ``grad`` (dL/droot) to every leaf that requires a gradient, accumulating into ``.grad``."""
    pending = {id(root): grad}  # gradient summed so far for each tensor not yet processed
    handed_out = collections.Counter({id(grad): 2})  # arrays given to inputs, and how often; the caller's is shared
    for node in reversed(topological_order(root)):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        if node.grad_fn is None or node._retains_grad:
            node.grad = (owned_or_copied(g, node.dtype, handed_out) if node.grad is None
                         else node.grad + g.astype(node.dtype, copy=False))
        ctx = node.grad_fn
        if ctx is None:
            continue
        input_grads = ctx.op.backward(ctx, g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(ctx.inputs):
            raise RuntimeError(f"{ctx.op.__name__}.backward returned {len(input_grads)} gradients "
                               f"for {len(ctx.inputs)} inputs")
        for parent, pg in zip(ctx.inputs, input_grads):
            if pg is None or not parent.requires_grad:
                continue
            if pg.shape != parent.shape:
                raise RuntimeError(f"{ctx.op.__name__}.backward returned a gradient of shape "
                                   f"{pg.shape} for an input of shape {parent.shape}")
            key = id(parent)
            handed_out[id(pg)] += 1
            # Never add in place: the same array may be handed to several inputs (e.g. by Add).
            pending[key] = pg if key not in pending else pending[key] + pg

