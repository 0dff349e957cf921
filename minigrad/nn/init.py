"""Weight initialisation with PyTorch's formulas and defaults (``torch.nn.init``).

For a weight of shape (out, in, *kernel), fan_in = in * prod(kernel) and fan_out = out * prod(kernel).

- Glorot/Xavier (Glorot & Bengio, 2010) keeps the variance of activations and gradients equal across a
  layer: Var(w) = gain^2 * 2 / (fan_in + fan_out).
      xavier_uniform_:  U(-a, a),  a = gain * sqrt(6 / (fan_in + fan_out))
      xavier_normal_:   N(0, std^2),  std = gain * sqrt(2 / (fan_in + fan_out))
- He/Kaiming (He et al., 2015) accounts for ReLU halving the variance: Var(w) = gain^2 / fan.
      kaiming_uniform_: U(-b, b),  b = gain * sqrt(3 / fan)
      kaiming_normal_:  N(0, std^2),  std = gain / sqrt(fan)
  with fan = fan_in (mode='fan_in', the default) or fan_out, and gain = calculate_gain(nonlinearity, a).

All functions fill the tensor's array in place (its version goes up, as with any in-place change) from
minigrad's seeded generator and return the tensor.
"""

import math

from ..backend import get_array_module
from ..random import get_rng


def calculate_gain(nonlinearity, param=None):
    """The recommended gain: 1 for linear/sigmoid, 5/3 for tanh, sqrt(2) for relu,
    sqrt(2 / (1 + a^2)) for leaky_relu with negative slope a (default 0.01), as in PyTorch."""
    if nonlinearity in ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                        "conv_transpose2d", "conv_transpose3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel); needs at least 2 dimensions."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape {tensor.shape}")
    receptive = 1
    for n in tensor.shape[2:]:
        receptive *= n
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor, values):
    """Write ``values`` (a NumPy array or a number) into ``tensor``'s array, on its device, and bump its version."""
    xp = get_array_module(tensor._data)
    tensor._data[...] = xp.asarray(values, dtype=tensor.dtype)
    tensor._bump_version()
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    return _fill(tensor, get_rng().uniform(a, b, size=tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    return _fill(tensor, get_rng().normal(mean, std, size=tensor.shape))


def constant_(tensor, value):
    return _fill(tensor, value)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain=1.0):
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor, gain=1.0):
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))
