"""minigrad's random number generator: one seeded NumPy Generator for initialisation and dropout.

``manual_seed(s)`` makes weight initialisation and dropout masks repeatable, as ``torch.manual_seed``.
"""

import numpy as np

_rng = np.random.default_rng()


def manual_seed(seed):
    """Reseed the generator used by ``minigrad.nn.init``, ``dropout`` and the random tensor factories."""
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng():
    """The current generator (a ``numpy.random.Generator``)."""
    return _rng


def get_state():
    """The generator's state, for checkpoints."""
    return _rng.bit_generator.state


def set_state(state):
    """Restore a state returned by :func:`get_state`."""
    _rng.bit_generator.state = state
