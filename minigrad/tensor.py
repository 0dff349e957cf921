"""The Tensor: an n-dimensional array plus what autograd needs to differentiate through it.

    x = Tensor([[1.0, 2.0]], requires_grad=True)   # a leaf: made by you, gradient stored in x.grad
    y = (x * x).sum()                              # made by ops: y.grad_fn records how
    y.backward()                                   # x.grad == 2 * x

``.data`` is the raw array (NumPy, or CuPy on a GPU); ``.grad`` is an array of the same shape, or None.
Python numbers and lists become float32, minigrad's default; an array you pass keeps its dtype, so a
float64 array gives a float64 tensor (what the gradient checks use).
"""

import numpy as np

from . import autograd
from .backend import DEFAULT_DTYPE, device_of, get_array_module, module_for_device, to_numpy
from .ops import elementwise as ew
from .ops import linear, reduce, softmax
from .ops import shape as shape_ops


def as_array(data, dtype=None, device=None):
    """Convert ``data`` to an array on ``device`` ("cpu"/"cuda"; default: where the data already is)."""
    if isinstance(data, Tensor):
        data = data.data
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


class Tensor:
    """An array that records the ops applied to it, so ``backward()`` can compute gradients.

    Args:
        data: array-like (number, nested list, NumPy/CuPy array, or Tensor).
        requires_grad: whether gradients with respect to this tensor are wanted (floating dtypes only).
        dtype: force a dtype, e.g. ``np.float64``.
        device: "cpu" or "cuda"; default is where ``data`` lives.
    """

    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self._data = as_array(data, dtype, device)
        self._version = 0
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self.grad_fn = None
        self._retains_grad = False

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """A Tensor around an existing array, no conversion (used by ops on their results)."""
        t = cls.__new__(cls)
        t._data, t.requires_grad, t.grad, t.grad_fn, t._retains_grad = array, requires_grad, None, None, False
        t._version = 0
        return t

    # ----- the array and its version -----------------------------------------------------------------------
    @property
    def data(self):
        """The raw array (NumPy, or CuPy on a GPU)."""
        return self._data

    @data.setter
    def data(self, array):
        self._data = array

    def _bump_version(self):
        """Record that ``self._data`` was changed in place (code that writes into it calls this)."""
        self._version += 1

    # ----- what it is -------------------------------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return device_of(self.data)

    @property
    def is_leaf(self):
        """True for tensors not made by a recorded op; only leaves get ``.grad`` (see ``retain_grad``)."""
        return self.grad_fn is None

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        return len(self.data)

    def item(self):
        return self.data.item()

    def numpy(self):
        """The values as a NumPy array on the host (a copy when the tensor is on a GPU)."""
        return to_numpy(self.data)

    def tolist(self):
        return self.numpy().tolist()

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(", precision=4)
        extras = "" if self.dtype == DEFAULT_DTYPE else f", dtype={self.dtype}"
        if self.grad_fn is not None:
            extras += f", grad_fn={self.grad_fn!r}"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    __hash__ = object.__hash__  # tensors are hashed by identity (== is elementwise)

    def __bool__(self):
        return bool(self.data)

    # ----- autograd ----------------------------------------------------------------------------------------
    def backward(self, grad=None):
        """Compute d(self)/d(leaf) for every leaf with ``requires_grad`` and add it to ``leaf.grad``.

        ``grad`` is dL/d(self); it may be omitted only for a single-element tensor (then dL/d(self) = 1).
        Gradients accumulate: call ``optimizer.zero_grad()`` (or set ``.grad = None``) between steps.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() called on a tensor that does not require grad: no input of the "
                               "ops that made it had requires_grad=True (or it was made under no_grad())")
        xp = get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a single-element tensor, got shape "
                                   f"{self.shape}; pass grad= of that shape")
            grad = xp.ones_like(self.data)
        else:
            grad = as_array(grad, dtype=self.dtype, device=self.device)
            if grad.shape != self.shape:
                raise ValueError(f"backward(grad) needs grad of shape {self.shape}, got {grad.shape}")
        autograd.run_backward(self, grad)

    def detach(self):
        """The same data, cut from the graph (no ``grad_fn``, ``requires_grad=False``); shares memory."""
        return Tensor._wrap(self.data, False)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Also store ``.grad`` on this non-leaf tensor during backward (for inspecting a graph)."""
        self._retains_grad = True
        return self

    # ----- device and dtype --------------------------------------------------------------------------------
    def to(self, device=None, dtype=None):
        """A copy on ``device`` and/or with ``dtype``; gradients flow back as through ``astype``/copy."""
        if (device is None or device == self.device) and (dtype is None or np.dtype(dtype) == self.dtype):
            return self
        return Tensor(as_array(self.data, dtype, device), requires_grad=self.requires_grad and self.is_leaf)

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    # ----- arithmetic (broadcasting as in NumPy) -----------------------------------------------------------
    def _operand(self, other):
        """``other`` as a Tensor; a Python number takes this tensor's dtype, so float32 stays float32."""
        if isinstance(other, Tensor):
            return other
        xp = get_array_module(self.data)
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
        return Tensor._wrap(self.data == self._operand(other).data)

    def __ne__(self, other):
        return Tensor._wrap(self.data != self._operand(other).data)

    def __lt__(self, other):
        return Tensor._wrap(self.data < self._operand(other).data)

    def __le__(self, other):
        return Tensor._wrap(self.data <= self._operand(other).data)

    def __gt__(self, other):
        return Tensor._wrap(self.data > self._operand(other).data)

    def __ge__(self, other):
        return Tensor._wrap(self.data >= self._operand(other).data)

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

    # ----- reductions --------------------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        return reduce.Sum.apply(self, dim=dim, keepdim=keepdim)

    def mean(self, dim=None, keepdim=False):
        return reduce.Mean.apply(self, dim=dim, keepdim=keepdim)

    def max(self, dim=None, keepdim=False):
        """Maximum over ``dim`` (values only, like ``torch.amax``; ties share the gradient)."""
        return reduce.Max.apply(self, dim=dim, keepdim=keepdim)

    def argmax(self, dim=None, keepdim=False):
        """Indices of the maxima (an integer tensor outside the graph)."""
        return Tensor._wrap(self.data.argmax(axis=dim, keepdims=keepdim))

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

    def permute(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return shape_ops.Permute.apply(self, dims=tuple(d % max(self.ndim, 1) for d in dims))

    def transpose(self, dim0, dim1):
        """Swap two axes."""
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(dims)

    @property
    def T(self):
        """All axes reversed (the matrix transpose for 2-D tensors)."""
        return self.permute(tuple(reversed(range(self.ndim))))

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge axes start_dim..end_dim into one (``torch.flatten``'s defaults)."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        merged = 1
        for n in self.shape[start:end + 1]:
            merged *= n
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1:])

    def __getitem__(self, index):
        return shape_ops.GetItem.apply(self, index=_raw_index(index))


def _raw_index(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index.data if isinstance(index, Tensor) else index


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
