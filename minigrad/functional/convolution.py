"""2-D convolution with ``torch.nn.functional.conv2d``'s arguments; the math is in ``minigrad.ops.conv``.

``pair`` (from ``minigrad.ops.conv``, where the pooling ops use it too) checks the int-or-pair settings; the
layer ``minigrad.nn.Conv2d`` checks its own with it.
"""

from ..ops.conv import Conv2d, pair
from .tensors import as_tensor, optional_tensor


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of input (N, C, H, W) with weight (K, C, KH, KW); see ``ops.conv.Conv2d`` for the math.

    input (N, C, H, W) or unbatched (C, H, W); weight (K, C, KH, KW); bias (K,) or None. ``padding`` may
    be an int, a pair, 'valid' (0) or 'same' (output as large as the input; stride 1 only, and an odd
    dilated kernel size so the zeros split evenly). Only ``groups=1`` is implemented.
    """
    input, weight, bias = as_tensor(input), as_tensor(weight), optional_tensor(bias)
    if groups != 1:
        raise ValueError(f"conv2d: only groups=1 is implemented, got groups={groups}")
    stride, dilation = pair(stride, "stride", 1), pair(dilation, "dilation", 1)
    if isinstance(padding, str):
        padding = same_or_valid_padding(padding, weight.shape, stride, dilation)
    padding = pair(padding, "padding", 0)
    if input.ndim == 3:  # one image: add a batch axis of 1, and take it away again
        out = conv2d(input.reshape(1, *input.shape), weight, bias, stride, padding, dilation)
        return out.reshape(out.shape[1:])
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return Conv2d.apply(*inputs, stride=stride, padding=padding, dilation=dilation)


def same_or_valid_padding(mode, weight_shape, stride, dilation):
    """The padding pair for padding='valid' or 'same' (as PyTorch, 'same' needs stride 1)."""
    if mode == "valid":
        return (0, 0)
    if mode != "same":
        raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {mode!r}")
    if stride != (1, 1):
        raise ValueError(f"padding='same' needs stride 1, got stride {stride}")
    spans = [dilation[a] * (weight_shape[2 + a] - 1) for a in (0, 1)]
    if any(s % 2 for s in spans):
        raise ValueError(f"padding='same' with an even dilated kernel size needs uneven padding, which is not "
                         f"implemented (weight {tuple(weight_shape)}, dilation {dilation})")
    return spans[0] // 2, spans[1] // 2
