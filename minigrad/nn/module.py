"""Module: the base class of layers and models, as in PyTorch.

A Module owns Parameters (tensors the optimizer trains), buffers (state that is saved but not trained,
such as batch norm's running mean) and sub-modules. Assigning one as an attribute registers it:

    class TwoLayer(Module):
        def __init__(self):
            super().__init__()
            self.fc1 = Linear(4, 8)       # registered as a sub-module; its weight is 'fc1.weight'
            self.fc2 = Linear(8, 2)

        def forward(self, x):
            return self.fc2(self.fc1(x).relu())
"""

from collections import OrderedDict

import numpy as np

from ..backend import to_numpy
from ..tensor import Tensor, as_array, parse_to_arguments


class Parameter(Tensor):
    """A Tensor that is a trainable weight of a Module (``requires_grad=True`` by default)."""

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return f"Parameter(shape={tuple(self.shape)}, dtype={self.dtype})"


class Module:
    """Base class for all layers and models. Subclasses set attributes in ``__init__`` and define ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() before "
                                 f"assigning attributes (got '{name}')")
        if name in self._buffers and isinstance(value, Tensor) and not isinstance(value, Parameter):
            self._buffers[name] = value  # updating a buffer (self.running_mean = ...) keeps it a buffer
            object.__setattr__(self, name, value)
            return
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def add_module(self, name, module):
        """Register ``module`` as the sub-module ``name`` (what ``self.name = module`` does), with PyTorch's checks."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {type(name).__name__}")
        if "." in name or not name:
            raise KeyError(f'module name must not contain "." or be empty, got {name!r}')
        if name in self.__dict__ and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        setattr(self, name, module)

    def register_buffer(self, name, array):
        """Keep ``array`` as saved, untrained state (``state_dict`` includes it), reachable as ``self.name``."""
        tensor = array if isinstance(array, Tensor) else Tensor(as_array(array))
        object.__setattr__(self, name, tensor)
        self._buffers[name] = tensor

    # ----- running -----------------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def train(self, mode=True):
        """Training mode (dropout active, batch norm uses batch statistics) for this module and its children."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    # ----- walking the tree --------------------------------------------------------------------------------
    def named_modules(self, prefix=""):
        """(name, module) for this module and every descendant, depth first; this module's name is ``prefix``."""
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self):
        return (m for _, m in self.named_modules())

    def children(self):
        return iter(self._modules.values())

    def _named_members(self, registry):
        seen = set()
        for prefix, module in self.named_modules():
            for name, member in getattr(module, registry).items():
                if id(member) not in seen:
                    seen.add(id(member))
                    yield (f"{prefix}.{name}" if prefix else name), member

    def named_parameters(self):
        """(dotted name, Parameter) for every parameter, each shared parameter once."""
        return self._named_members("_parameters")

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self):
        return self._named_members("_buffers")

    def zero_grad(self):
        """Forget accumulated gradients (``.grad = None``) of every parameter."""
        for p in self.parameters():
            p.grad = None

    def to(self, *args, device=None, dtype=None):
        """Move every parameter and buffer to ``device`` and/or cast the floating ones to ``dtype``, in place.

        Takes what ``Tensor.to`` takes: ``model.to("cuda")``, ``model.to(np.float64)``, ``model.to(device=...,
        dtype=...)``. As in PyTorch, only floating dtypes are allowed, and integer buffers keep their dtype.
        """
        device, dtype = parse_to_arguments(args, device, dtype, f"{type(self).__name__}.to")
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")
        for _, t in list(self.named_parameters()) + list(self.named_buffers()):
            cast = dtype if dtype is not None and t.dtype.kind == "f" else None
            moved = as_array(t._data, dtype=cast, device=device)
            if moved is not t._data:
                t._data = moved
                t._bump_version()
            if t.grad is not None:
                t.grad = as_array(t.grad, dtype=cast, device=device)
        return self

    # ----- saving and loading ------------------------------------------------------------------------------
    def state_dict(self):
        """Ordered mapping of dotted names to NumPy copies of every parameter and buffer."""
        state = OrderedDict((n, to_numpy(p._data).copy()) for n, p in self.named_parameters())
        state.update((n, to_numpy(b._data).copy()) for n, b in self.named_buffers())
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into this module's parameters and buffers by name.

        Raises KeyError for missing or unexpected names (with ``strict``) and ValueError naming the key and
        both shapes when a shape differs, e.g. when loading a checkpoint of another architecture.
        """
        own = OrderedDict(list(self.named_parameters()) + list(self.named_buffers()))
        if strict:
            missing = [k for k in own if k not in state_dict]
            unexpected = [k for k in state_dict if k not in own]
            if missing or unexpected:
                raise KeyError(f"state_dict does not match {type(self).__name__}: missing keys {missing}, "
                               f"unexpected keys {unexpected}")
        for name, target in own.items():
            if name not in state_dict:
                continue
            value = np.asarray(to_numpy(state_dict[name]))
            if value.shape != target.shape:
                raise ValueError(f"cannot load '{name}': the checkpoint has shape {value.shape}, "
                                 f"this {type(self).__name__} expects {tuple(target.shape)}")
            target._data[...] = as_array(value.astype(target.dtype), device=target.device)   # in place, as copy_
            target._bump_version()

    # ----- printing ----------------------------------------------------------------------------------------
    def extra_repr(self):
        """The settings shown inside this module's parentheses; layers override it."""
        return ""

    def __repr__(self):
        if not self._modules:
            return _describe_leaf(self)
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        total = sum(p.numel() for p in self.parameters())
        lines.append(f")  # {total:,} parameters")
        return "\n".join(lines)


def _describe_leaf(module):
    """'Linear(in_features=4, out_features=2, bias=True)  [weight (2, 4), bias (2,): 10 parameters]'."""
    own = list(module._parameters.items())
    text = f"{type(module).__name__}({module.extra_repr()})"
    if own:
        shapes = ", ".join(f"{n} {tuple(p.shape)}" for n, p in own)
        text += f"  [{shapes}: {sum(p.numel() for _, p in own):,} parameters]"
    return text
