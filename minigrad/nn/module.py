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
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        """Register a Parameter or Module assigned as an attribute; a name keeps its place when it is reassigned.

        A Tensor (or None) assigned to a buffer's name updates the buffer (``self.running_mean = ...``);
        anything else assigned to a registered name unregisters it and becomes a plain attribute.
        """
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() before "
                                 f"assigning attributes (got '{name}')")
        if isinstance(value, Parameter):
            registry = self._parameters
        elif isinstance(value, Module):
            registry = self._modules
        elif name in self._buffers and (value is None or isinstance(value, Tensor)):
            registry = self._buffers
        else:
            registry = None
        for other in (self._parameters, self._buffers, self._modules):
            if other is not registry:
                other.pop(name, None)
        if registry is not self._buffers:
            self._non_persistent_buffers_set.discard(name)
        if registry is not None:
            registry[name] = value  # an existing key keeps its position, so the order stays PyTorch's
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        """``del self.name`` also unregisters a parameter, buffer or sub-module of that name."""
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self._non_persistent_buffers_set.discard(name)
        object.__delattr__(self, name)

    def add_module(self, name, module):
        """Register ``module`` as the sub-module ``name`` (what ``self.name = module`` does), with PyTorch's checks."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_member_name("module", name)
        if hasattr(self, name) and name not in self._modules:   # also a method's name, such as 'forward'
            raise KeyError(f"attribute '{name}' already exists")
        setattr(self, name, module)

    def register_buffer(self, name, tensor, persistent=True):
        """Keep ``tensor`` as untrained state reachable as ``self.name`` (batch norm's running mean, say).

        ``tensor`` may be a Tensor, an array (wrapped in a Tensor) or None (a placeholder, skipped by
        ``buffers()`` and ``state_dict()`` until a Tensor is assigned). ``state_dict`` saves the buffer
        unless ``persistent=False``; ``to()`` moves and casts it either way. Checks as PyTorch's.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_member_name("buffer", name)
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if not isinstance(persistent, bool):
            raise TypeError(f"register_buffer: persistent must be True or False, got {persistent!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            if not (hasattr(tensor, "shape") and hasattr(tensor, "dtype")):
                raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                                f"(a Tensor, an array or None required)")
            tensor = Tensor(as_array(tensor))
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)
        object.__setattr__(self, name, tensor)

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
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) for this module and every descendant, depth first, as PyTorch.

        This module comes first, named ``prefix``; a descendant is named by the dotted path to it
        ('net.0'). A module reachable twice (shared) is given once, unless ``remove_duplicate=False``.
        ``memo`` is the set of modules already given (used by the recursion).
        """
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(memo, _join(prefix, name), remove_duplicate)

    def modules(self, remove_duplicate=True):
        """This module and every descendant (see ``named_modules``)."""
        return (m for _, m in self.named_modules(remove_duplicate=remove_duplicate))

    def named_children(self):
        """(name, module) for each direct sub-module, in registration order, each module once."""
        seen = set()
        for name, module in self._modules.items():
            if module not in seen:
                seen.add(module)
                yield name, module

    def children(self):
        """The direct sub-modules (see ``named_children``)."""
        return (m for _, m in self.named_children())

    def get_submodule(self, target):
        """The sub-module at the dotted path ``target`` ('net.0'); '' is this module. AttributeError if none."""
        if not isinstance(target, str):
            raise TypeError(f"get_submodule: target must be a dotted name (str), got {type(target).__name__}")
        module = self
        if target == "":
            return module
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{type(module).__name__} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        """(dotted name, tensor) from each module's ``registry``, module by module, skipping None.

        With ``remove_duplicate`` a tensor held twice (tied weights) is given once, under its first name.
        """
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        seen = set()
        for module_prefix, module in modules:
            for name, member in getattr(module, registry).items():
                if member is None or id(member) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(member))
                yield _join(module_prefix, name), member

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) for every parameter, each shared parameter once; ``recurse=False``: own only."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Tensor) for every buffer (persistent or not), as ``named_parameters``."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    def _state_members(self):
        """(dotted name, Tensor) of what ``state_dict`` saves, in PyTorch's order.

        Module by module (the order of ``named_modules``): its parameters, then its persistent buffers.
        A tensor held twice is saved once, under its first name.
        """
        seen = set()
        for prefix, module in self.named_modules():
            persistent = [(n, b) for n, b in module._buffers.items() if n not in module._non_persistent_buffers_set]
            for name, member in list(module._parameters.items()) + persistent:
                if member is not None and id(member) not in seen:
                    seen.add(id(member))
                    yield _join(prefix, name), member

    # ----- settings of every parameter ---------------------------------------------------------------------
    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first, recursively), then on self; returns self.

        The PyTorch way to initialise a model: ``model.apply(lambda m: init.zeros_(m.bias) if
        isinstance(m, nn.Linear) else None)``.
        """
        if not callable(fn):
            raise TypeError(f"apply expects a function of a module, got {type(fn).__name__}")
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` of every parameter (False freezes them: no gradient, not trained); returns self."""
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad_: requires_grad must be True or False, got {requires_grad!r}")
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

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

    def float(self):
        """Cast every floating parameter and buffer to float32, in place (``to(float32)``); returns self."""
        return self.to(dtype=np.float32)

    def double(self):
        """Cast every floating parameter and buffer to float64, in place (``to(float64)``); returns self."""
        return self.to(dtype=np.float64)

    # ----- saving and loading ------------------------------------------------------------------------------
    def state_dict(self):
        """Ordered mapping of dotted names to NumPy copies of every parameter and persistent buffer.

        The order is PyTorch's: module by module, each module's parameters and then its buffers.
        """
        return OrderedDict((name, to_numpy(t._data).copy()) for name, t in self._state_members())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into this module's parameters and buffers by name.

        Raises KeyError for missing or unexpected names (with ``strict``) and ValueError naming the key and
        both shapes when a shape differs, e.g. when loading a checkpoint of another architecture.
        """
        own = OrderedDict(self._state_members())
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


def _join(prefix, name):
    """'net' + '0' -> 'net.0'; '' + 'fc' -> 'fc'."""
    return f"{prefix}.{name}" if prefix else name


def _check_member_name(kind, name):
    """PyTorch's rules for a sub-module's or buffer's name: a non-empty string without '.'."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if "." in name or not name:
        raise KeyError(f'{kind} name must not contain "." or be empty, got {name!r}')


def _describe_leaf(module):
    """'Linear(in_features=4, out_features=2, bias=True)  [weight (2, 4), bias (2,): 10 parameters]'."""
    own = list(module._parameters.items())
    text = f"{type(module).__name__}({module.extra_repr()})"
    if own:
        shapes = ", ".join(f"{n} {tuple(p.shape)}" for n, p in own)
        text += f"  [{shapes}: {sum(p.numel() for _, p in own):,} parameters]"
    return text
