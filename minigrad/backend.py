"""The one array-module switch.

Every op in minigrad is written once against ``xp``, an object with NumPy's API. On the CPU ``xp`` is NumPy;
on an NVIDIA GPU it is CuPy, which mirrors NumPy's functions name for name. An op never imports NumPy for
array math directly: it asks ``get_array_module(array)`` for the module that owns its data, the way Chainer
does, so the same formula runs on either device.

    xp = get_array_module(x)          # numpy for numpy.ndarray, cupy for cupy.ndarray
    y = xp.maximum(x, 0)              # works on both

CuPy is optional (``pip install minigrad[gpu]``); without it everything runs on NumPy.
"""

import numpy as np

from .device import device as Device

try:  # CuPy is an optional extra; importing it must never be required.
    import cupy as _cupy
except Exception:  # ImportError, or a CUDA driver problem at import time
    _cupy = None

DEFAULT_DTYPE = np.float32


def cupy_importable():
    """True when the CuPy package imported (a GPU may still be missing)."""
    return _cupy is not None


def cupy_available():
    """True when CuPy imports and sees at least one CUDA device."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def get_array_module(*arrays):
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def device_name(device):
    """A ``minigrad.device`` as the name minigrad's arrays use ("cpu", "cuda"); other values unchanged.
    minigrad runs on one GPU: ``device("cuda:1")`` raises."""
    if not isinstance(device, Device):
        return device
    if device.index not in (None, 0):
        raise ValueError(f"minigrad uses one GPU, cuda:0; got device {str(device)!r}")
    return device.type


def module_for_device(device):
    """The array module for a device name or ``minigrad.device``: ``"cpu"`` -> numpy, ``"cuda"`` -> cupy."""
    device = device_name(device)
    if device == "cpu":
        return np
    if device in ("cuda", "gpu"):
        if not cupy_available():
            raise RuntimeError(
                "device 'cuda' needs CuPy and an NVIDIA GPU; install minigrad[gpu] "
                "(cupy-cuda12x) on a machine with a GPU, or use device='cpu'")
        return _cupy
    raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")


def device_of(array):
    """``"cuda"`` for a CuPy array, ``"cpu"`` otherwise."""
    return "cuda" if get_array_module(array) is not np else "cpu"


def to_numpy(array):
    """Copy an array to host memory as a NumPy array (no copy if it already is one)."""
    if get_array_module(array) is np:
        return np.asarray(array)
    return array.get()
