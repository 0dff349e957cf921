"""The Tensor: an n-dimensional array plus what autograd needs to differentiate through it.

    x = Tensor([[1.0, 2.0]], requires_grad=True)   # a leaf: made by you, gradient stored in x.grad
    y = (x * x).sum()                              # made by ops: y.grad_fn records how
    y.backward()                                   # x.grad == 2 * x

``.data`` is the raw array (NumPy, or CuPy on a GPU); ``.grad`` is an array of the same shape, or None.
Python numbers and lists become float32, minigrad's default; an array you pass keeps its dtype, so a
float64 array gives a float64 tensor (what the gradient checks use).

In-place changes (``+=``, ``add_``, ``zero_``, ``t[i] = v``, ...) write into the tensor's own array, as in
PyTorch, and count in its version (``t._version``), which autograd checks before it uses a saved array:
see ``minigrad.autograd``. While a graph holds a tensor's array for backward, ``.data`` is read-only.
"""

import collections

import numpy as np

from . import autograd
from .backend import DEFAULT_DTYPE, device_name, device_of, get_array_module, module_for_device, to_numpy
from .device import device as Device
from .ops import elementwise as ew
from .ops import linear, reduce, softmax
from .ops import shape as shape_ops

LEAF_IN_PLACE = "a leaf Variable that requires grad is being used in an in-place operation."

# What max(dim) and min(dim) return, as torch.return_types.max / .min: values and their indices.
MaxResult = collections.namedtuple("max", ("values", "indices"))
MinResult = collections.namedtuple("min", ("values", "indices"))


def as_array(data, dtype=None, device=None):
    """Convert ``data`` to an array on ``device`` ("cpu"/"cuda"; default: where the data already is)."""
    if isinstance(data, Tensor):
        data = data._data
    is_array = hasattr(data, "dtype") and hasattr(data, "shape")
    if device is not None:
        xp = module_for_device(device)
        if xp is np and is_array:
            data = to_numpy(data)
    else:
        xp = get_array_module(data)
    array = xp.asarray(data, dtype=dtype)
    if dtype is None and not is_array and array.dtype.kind == "f":
        array = array.astype(DEFAULT_DTYPE)  # Python floats default to float32, not NumPy's float64
    return array


def parse_to_arguments(args, device=None, dtype=None, caller="to"):
    """(device, dtype) from the arguments of ``to``, as PyTorch reads them.

    Positional arguments may be a device ("cpu", "cuda"), a dtype (``np.float64``, "float64") or a Tensor
    (its device and dtype), in any order; anything else, or a setting given twice, raises TypeError.
    """
    if len(args) > 2:
        raise TypeError(f"{caller}() takes at most a device and a dtype, got {len(args)} positional arguments")
    device = device_name(device)
    for arg in args:
        if isinstance(arg, Device):
            found = {"device": device_name(arg)}
        elif isinstance(arg, Tensor):
            found = {"device": arg.device, "dtype": arg.dtype}
        elif isinstance(arg, str) and (arg in ("cpu", "gpu") or arg.startswith("cuda")):
            found = {"device": arg}
        else:
            found = {"dtype": _as_dtype(arg, caller)}
        for key, value in found.items():
            if (device if key == "device" else dtype) is not None:
                raise TypeError(f"{caller}() got {key} twice")
            if key == "device":
                device = value
            else:
                dtype = value
    return device, (None if dtype is None else np.dtype(dtype))


def _as_dtype(arg, caller):
    """``arg`` as a NumPy dtype; TypeError naming ``caller`` if it is none (np.dtype(None) would be float64)."""
    try:
        if arg is not None:
            return np.dtype(arg)
    except TypeError:
        pass
    raise TypeError(f"{caller}() expected a device ('cpu' or 'cuda'), a dtype or a Tensor, got {arg!r}")


class Cast(autograd.Function):
    """y = x converted to another dtype and/or moved to another device: the same values.

    dL/dx = g converted back to x's dtype and device (a cast is the identity on the values it keeps).
    Made by ``Tensor.to``; a cast to a non-floating dtype leaves the graph instead (no gradient).
    """

    dtypes = autograd.ANY

    @staticmethod
    def forward(ctx, x, dtype=None, device=None):
        ctx.source = (x.dtype, device_of(x))
        return as_array(x, dtype, device)

    @staticmethod
    def backward(ctx, g):
        dtype, device = ctx.source
        return as_array(g, dtype, device)


class Tensor:
    """An array that records the ops applied to it, so ``backward()`` can compute gradients.

    Args:
        data: array-like (number, nested list, NumPy/CuPy array, or Tensor, which is copied).
        requires_grad: whether gradients with respect to this tensor are wanted (floating dtypes only).
        dtype: force a dtype, e.g. ``np.float64``.
        device: "cpu" or "cuda"; default is where ``data`` lives.
    """

    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        copy = isinstance(data, Tensor)  # a new tensor from a tensor owns its values, as torch.tensor(t)
        self._data = as_array(data, dtype, device)
        if copy and self._data is data._data:
            self._data = self._data.copy()
        self._vc = autograd.Version()
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self._data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self.grad_fn = None
        self._retains_grad = False

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """A Tensor around an existing array, no conversion (used by ops on their results)."""
        t = cls.__new__(cls)
        t._data, t.requires_grad, t.grad, t.grad_fn, t._retains_grad = array, requires_grad, None, None, False
        t._vc = autograd.Version()
        return t

    # ----- the array and its version -----------------------------------------------------------------------
    @property
    def data(self):
        """The raw array (NumPy, or CuPy on a GPU); a read-only view while a live graph saved it for backward."""
        if self._vc.holds and isinstance(self._data, np.ndarray):
            view = self._data.view()
            view.flags.writeable = False
            return view
        return self._data

    @data.setter
    def data(self, array):
        if array is self._data:        # ``t.data += 1`` changed the array in place, then assigns it back
            self._bump_version()
            return
        self._data = array
        self._vc = autograd.Version()  # other memory: what views of the old array saw no longer applies

    @property
    def _version(self):
        """How many in-place changes this tensor's memory has had (shared with tensors that view it)."""
        return self._vc.value

    def _bump_version(self):
        """Record that ``self._data`` was changed in place (code that writes into it calls this)."""
        self._vc.value += 1

    # ----- what it is -------------------------------------------------------------------------------------
    @property
    def shape(self):
        return self._data.shape

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def device(self):
        return device_of(self._data)

    @property
    def is_leaf(self):
        """True for tensors not made by a recorded op; only leaves get ``.grad`` (see ``retain_grad``)."""
        return self.grad_fn is None

    def size(self, dim=None):
        return self._data.shape if dim is None else self._data.shape[dim]

    def numel(self):
        return int(self._data.size)

    def __len__(self):
        return len(self._data)

    def item(self):
        return self._data.item()

    def numpy(self):
        """The values as a NumPy array on the host (a copy when the tensor is on a GPU; read-only like ``data``)."""
        return to_numpy(self.data)

    def tolist(self):
        return self.numpy().tolist()

    def __repr__(self):
        body = np.array2string(to_numpy(self._data), separator=", ", prefix="tensor(", precision=4)
        extras = "" if self.dtype == DEFAULT_DTYPE else f", dtype={self.dtype}"
        if self.grad_fn is not None:
            extras += f", grad_fn={self.grad_fn!r}"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    __hash__ = object.__hash__  # tensors are hashed by identity (== is elementwise)

    def __bool__(self):
        return bool(self._data)

    # ----- autograd ----------------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Compute d(self)/d(leaf) for every leaf with ``requires_grad`` and add it to ``leaf.grad``.

        ``gradient`` is dL/d(self), of self's shape; it may be omitted only for a single-element tensor
        (then dL/d(self) = 1). Gradients accumulate: call ``optimizer.zero_grad()`` (or set ``.grad = None``)
        between steps. The graph is freed as backward walks it; ``retain_graph=True`` keeps it for another
        backward. ``create_graph=True`` (a graph of the backward pass, for higher derivatives) is not
        supported.
        """
        if create_graph:
            raise NotImplementedError("backward(create_graph=True) is not supported: minigrad's backward "
                                      "works on raw arrays and records no graph of its own")
        if not self.requires_grad:
            raise RuntimeError("backward() called on a tensor that does not require grad: no input of the "
                               "ops that made it had requires_grad=True (or it was made under no_grad())")
        xp = get_array_module(self._data)
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a single-element tensor, got shape "
                                   f"{self.shape}; pass gradient= of that shape")
            gradient = xp.ones_like(self._data)
        else:
            gradient = as_array(gradient, dtype=self.dtype, device=self.device)
            if gradient.shape != self.shape:
                raise ValueError(f"backward(gradient) needs gradient of shape {self.shape}, got {gradient.shape}")
        autograd.run_backward(self, gradient, retain_graph=bool(retain_graph))

    def detach(self):
        """The same data, cut from the graph (no ``grad_fn``, ``requires_grad=False``); shares memory and version."""
        t = Tensor._wrap(self._data, False)
        t._vc = self._vc
        return t

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Also store ``.grad`` on this non-leaf tensor during backward (for inspecting a graph)."""
        self._retains_grad = True
        return self

    # ----- device and dtype --------------------------------------------------------------------------------
    def to(self, *args, device=None, dtype=None):
        """This tensor on ``device`` and/or with ``dtype`` (``t.to("cuda")``, ``t.to(np.float64)``, ``t.to(other)``).

        Returns self when nothing changes, else a copy that gradients flow back through (see :class:`Cast`);
        a cast to a non-floating dtype leaves the graph, as it has no gradient.
        """
        device, dtype = parse_to_arguments(args, device, dtype)
        if device is not None:
            module_for_device(device)                      # an unknown device raises here
        if (device is None or device == self.device) and (dtype is None or dtype == self.dtype):
            return self
        if (dtype or self.dtype).kind != "f":
            return Tensor._wrap(as_array(self._data, dtype, device))
        return Cast.apply(self, dtype=dtype, device=device)

    def float(self):
        return self.to(dtype=np.float32)

    def long(self):
        return self.to(dtype=np.int64)

    def int(self):
        return self.to(dtype=np.int32)

    def bool(self):
        return self.to(dtype=np.bool_)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def double(self):
        return self.to(dtype=np.float64)

    # ----- arithmetic (broadcasting as in NumPy) -----------------------------------------------------------
    def _operand(self, other):
        """``other`` as a Tensor; a Python number takes this tensor's dtype, so float32 stays float32."""
        if isinstance(other, Tensor):
            return other
        xp = get_array_module(self._data)
        if isinstance(other, (int, float)):
            # ...but a float never takes an integer dtype (uint8 image * (1/255) must not become 0).
            dtype = DEFAULT_DTYPE if isinstance(other, float) and self.dtype.kind not in "fc" else self.dtype
            return Tensor._wrap(xp.asarray(other, dtype=dtype))
        return Tensor._wrap(as_array(other, device=self.device))

    def __add__(self, other):
        return ew.Add.apply(self, self._operand(other))

    def __radd__(self, other):
        return ew.Add.apply(self._operand(other), self)

    def __sub__(self, other):
        return ew.Sub.apply(self, self._operand(other))

    def __rsub__(self, other):
        return ew.Sub.apply(self._operand(other), self)

    def __mul__(self, other):
        return ew.Mul.apply(self, self._operand(other))

    def __rmul__(self, other):
        return ew.Mul.apply(self._operand(other), self)

    def __truediv__(self, other):
        return ew.Div.apply(self, self._operand(other))

    def __rtruediv__(self, other):
        return ew.Div.apply(self._operand(other), self)

    def __neg__(self):
        return ew.Neg.apply(self)

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError(f"pow supports a constant Python number exponent, got {type(exponent).__name__}")
        return ew.Pow.apply(self, exponent=exponent)

    def __matmul__(self, other):
        return matmul(self, self._operand(other))

    def __rmatmul__(self, other):
        return matmul(self._operand(other), self)

    # Comparisons give boolean tensors outside the graph (they have no useful gradient).
    def __eq__(self, other):
        return Tensor._wrap(self._data == self._operand(other)._data)

    def __ne__(self, other):
        return Tensor._wrap(self._data != self._operand(other)._data)

    def __lt__(self, other):
        return Tensor._wrap(self._data < self._operand(other)._data)

    def __le__(self, other):
        return Tensor._wrap(self._data <= self._operand(other)._data)

    def __gt__(self, other):
        return Tensor._wrap(self._data > self._operand(other)._data)

    def __ge__(self, other):
        return Tensor._wrap(self._data >= self._operand(other)._data)

    # ----- in place (as PyTorch: the tensor's own array changes, its version goes up) ----------------------
    def _in_place(self, op, other):
        """self = op(self, other) written into self's array; recorded in the graph when a gradient is wanted.

        When it is, the op runs on a copy of the old values that takes over self's place in the graph, and
        self becomes the op's output (PyTorch "rebases" the history the same way).
        """
        others = () if other is None else (self._operand(other),)      # None: a unary op (relu_)
        if autograd.is_grad_enabled() and (self.requires_grad or any(o.requires_grad for o in others)):
            if self.requires_grad and self.is_leaf:
                raise RuntimeError(LEAF_IN_PLACE)
            before = Tensor._wrap(self._data.copy(), self.requires_grad)
            before.grad_fn = self.grad_fn
            result = op.apply(before, *others)
        else:
            result = op.apply(self, *others)
        self._store(result._data)
        if result.grad_fn is not None:
            self.grad_fn, self.requires_grad = result.grad_fn, True
        return self

    def _store(self, array):
        """Write ``array`` (the result of an in-place op) into self's array, with PyTorch's checks."""
        if array.shape != self.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(array.shape)}")
        if not np.can_cast(array.dtype, self.dtype, casting="same_kind"):
            raise RuntimeError(f"result type {array.dtype} can't be cast to the desired output type {self.dtype}")
        self._data[...] = array
        self._bump_version()

    def _check_overwrite(self, name, source=None):
        """Raise if overwriting self's values in place (not through a recorded op) would break a graph."""
        if not autograd.is_grad_enabled():
            return
        if self.requires_grad and self.is_leaf:
            raise RuntimeError(LEAF_IN_PLACE)
        if self.requires_grad or (isinstance(source, Tensor) and source.requires_grad):
            raise NotImplementedError(f"{name} on or from a tensor that is part of an autograd graph is not "
                                      f"recorded by minigrad; do it under no_grad(), or on detached tensors")

    def __iadd__(self, other):
        return self._in_place(ew.Add, other)

    def __isub__(self, other):
        return self._in_place(ew.Sub, other)

    def __imul__(self, other):
        return self._in_place(ew.Mul, other)

    def __itruediv__(self, other):
        return self._in_place(ew.Div, other)

    def add_(self, other, alpha=1):
        """self += alpha * other, in place."""
        return self._in_place(ew.Add, other if alpha == 1 else self._operand(other) * alpha)

    def sub_(self, other, alpha=1):
        """self -= alpha * other, in place."""
        return self._in_place(ew.Sub, other if alpha == 1 else self._operand(other) * alpha)

    def mul_(self, other):
        """self *= other, in place."""
        return self._in_place(ew.Mul, other)

    def div_(self, other):
        """self /= other, in place."""
        return self._in_place(ew.Div, other)

    def __setitem__(self, index, value):
        """self[index] = value in place (value broadcast as in NumPy); not recorded for autograd."""
        self._check_overwrite("__setitem__", value)
        self._data[_raw_index(index)] = as_array(value, device=self.device) if isinstance(value, Tensor) else value
        self._bump_version()

    def fill_(self, value):
        """Set every element to ``value``, in place."""
        return self._fill("fill_", value)

    def zero_(self):
        """Set every element to 0, in place."""
        return self._fill("zero_", 0)

    def _fill(self, name, value):
        self._check_overwrite(name, value)
        self._data[...] = value._data if isinstance(value, Tensor) else value
        self._bump_version()
        return self

    def copy_(self, src):
        """Copy ``src``'s values (broadcast to self's shape, cast to self's dtype and device) into self."""
        self._check_overwrite("copy_", src)
        self._data[...] = as_array(src, device=self.device)
        self._bump_version()
        return self

    # ----- elementwise functions ---------------------------------------------------------------------------
    def pow(self, exponent):
        return self ** exponent

    def exp(self):
        return ew.Exp.apply(self)

    def log(self):
        return ew.Log.apply(self)

    def sqrt(self):
        return ew.Sqrt.apply(self)

    def tanh(self):
        return ew.Tanh.apply(self)

    def sigmoid(self):
        return ew.Sigmoid.apply(self)

    def relu(self):
        return ew.ReLU.apply(self)

    def relu_(self):
        """ReLU in place (``nn.ReLU(inplace=True)``): this tensor's values become max(x, 0), and it becomes
        the output of a ReLU in the graph, as PyTorch's in-place ops do (see ``_in_place``)."""
        return self._in_place(ew.ReLU, None)

    def abs(self):
        return ew.Abs.apply(self)

    def clamp(self, min=None, max=None):
        """min(max(x, min), max); either bound may be None (``torch.clamp``; ``clip`` is the same)."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        if any(isinstance(bound, Tensor) for bound in (min, max)):
            raise TypeError("clamp: tensor bounds are not supported; use maximum/minimum")
        return ew.Clamp.apply(self, low=min, high=max)

    clip = clamp

    def maximum(self, other):
        return ew.Maximum.apply(self, self._operand(other))

    def minimum(self, other):
        return ew.Minimum.apply(self, self._operand(other))

    def where(self, condition, other):
        """self where condition, else other (``torch.Tensor.where``)."""
        return where(condition, self, other)

    def masked_fill(self, mask, value):
        """A copy with ``value`` where ``mask`` is True; the gradient reaches the other elements only."""
        return where(mask, self._operand(value), self)

    # ----- reductions --------------------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Sum over ``dim`` (None: every axis); ``axis`` and ``keepdims`` are NumPy's names, as PyTorch takes."""
        dim, keepdim = dim_arguments("sum", dim, keepdim, axis, keepdims)
        return reduce.Sum.apply(self, dim=dim, keepdim=keepdim)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = dim_arguments("mean", dim, keepdim, axis, keepdims)
        return reduce.Mean.apply(self, dim=dim, keepdim=keepdim)

    def var(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        """sum((x - mean)^2) / (n - correction) over ``dim`` (``torch.var``; correction=1 is Bessel's, and
        ``unbiased=False`` means correction 0). Built from mean, sub, mul and sum: their backwards give
        dL/dx = g * 2 (x - mean) / (n - correction)."""
        if unbiased is not None:
            correction = 1 if unbiased else 0
        dims = reduce.normalize_dims(dim, self.ndim)
        n = 1
        for d in dims:
            n *= self.shape[d]
        centred = self - self.mean(dim=dims, keepdim=True)
        return (centred * centred).sum(dim=dims, keepdim=keepdim) / max(n - correction, 0)

    def std(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        """sqrt of :meth:`var` (``torch.std``)."""
        return self.var(dim, keepdim, correction=correction, unbiased=unbiased).sqrt()

    def amax(self, dim=None, keepdim=False):
        """Maximum over ``dim`` (None, an int or a tuple), values only; ties share the gradient (``torch.amax``)."""
        return reduce.Max.apply(self, dim=dim, keepdim=keepdim)

    def amin(self, dim=None, keepdim=False):
        """Minimum over ``dim`` (None, an int or a tuple), values only; ties share the gradient (``torch.amin``)."""
        return reduce.Min.apply(self, dim=dim, keepdim=keepdim)

    def max(self, dim=None, keepdim=False):
        """As ``torch.max``: without ``dim`` the largest element (a 0-d tensor; ties share the gradient);
        with an int ``dim`` the named tuple (values, indices) of the maxima along it (the first among ties,
        which alone receives the gradient)."""
        return self._extremum("max", dim, keepdim)

    def min(self, dim=None, keepdim=False):
        """As ``torch.min``: the smallest element, or with an int ``dim`` the named tuple (values, indices)."""
        return self._extremum("min", dim, keepdim)

    def _extremum(self, name, dim, keepdim):
        """max or min, as torch.max / torch.min read their arguments."""
        if dim is None:
            if keepdim:
                raise TypeError(f"{name}() takes keepdim only with a dim")
            return self.amax() if name == "max" else self.amin()
        if isinstance(dim, Tensor):
            raise TypeError(f"{name}(other), the elementwise {name}imum of two tensors, is not supported")
        if isinstance(dim, (tuple, list)):
            raise TypeError(f"{name}(dim) takes one dim (an int), got {dim!r}; use a{name}(dim=...) to reduce "
                            f"over several")
        d = reduce.wrap_dim(dim, self.ndim)
        source = self if self.ndim else self.reshape(1)
        if source.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        pick = source._data.argmax if name == "max" else source._data.argmin
        index = pick(axis=d, keepdims=True)
        values = reduce.TakeAlongDim.apply(source, index=index, dim=d, keepdim=keepdim or not self.ndim)
        indices = index if keepdim or not self.ndim else index.squeeze(d)
        if not self.ndim:
            values, indices = values.reshape(()), indices.reshape(())
        return (MaxResult if name == "max" else MinResult)(values, Tensor._wrap(indices))

    def argmax(self, dim=None, keepdim=False):
        """Indices of the maxima along ``dim`` (of the flattened tensor without one); outside the graph."""
        axis = None if dim is None else reduce.wrap_dim(dim, self.ndim)
        return Tensor._wrap(self._data.argmax(axis=axis, keepdims=keepdim))

    def argmin(self, dim=None, keepdim=False):
        """Indices of the minima along ``dim`` (of the flattened tensor without one); outside the graph."""
        axis = None if dim is None else reduce.wrap_dim(dim, self.ndim)
        return Tensor._wrap(self._data.argmin(axis=axis, keepdims=keepdim))

    def softmax(self, dim):
        return softmax.Softmax.apply(self, dim=dim)

    def log_softmax(self, dim):
        return softmax.LogSoftmax.apply(self, dim=dim)

    # ----- shape -------------------------------------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return shape_ops.Reshape.apply(self, shape=tuple(shape))

    view = reshape

    def unsqueeze(self, dim):
        """A new axis of size 1 at ``dim`` (from -ndim-1 to ndim, as PyTorch)."""
        d = reduce.wrap_dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        """Without the size-1 axes (only ``dim``'s, an int or a tuple, when given; others stay, as PyTorch)."""
        dims = range(self.ndim) if dim is None else reduce.normalize_dims(dim, self.ndim) if self.ndim else ()
        drop = {d for d in dims if self.shape[d] == 1}
        return self.reshape(tuple(n for d, n in enumerate(self.shape) if d not in drop))

    def expand(self, *sizes):
        """Broadcast to ``sizes`` (-1 keeps an axis' size); see ``ops.shape.Expand``."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise RuntimeError(f"expand: the number of sizes ({len(sizes)}) must be at least the tensor's "
                               f"dimensions ({self.ndim})")
        shape = tuple(self.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
        return shape_ops.Expand.apply(self, shape=shape)

    def expand_as(self, other):
        return self.expand(other.shape)

    def clone(self):
        """A copy in the graph: dL/dx = g (``Expand`` to its own shape copies and passes g unchanged)."""
        return shape_ops.Expand.apply(self, shape=self.shape)

    def t(self):
        """The transpose of a matrix; a 0-d or 1-d tensor is returned as it is (``torch.Tensor.t``)."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self if self.ndim < 2 else self.transpose(0, 1)

    def split(self, split_size_or_sections, dim=0):
        """Pieces along ``dim``: of ``split_size`` each (the last smaller), or of the listed sizes."""
        d = reduce.wrap_dim(dim, self.ndim)
        n = self.shape[d]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections < 1:
                raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
            sizes = [min(split_size_or_sections, n - start) for start in range(0, n, split_size_or_sections)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise RuntimeError(f"split: sizes {sizes} do not sum to the size {n} of dim {dim}")
        pieces, start = [], 0
        for size in sizes:
            pieces.append(self[(slice(None),) * d + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    def chunk(self, chunks, dim=0):
        """At most ``chunks`` pieces of ceil(size / chunks) along ``dim`` (``torch.chunk``)."""
        if chunks < 1:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        n = self.shape[reduce.wrap_dim(dim, self.ndim)]
        return self.split(max(1, -(-n // chunks)), dim)

    def mm(self, other):
        """Matrix product of two 2-D tensors (``torch.mm``); ``matmul``/``@`` broadcasts, this does not."""
        if self.ndim != 2 or other.ndim != 2:
            raise RuntimeError(f"mm: expected two 2-D tensors, got {self.ndim}-D and {other.ndim}-D")
        return self @ other

    def bmm(self, other):
        """Batched matrix product of (B, n, k) and (B, k, m) tensors (``torch.bmm``)."""
        if self.ndim != 3 or other.ndim != 3 or self.shape[0] != other.shape[0]:
            raise RuntimeError(f"bmm: expected (B, n, k) and (B, k, m), got {self.shape} and {other.shape}")
        return self @ other

    def permute(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return shape_ops.Permute.apply(self, dims=tuple(reduce.wrap_dim(d, self.ndim) for d in dims))

    def transpose(self, dim0, dim1):
        """Swap two axes."""
        dims = list(range(self.ndim))
        dim0, dim1 = reduce.wrap_dim(dim0, self.ndim), reduce.wrap_dim(dim1, self.ndim)
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(dims)

    @property
    def T(self):
        """All axes reversed (the matrix transpose for 2-D tensors)."""
        return self.permute(tuple(reversed(range(self.ndim))))

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge axes start_dim..end_dim into one (``torch.flatten``'s defaults and range checks)."""
        start, end = reduce.wrap_dim(start_dim, self.ndim), reduce.wrap_dim(end_dim, self.ndim)
        if self.ndim == 0:
            return self.reshape(1)
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        merged = 1
        for n in self.shape[start:end + 1]:
            merged *= n
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1:])

    def __getitem__(self, index):
        return shape_ops.GetItem.apply(self, index=_raw_index(index))


def _raw_index(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    return index._data if isinstance(index, Tensor) else index


def matmul(a, b):
    """Matrix product with NumPy's rules; 1-D operands are promoted to matrices and the axis removed after.

    C = A B; backward dL/dA = G B^T, dL/dB = A^T G (see ``ops.linear.MatMul``)."""
    if (a.ndim == 1 or b.ndim == 1) and a.ndim and b.ndim and a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul: the last axis of A {tuple(a.shape)} must match "
                         f"{'the first' if b.ndim == 1 else 'the second-to-last'} axis of B {tuple(b.shape)}")
    if a.ndim == 1 and b.ndim == 1:
        return (a.reshape(1, -1) @ b.reshape(-1, 1)).reshape(())
    if a.ndim == 1:
        out = linear.MatMul.apply(a.reshape(1, -1), b)
        return out.reshape(out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        return linear.MatMul.apply(a, b.reshape(-1, 1)).reshape(a.shape[:-1])
    return linear.MatMul.apply(a, b)


def dim_arguments(op, dim, keepdim, axis, keepdims):
    """dim and keepdim from PyTorch's names or NumPy's aliases ``axis`` and ``keepdims`` (not both)."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}() got both dim and axis")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, keepdim


def where(condition, input, other):
    """input where condition, else other (``torch.where``); see ``ops.elementwise.Where``."""
    condition = condition._data if isinstance(condition, Tensor) else condition
    input = input if isinstance(input, Tensor) else None if input is None else Tensor(input)
    if input is None:
        raise TypeError("where(condition) with one argument is not supported; use condition.nonzero()")
    other = input._operand(other)
    xp = get_array_module(input._data)
    condition = xp.asarray(condition)
    if condition.dtype != bool:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {condition.dtype}")
    return ew.Where.apply(input, other, condition=condition)
