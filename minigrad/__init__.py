"""minigrad: a small deep-learning engine whose every forward and backward pass can be read.

    import minigrad as mg
    x = mg.Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()          # x.grad == [[2, 4, 6]]

Modules: ``tensor`` (Tensor), ``autograd`` (the graph and backward), ``ops`` (each op's forward and
backward), ``functional`` (torch.nn.functional names), ``nn``, ``optim``, ``data``, ``metrics``,
``gradcheck``.
"""

from . import memory, threads  # noqa: F401  (first: process settings, before NumPy and numba start)

import numpy as np  # noqa: E402

from . import functional, nn, optim
from .autograd import enable_grad, is_grad_enabled, no_grad
from .backend import get_array_module
from .functional import cat, exp, log, matmul, sigmoid, softmax, sqrt, stack, tanh
from .gradcheck import gradcheck
from .random import manual_seed
from .tensor import Tensor
from . import cuda, utils  # noqa: F401,E402  (minigrad.cuda, minigrad.utils.data: torch.cuda, torch.utils.data)
from .device import device  # noqa: E402
from .serialization import load, save  # noqa: E402

float32 = np.float32
float64 = np.float64

__version__ = "0.1.0"

__all__ = ["Tensor", "tensor", "zeros", "ones", "randn", "rand", "float32", "float64", "functional", "nn",
           "optim", "no_grad", "enable_grad", "is_grad_enabled", "get_array_module", "cat", "exp", "log",
           "matmul", "sigmoid", "softmax", "sqrt", "stack", "tanh", "gradcheck", "manual_seed",
           "device", "save", "load", "cuda", "utils"]


def tensor(data, requires_grad=False, dtype=None, device=None):
    """Make a Tensor (as ``torch.tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def zeros(*shape, dtype=float32, requires_grad=False, device="cpu"):
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad, device=device)


def ones(*shape, dtype=float32, requires_grad=False, device="cpu"):
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad, device=device)


def randn(*shape, dtype=float32, requires_grad=False, device="cpu"):
    """Standard normal samples from minigrad's seeded generator (``manual_seed``)."""
    from .random import get_rng
    return Tensor(get_rng().standard_normal(_shape(shape)).astype(dtype), requires_grad=requires_grad, device=device)


def rand(*shape, dtype=float32, requires_grad=False, device="cpu"):
    """Uniform [0, 1) samples from minigrad's seeded generator (``manual_seed``)."""
    from .random import get_rng
    return Tensor(get_rng().random(_shape(shape)).astype(dtype), requires_grad=requires_grad, device=device)
