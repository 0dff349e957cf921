"""The basic layers: Linear, activations, Flatten, Dropout, the containers (Sequential, ModuleList,
ModuleDict) and the cross-entropy loss module.

Each layer's ``forward`` calls one function of ``minigrad.functional``, whose op has the math.
"""

import math
import operator
from collections import OrderedDict, abc

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


def _position(index, size, kind):
    """``index`` (an int, negative counts from the end) as a position in 0..size-1; IndexError if outside."""
    position = operator.index(index)
    if not -size <= position < size:
        raise IndexError(f"index {position} is out of range for a {kind} of {size} modules")
    return position % size


def _insert_position(index, size, kind):
    """Where ``insert(index, ...)`` puts a module: 0..size, negative counts from the end (as list.insert)."""
    position = operator.index(index)
    if not -size <= position <= size:
        raise IndexError(f"{kind}.insert: index {position} is out of range for {size} modules "
                         f"(expected -{size} <= index <= {size})")
    return position + size if position < 0 else position


def _renumber(container, modules):
    """Make ``modules`` the container's children, in order, named '0', '1', ... (after a delete or insert)."""
    for name in list(container._modules):
        delattr(container, name)
    for i, module in enumerate(modules):
        container.add_module(str(i), module)


def _check_numbered(container, method):
    """KeyError unless the children are named '0'..'n-1', which ``method`` renumbers (not a dict's names)."""
    names = list(container._modules)
    if names != [str(i) for i in range(len(names))]:
        raise KeyError(f"{type(container).__name__}.{method} renumbers the modules, so it needs them named "
                       f"'0'..'{len(names) - 1}' (as Sequential(a, b) names them), got names {names}")


class Sequential(Module):
    """Modules applied in order, as ``torch.nn.Sequential``; indexable, iterable like a list.

    ``Sequential(a, b, c)`` names the modules '0', '1', '2'; ``Sequential(OrderedDict([("fc", a), ...]))``
    gives them the dictionary's names. Anything that is not a Module raises TypeError.

    As in PyTorch, ``seq[1:]`` is a new Sequential of the same modules that keeps their names ('1', '2'),
    ``del seq[i]`` renumbers the rest '0', '1', ..., and ``append``/``insert``/``extend`` return self.
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
        """The module at ``index``; a slice gives a Sequential of those modules, under their names."""
        if isinstance(index, slice):
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        return list(self._modules.values())[_position(index, len(self), "Sequential")]

    def __setitem__(self, index, module):
        """Replace the module at ``index``; it keeps the name and place of the one it replaces."""
        name = list(self._modules)[_position(index, len(self), "Sequential")]
        if not isinstance(module, Module):
            raise TypeError(f"Sequential[{index}] = ...: expected a Module, got {type(module).__name__}")
        setattr(self, name, module)

    def __delitem__(self, index):
        """Remove the module(s) at ``index`` (an int or a slice); the rest are renamed '0', '1', ... as PyTorch."""
        modules = list(self._modules.values())
        positions = range(len(modules))[index] if isinstance(index, slice) else [_position(index, len(self),
                                                                                            "Sequential")]
        removed = set(positions)
        _renumber(self, [m for i, m in enumerate(modules) if i not in removed])

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __add__(self, other):
        """A new Sequential: this one's modules, then ``other``'s (another Sequential), numbered from 0."""
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but "
                             f"{type(other).__name__} is given")
        return Sequential(*self, *other)

    def __iadd__(self, other):
        """Append ``other``'s modules (another Sequential) to this one."""
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but "
                             f"{type(other).__name__} is given")
        return self.extend(other)

    def pop(self, index):
        """Remove the module at ``index`` and return it (the rest are renumbered, as ``del``)."""
        module = self[index]
        del self[index]
        return module

    def append(self, module):
        """Add ``module`` at the end (named by its position); returns self."""
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index, module):
        """Put ``module`` before position ``index`` (-len..len, as ``list.insert``); returns self.

        The modules after it move up one name ('1' becomes '2'), so the names must be '0'..'n-1'.
        """
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert expected a Module, got {type(module).__name__}")
        position = _insert_position(index, len(self), "Sequential")
        _check_numbered(self, "insert")
        modules = list(self._modules.values())
        _renumber(self, modules[:position] + [module] + modules[position:])
        return self

    def extend(self, modules):
        """Append every module of the iterable ``modules`` (a list, another Sequential, ...); returns self."""
        if not isinstance(modules, abc.Iterable):
            raise TypeError(f"Sequential.extend expected an iterable of Modules, got {type(modules).__name__}")
        for module in list(modules):       # a list first: seq.extend(seq) must not grow while it is read
            self.append(module)
        return self


class ModuleList(Module):
    """A list of sub-modules, registered so that their parameters belong to the owner, as ``torch.nn.ModuleList``.

        self.blocks = ModuleList([Linear(8, 8) for _ in range(3)])   # parameters 'blocks.0.weight', ...
        for block in self.blocks: x = block(x).relu()

    The modules are named '0', '1', ... by position, and renumbered after an insert or a delete. It has
    no ``forward``: the owner decides how to call them. A slice is a new ModuleList (renumbered from 0).
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        """The module at ``index`` (negative counts from the end); a slice gives a new ModuleList."""
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[str(_position(index, len(self), "ModuleList"))]

    def __setitem__(self, index, module):
        """Replace the module at ``index``."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList[{index}] = ...: expected a Module, got {type(module).__name__}")
        setattr(self, str(_position(index, len(self), "ModuleList")), module)

    def __delitem__(self, index):
        """Remove the module(s) at ``index`` (an int or a slice) and renumber the rest from 0."""
        modules = list(self._modules.values())
        positions = range(len(modules))[index] if isinstance(index, slice) else [_position(index, len(self),
                                                                                            "ModuleList")]
        removed = set(positions)
        _renumber(self, [m for i, m in enumerate(modules) if i not in removed])

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        """A new ModuleList: this one's modules, then those of the iterable ``other``."""
        return ModuleList(list(self) + list(other))

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        """Append every module of the iterable ``modules``; returns self."""
        if not isinstance(modules, abc.Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable, but got {type(modules).__name__}")
        for module in list(modules):       # a list first: ml.extend(ml) must not grow while it is read
            self.append(module)
        return self

    def insert(self, index, module):
        """Put ``module`` before position ``index`` (-len..len, as ``list.insert``); the rest move up one."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.insert expected a Module, got {type(module).__name__}")
        position = _insert_position(index, len(self), "ModuleList")
        modules = list(self._modules.values())
        _renumber(self, modules[:position] + [module] + modules[position:])

    def pop(self, index=-1):
        """Remove the module at ``index`` (default: the last) and return it."""
        module = self[index]
        del self[index]
        return module


class ModuleDict(Module):
    """An ordered dict of named sub-modules, registered under their keys, as ``torch.nn.ModuleDict``.

        self.heads = ModuleDict({"digit": Linear(64, 10), "parity": Linear(64, 2)})   # 'heads.digit.weight'
        logits = self.heads[task](features)

    Keys must be valid module names: strings, without '.', and not a name the class already uses
    (``keys``, ``forward``, ``training``, ...). Like ModuleList it has no ``forward``.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        if key not in self._modules:
            raise KeyError(f"{key!r} is not a key of this ModuleDict (keys: {list(self._modules)})")
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        if key not in self._modules:
            raise KeyError(f"{key!r} is not a key of this ModuleDict (keys: {list(self._modules)})")
        delattr(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        """Remove every module."""
        for key in list(self._modules):
            delattr(self, key)

    def pop(self, key):
        """Remove ``key`` and return its module."""
        module = self[key]
        del self[key]
        return module

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        """Add or replace modules from a mapping (dict, OrderedDict, ModuleDict) or an iterable of (key, module)
        pairs, in their order; a key already present keeps its place."""
        if isinstance(modules, (abc.Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        if not isinstance(modules, abc.Iterable):
            raise TypeError(f"ModuleDict.update should be called with an iterable of key/value pairs, but got "
                            f"{type(modules).__name__}")
        for j, pair in enumerate(modules):
            if not isinstance(pair, abc.Iterable):
                raise TypeError(f"ModuleDict update sequence element #{j} should be a (key, module) pair; "
                                f"is {type(pair).__name__}")
            pair = list(pair)
            if len(pair) != 2:
                raise ValueError(f"ModuleDict update sequence element #{j} has length {len(pair)}; 2 is required")
            self[pair[0]] = pair[1]


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
