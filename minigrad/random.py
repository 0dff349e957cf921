"""minigrad's random number generators: one seeded NumPy Generator on the host, and one CuPy Generator per GPU.

``manual_seed(s)`` makes weight initialisation and dropout masks repeatable, as ``torch.manual_seed``. On the
CPU, dropout draws from the host generator; on a GPU, from that device's generator (see :func:`device_rng`).
The two are different algorithms, so one seed gives the same initial weights on both, but other masks.
"""

import numpy as np

_rng = np.random.default_rng()
_device_rngs = {}  # GPU number -> its CuPy generator


def manual_seed(seed):
    """Reseed the generator used by ``minigrad.nn.init``, ``dropout`` and the random tensor factories."""
    global _rng
    _rng = np.random.default_rng(seed)
    _device_rngs.clear()  # each GPU's generator is made again, from the new seed


def get_rng():
    """The current generator (a ``numpy.random.Generator``)."""
    return _rng


def device_rng(xp):
    """The generator of ``xp``'s current GPU (``xp`` is CuPy): made at its first use, then kept.

    Making a CuPy generator allocates and initialises its state on the device, too slow to repeat per call.
    Its seed is drawn from the host generator, so after ``manual_seed`` (or :func:`set_state`) the GPU's
    draws are repeatable too.
    """
    device = xp.cuda.Device().id
    if device not in _device_rngs:
        _device_rngs[device] = xp.random.default_rng(int(_rng.integers(2 ** 63)))
    return _device_rngs[device]


def get_state():
    """The host generator's state, for checkpoints. (A CuPy generator's state cannot be read.)"""
    return _rng.bit_generator.state


def set_state(state):
    """Restore a state returned by :func:`get_state`; each GPU's generator is then made again from it."""
    _rng.bit_generator.state = state
    _device_rngs.clear()
