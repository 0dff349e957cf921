"""Turning what a functional is given into Tensors: the one ``as_tensor`` the functions below share."""

from ..tensor import Tensor, as_array  # noqa: F401  (as_array is re-exported by the package)


def as_tensor(x):
    """``x`` itself if it is a Tensor, else a new Tensor holding ``x`` (an array, a list, a number)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def optional_tensor(x):
    """None stays None (a missing state or bias); anything else as by :func:`as_tensor`."""
    return None if x is None else as_tensor(x)
