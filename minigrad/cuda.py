"""``minigrad.cuda``: whether a GPU can be used, as ``torch.cuda``.

    if minigrad.cuda.is_available():
        model.to("cuda")
    minigrad.cuda.device_count()      # 0 without CuPy or without an NVIDIA GPU

minigrad runs on a GPU through CuPy (``pip install minigrad[gpu]``), so "CUDA is available" means: CuPy
imported and its CUDA runtime sees at least one device. Neither function ever raises; a missing CuPy, a
missing or too old driver, or no GPU all read as "not available" (0 devices).
"""

from . import backend


def is_available():
    """True when CuPy is importable and sees at least one CUDA GPU; False otherwise, never an exception."""
    return backend.cupy_available()


def device_count():
    """The number of CUDA GPUs CuPy sees: 0 without CuPy, a driver or a GPU (never raises)."""
    if not backend.cupy_importable():
        return 0
    try:
        return int(backend._cupy.cuda.runtime.getDeviceCount())
    except Exception:  # CUDARuntimeError (no driver, no device), or anything else a broken install raises
        return 0
