"""Reverse-mode automatic differentiation over a graph built while the forward pass runs.

How an op is written. Every differentiable op is a subclass of :class:`Function` with two static methods
working on raw arrays (NumPy or CuPy), never on Tensors:

    class Mul(Function):
        dtypes = NUMERIC                    # which input dtypes it takes (FLOAT unless said otherwise)

        @staticmethod
        def forward(ctx, a, b):             # arrays in, array out
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):            # dL/dy in, one dL/d(input) per input out
            a, b = ctx.saved
            return grad * b, grad * a

``Mul.apply(x, y)`` checks the inputs' dtypes, runs ``forward`` on the arrays of ``x`` and ``y`` and, when a
gradient is wanted, records a :class:`Context` on the result: which op made it, from which input tensors,
and what forward saved. That record is the graph. Tensor inputs are positional; settings such as ``dim``
are keyword arguments, which ``forward`` receives and ``backward`` can read back from ``ctx``.

How backward runs. ``loss.backward()`` walks the graph from ``loss`` back to the leaves in reverse
topological order, so a tensor's gradient is complete (every path into it summed) before it is passed on.
By the chain rule, if y = f(x1, x2, ...) and L depends on y, then dL/dxi = (dL/dy) * (dy/dxi): each op's
``backward`` receives dL/dy and returns the vector-Jacobian products dL/dxi, one per input.

Why gradients accumulate. A leaf's ``.grad`` is *added to* on every ``backward`` (a parameter used in two
places must receive both contributions, and gradients of several losses may be summed deliberately). So
a training step clears them first: ``optimizer.zero_grad()`` (or ``tensor.grad = None``).

The graph is freed by backward. Once an op's backward has run, its Context drops what forward saved and
is marked freed, so the memory goes at once; a second ``backward()`` through it raises PyTorch's "Trying
to backward through the graph a second time" error instead of adding the same gradients again.
``backward(retain_graph=True)`` keeps the graph, and a second backward then accumulates, as in PyTorch.

Version counters: no answer from stale arrays. Backward reads the arrays forward saved, so changing one of
them in between would give a wrong gradient. Every Tensor's memory has a :class:`Version` (tensors that
view one another, through ``detach()``, ``reshape``, ``permute`` or basic indexing, share one). In-place
changes made through the Tensor API (``+=``, ``add_``, ``zero_``, ``copy_``, ``t[i] = v``, and library code
that writes ``t._data`` and calls ``t._bump_version()``) increase it. A Context notes the version of each
input or output whose array forward saved, and before its backward runs any change raises PyTorch's
"one of the variables needed for gradient computation has been modified by an inplace operation". Writes
through the raw array bypass the counter, so while a live graph holds a tensor's array, ``tensor.data``
returns a read-only view: ``x.data[:] = 0`` then fails at once. The hold ends when backward frees the
Context or the Context is garbage-collected (it keeps no reference to its output, so that is immediate).

Gradient arrays are never changed in place, by backward or by minigrad's optimizers and clipping: the same
array may be handed to several tensors. Each ``.grad`` is its tensor's own (see :func:`owned_or_copied`).

Grad mode (``no_grad``) is per thread, as in PyTorch: a thread evaluating under ``no_grad()`` does not stop
another thread from recording.
"""

import collections
import contextlib
import re
import threading

import numpy as np

from .backend import cupy_importable

# ----- grad mode --------------------------------------------------------------------------------------------


class _GradMode(threading.local):
    """Per-thread grad mode: whether ops are recorded, and the states no_grad/enable_grad entries replaced."""

    def __init__(self):
        self.enabled = True
        self.previous = []


_mode = _GradMode()


def is_grad_enabled():
    """Whether new operations are recorded for backward (in the calling thread)."""
    return _mode.enabled


class _GradModeGuard(contextlib.ContextDecorator):
    """Sets the calling thread's grad mode on entry and restores the one it replaced on exit."""

    enabled = None  # the mode inside; set by the subclasses

    def __enter__(self):
        # A stack, not one slot: the same instance is re-entered when a function decorated with @no_grad()
        # calls itself, and each exit must restore the state its own entry saw. It lives in the thread's
        # state, not the instance, because one decorated function may run in several threads at once.
        _mode.previous.append(_mode.enabled)
        _mode.enabled = self.enabled

    def __exit__(self, *exc):
        _mode.enabled = _mode.previous.pop()
        return False


class no_grad(_GradModeGuard):
    """Context manager (and decorator) inside which no graph is recorded: evaluation and optimizer updates.

    >>> with no_grad():
    ...     y = model(x)        # y.requires_grad is False; no memory is kept for backward

    It affects only the calling thread and may be nested and re-entered.
    """

    enabled = False


class enable_grad(_GradModeGuard):
    """Context manager (and decorator) that turns recording back on inside a ``no_grad`` block."""

    enabled = True


# ----- version counters -------------------------------------------------------------------------------------


class Version:
    """The version counter of one block of array memory, shared by every Tensor that views it.

    ``value`` counts the in-place changes made through the Tensor API; ``holds`` counts the live Contexts
    that saved an array of this memory for backward (while it is > 0, ``Tensor.data`` is read-only).
    """

    __slots__ = ("value", "holds")

    def __init__(self):
        self.value = 0
        self.holds = 0


def memory_root(array):
    """The object that owns ``array``'s memory: ``array.base`` for a view (NumPy keeps it the owner), else itself."""
    base = getattr(array, "base", None)
    return array if base is None else base


def same_memory(a, b):
    """Whether arrays ``a`` and ``b`` are the same array or views of one owner (an O(1) test)."""
    return a is b or memory_root(a) is memory_root(b)


FREED_MESSAGE = ("Trying to backward through the graph a second time (or directly access saved tensors after "
                 "they have already been freed). Saved intermediate values of the graph are freed when you call "
                 ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
                 "graph a second time or if you need to access saved tensors after calling backward.")


# ----- the record of one op ---------------------------------------------------------------------------------


class Context:
    """What one op's backward needs: the op, its input tensors, and the arrays its forward saved.

    A Tensor made by an op holds its Context as ``tensor.grad_fn``; the chain of Contexts is the graph.
    ``needs_input_grad[i]`` tells backward whether input i wants a gradient, so it can skip the work.
    ``watched`` lists, for each input or output whose array forward saved, its Version and the value it had;
    the Context holds those Versions until :meth:`release`. It never refers to its output Tensor.
    """

    __slots__ = ("op", "inputs", "needs_input_grad", "input_fns", "watched", "freed", "_saved", "__dict__")

    def __init__(self, op, inputs, needs_input_grad):
        self.op = op
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad
        self.input_fns = ()
        self.watched = ()
        self.freed = False
        self._saved = ()

    def save_for_backward(self, *arrays):
        """Keep ``arrays`` for backward (read back as ``ctx.saved``)."""
        self._saved = arrays

    @property
    def saved(self):
        """The arrays forward saved; raises once backward has freed them."""
        if self.freed:
            raise RuntimeError(FREED_MESSAGE)
        return self._saved

    @property
    def name(self):
        """'MulBackward' for Mul, as PyTorch names its graph nodes."""
        return f"{self.op.__name__}Backward"

    def watch(self, inputs, output):
        """Note the Version of every input or output whose array forward saved, and hold it."""
        tensors = inputs + (output,)
        watched = []
        for array in self._saved:
            if not hasattr(array, "base"):
                continue  # not an array (a number, or None)
            position = owner_position(array, tensors)
            if position is None:
                continue  # a new array of forward's own: nothing else can change it
            tensor = tensors[position]
            version = tensor._vc
            if any(entry[0] is version for entry in watched):
                continue
            label = f"input {position}" if position < len(inputs) else "output 0"
            watched.append((version, version.value, label, tuple(tensor.shape)))
            version.holds += 1
        self.watched = tuple(watched)

    def check_usable(self):
        """Raise if this Context was freed, or if an array it saved changed since forward."""
        if self.freed:
            raise RuntimeError(FREED_MESSAGE)
        for version, expected, label, shape in self.watched:
            if version.value != expected:
                raise RuntimeError(f"one of the variables needed for gradient computation has been modified by "
                                   f"an inplace operation: {label} of {self.name}, of shape {shape}, is at "
                                   f"version {version.value}; expected version {expected} instead.")
        for i, (parent, fn) in enumerate(zip(self.inputs, self.input_fns)):
            if self.needs_input_grad[i] and parent.grad_fn is not fn:
                raise RuntimeError(f"input {i} of {self.name}, of shape {tuple(parent.shape)}, was changed by an "
                                   f"in-place operation after {self.op.__name__} used it, so its gradient "
                                   f"cannot reach the value {self.op.__name__} read; compute out of place "
                                   f"(y = y + 1 rather than y += 1)")

    def release(self):
        """Stop holding the saved arrays' Versions (after backward, or when garbage-collected)."""
        for entry in self.watched:
            entry[0].holds -= 1
        self.watched = ()

    def free(self):
        """Drop everything forward saved, and refuse any later backward through this Context."""
        self.release()
        self._saved = ()
        self.__dict__.clear()
        self.freed = True

    def __del__(self):
        self.release()

    def __repr__(self):
        return f"<{self.name}>"


def owner_position(array, tensors):
    """The position of the tensor whose array ``array`` is, or else views the memory of; None if none does."""
    for i, t in enumerate(tensors):
        if t._data is array:
            return i
    for i, t in enumerate(tensors):
        if same_memory(t._data, array):
            return i
    return None


# ----- dtypes -----------------------------------------------------------------------------------------------

FLOAT = "float"          # Function.dtypes: every input float32 or float64
NUMERIC = "numeric"      # ...or an integer or bool dtype (adding, indexing, comparing ints is meaningful)
ANY = "any"              # no check: ops that only move elements (reshape, indexing, concatenation, casts)

FLOAT_DTYPES = frozenset({np.dtype(np.float32), np.dtype(np.float64)})


def check_dtype(op, dtype, what="input", integers=False):
    """Raise TypeError unless ``dtype`` is float32 or float64 (or, with ``integers``, an integer or bool).

    minigrad computes in float32 and float64 only: float16 and other floats would reach a kernel that does
    not take them, or be silently promoted. ``op`` names the function in the message.
    """
    if dtype in FLOAT_DTYPES or (integers and dtype.kind in "biu"):
        return
    expected = "float32, float64 or integer" if integers else "float32 or float64"
    raise TypeError(f"{op}: expected {expected} {what}, got {dtype}")


def op_name(cls):
    """The name errors use for an op: its ``name``, else its class name in snake case (MaxPool2d: max_pool2d)."""
    return cls.name or re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls.__name__).lower()


def check_input_dtypes(cls, inputs):
    """Apply the op's ``dtypes`` rule to each input Tensor (O(number of inputs), not of their size)."""
    if cls.dtypes == ANY:
        return
    integers = cls.dtypes == NUMERIC
    for t in inputs:
        dtype = t._data.dtype
        if dtype not in FLOAT_DTYPES and not (integers and dtype.kind in "biu"):
            check_dtype(op_name(cls), dtype, integers=integers)


# ----- ops --------------------------------------------------------------------------------------------------


class Function:
    """Base class of every differentiable op; see the module docstring for how to write one.

    Class attributes an op may set: ``dtypes`` (FLOAT, NUMERIC or ANY: which input dtypes it takes),
    ``name`` (the function name its errors use, when the class name does not give it) and ``view``
    (True for ops whose output may be a view of input 0's memory: it then shares input 0's Version).
    """

    dtypes = FLOAT
    name = None
    view = False

    @staticmethod
    def forward(ctx, *arrays, **settings):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **settings):
        from .tensor import Tensor  # tensor.py imports this module, so import here

        check_input_dtypes(cls, inputs)
        check_same_device(cls.__name__, inputs)
        recording = _mode.enabled
        needs = tuple(t.requires_grad for t in inputs) if recording else (False,) * len(inputs)
        ctx = Context(cls, inputs, needs)
        out = cls.forward(ctx, *(t._data for t in inputs), **settings)
        requires_grad = any(needs)
        result = Tensor._wrap(out, requires_grad)
        if cls.view and same_memory(out, inputs[0]._data):
            result._vc = inputs[0]._vc
        if requires_grad:
            result.grad_fn = ctx
            ctx.input_fns = tuple(t.grad_fn for t in inputs)
            if ctx._saved:
                ctx.watch(inputs, result)
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


# ----- backward ---------------------------------------------------------------------------------------------


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
    view), or when it is the caller's ``gradient``. An array made fresh for one input, the usual case (every
    matrix product, every sum of two contributions), is kept as it is: for a large model that saves a copy
    of every weight gradient on every step.
    """
    private = g.base is None and handed_out[id(g)] <= 1 and g.dtype == dtype
    return g if private else g.astype(dtype)


def run_backward(root, grad, retain_graph=False):
    """Propagate ``grad`` (dL/droot) to every leaf that requires a gradient, accumulating into ``.grad``.

    Each Context is checked before its backward runs (not freed, saved arrays unchanged) and, unless
    ``retain_graph``, freed right after.
    """
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
        ctx.check_usable()
        input_grads = ctx.op.backward(ctx, g)
        if not retain_graph:
            ctx.free()
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
