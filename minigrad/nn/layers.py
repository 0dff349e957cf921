"""The basic layers: Linear, activations, Flatten, Dropout, Sequential, and the cross-entropy loss module.

Each layer's ``forward`` calls one function of ``minigrad.functional``, whose op has the math.
"""

import math
import operator
from collections import OrderedDict

import numpy as np

from .. import functional as F
from . import init
from .module import Module, Parameter


class Linear(Module):
    """y = x W^T + b with W (out_features, in_features), PyTorch's layout and default initialisation:
    W and b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)) (``kaiming_uniform_`` with a = sqrt(5))."""

    def __init__(self, in_features, out_features, bias=True, dtype="float32"):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear needs positive sizes, got in={in_features}, out={out_features}")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.zeros((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.zeros(out_features, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x):
        return F.relu(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Identity(Module):
    def forward(self, x):
        return x


class Flatten(Module):
    """Merge axes start_dim..end_dim (default: all but the batch axis), e.g. (N, 3, 28, 28) -> (N, 2352)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout with drop probability p in training mode; the identity in eval mode."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Sequential(Module):
    """Modules applied in order, as ``torch.nn.Sequential``; indexable, iterable like a list.

    ``Sequential(a, b, c)`` names the modules '0', '1', '2'; ``Sequential(OrderedDict([("fc", a), ...]))``
    gives them the dictionary's names. Anything that is not a Module raises TypeError.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, index):
        """The module at ``index``; a slice gives a list of modules."""
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return modules[index]
        position = operator.index(index)
        if not -len(modules) <= position < len(modules):
            raise IndexError(f"index {position} is out of range for a Sequential of {len(modules)} modules")
        return modules[position]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        """Add ``module`` at the end (named by its position); returns self."""
        self.add_module(str(len(self)), module)
        return self


class CrossEntropyLoss(Module):
    """``F.cross_entropy`` as a module: loss = CrossEntropyLoss(label_smoothing=0.1)(logits, target)."""

    def __init__(self, reduction="mean", label_smoothing=0.0):
        super().__init__()
        if not isinstance(reduction, str) or reduction not in ("mean", "sum", "none"):
            # PyTorch's first argument is per-class weights, which minigrad does not implement
            raise ValueError(f"CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none', got {reduction!r} "
                             f"(per-class weights are not supported)")
        self.reduction, self.label_smoothing = reduction, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, reduction=self.reduction, label_smoothing=self.label_smoothing)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, label_smoothing={self.label_smoothing}"
