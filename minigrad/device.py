"""``minigrad.device``: where a tensor's memory lives, as ``torch.device``.

    d = device("cuda:0")          # or device("cuda", 0)
    d.type, d.index               # 'cuda', 0
    str(d)                        # 'cuda:0'
    device("cpu") == "cpu"        # True: a device equals its string (see below)

minigrad knows two device types: ``"cpu"`` (NumPy arrays in host memory) and ``"cuda"`` (CuPy arrays on an
NVIDIA GPU). The index is optional: ``device("cuda")`` means "the current GPU" and has ``index`` None, as in
PyTorch, where ``device("cuda") != device("cuda:0")`` although both usually name the same GPU.

One difference from PyTorch, on purpose: a device compares equal to its string, ``device("cuda") == "cuda"``
(PyTorch 2.13 says False). minigrad's ``Tensor.device`` is a plain string ("cpu" or "cuda"), so this keeps
``t.device == device("cpu")`` true; ``hash(d) == hash(str(d))`` keeps dict and set look-ups consistent.

Making a device never checks that the hardware exists (``device("cuda")`` works on a laptop, as in PyTorch);
ask :func:`minigrad.cuda.is_available` for that.
"""

import builtins
import numbers
import re

TYPES = ("cpu", "cuda")
_DEVICE_STRING = re.compile(r"(?P<type>[a-z]+)(?::(?P<index>0|[1-9][0-9]*))?")


class device:  # noqa: N801  (lower case, as torch.device)
    """A device type (``"cpu"`` or ``"cuda"``) and an optional index (which GPU), immutable.

    Args:
        type: ``"cpu"``, ``"cuda"``, ``"cuda:<index>"``, or a ``device`` (copied).
        index: the device number, an int >= 0; only when ``type`` does not already hold one.

    Raises ValueError for another device type, a malformed string or a negative index, and TypeError for
    arguments of another type; the message names what was expected and what came.
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type, index=None):  # noqa: A002  (the argument is called type in torch.device too)
        if isinstance(type, device):
            if index is not None:
                raise ValueError(f"device({type!r}, {index!r}): index must not be given with a device object")
            kind, number = type.type, type.index
        elif isinstance(type, str):
            kind, number = _parse(type)
            if index is not None:
                if number is not None:
                    raise ValueError(f"device type {type!r} already includes an index, so index={index!r} "
                                     "must not be passed too")
                number = _check_index(index)
        else:
            raise TypeError(f"device() expects a string such as 'cpu', 'cuda' or 'cuda:0' (or a device), "
                            f"got {type!r} of type {builtins.type(type).__name__}")
        object.__setattr__(self, "_type", kind)
        object.__setattr__(self, "_index", number)

    @property
    def type(self):
        """The device type: ``"cpu"`` or ``"cuda"``."""
        return self._type

    @property
    def index(self):
        """The device number (an int >= 0), or None when none was given."""
        return self._index

    def __setattr__(self, name, value):
        raise AttributeError(f"a device cannot be changed (tried to set {name!r}); make a new one")

    def __str__(self):
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self):
        if self._index is None:
            return f"device(type={self._type!r})"
        return f"device(type={self._type!r}, index={self._index})"

    def __eq__(self, other):
        if isinstance(other, device):
            return (self._type, self._index) == (other._type, other._index)
        if isinstance(other, str):
            return str(self) == other
        return NotImplemented

    def __hash__(self):
        return hash(str(self))  # equal to the hash of its string, since it compares equal to it


def _parse(text):
    """(type, index or None) of a device string such as ``"cuda:1"``; ValueError naming what is wrong."""
    match = _DEVICE_STRING.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid device string {text!r}: expected 'cpu', 'cuda' or 'cuda:<index>' "
                         "(an index is a number >= 0 without leading zeros)")
    kind, number = match["type"], match["index"]
    if kind not in TYPES:
        raise ValueError(f"unknown device type {kind!r} in {text!r}: minigrad has the device types "
                         f"{', '.join(repr(t) for t in TYPES)}")
    return kind, None if number is None else int(number)


def _check_index(index):
    """``index`` as an int >= 0; TypeError for a non-integer (bool too), ValueError for a negative one."""
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise TypeError(f"device index must be an int, got {index!r} of type {type(index).__name__}")
    if index < 0:
        raise ValueError(f"device index must not be negative, got {index}")
    return int(index)
