"""Functions on tensors, under ``torch.nn.functional``'s names and argument names.

    import minigrad.functional as F
    loss = F.cross_entropy(model(x), y, label_smoothing=0.1)

Each function wraps one op from ``minigrad.ops``, whose docstring has the forward and backward math.
"""

from .ops import batchnorm as batchnorm_ops
from .ops import conv as conv_ops
from .ops import dropout as dropout_ops
from .ops import linear as linear_ops
from .ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d  # noqa: F401  (re-exported)
from .ops.rnn import gru_cell, lstm_cell  # noqa: F401  (re-exported)
from .ops import shape as shape_ops
from .ops import softmax as softmax_ops
from .tensor import Tensor, as_array, matmul  # noqa: F401  (matmul is re-exported)


def as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def relu(input):
    """max(x, 0) elementwise; see ``ops.elementwise.ReLU``."""
    return as_tensor(input).relu()


def sigmoid(input):
    """1 / (1 + e^-x) elementwise; see ``ops.elementwise.Sigmoid``."""
    return as_tensor(input).sigmoid()


def tanh(input):
    """tanh x elementwise; see ``ops.elementwise.Tanh``."""
    return as_tensor(input).tanh()


def exp(input):
    """e^x elementwise; dL/dx = g * e^x. See ``ops.elementwise.Exp``."""
    return as_tensor(input).exp()


def log(input):
    """Natural log elementwise; dL/dx = g / x. See ``ops.elementwise.Log``."""
    return as_tensor(input).log()


def sqrt(input):
    """sqrt(x) elementwise; dL/dx = g / (2 sqrt(x)). See ``ops.elementwise.Sqrt``."""
    return as_tensor(input).sqrt()


def softmax(input, dim):
    """e^{x_j} / sum_k e^{x_k} along ``dim``; see ``ops.softmax.Softmax``."""
    return as_tensor(input).softmax(dim)


def log_softmax(input, dim):
    """x_j - log sum_k e^{x_k} along ``dim``; see ``ops.softmax.LogSoftmax``."""
    return as_tensor(input).log_softmax(dim)


def linear(input, weight, bias=None):
    """input @ weight^T + bias for input (..., in), weight (out, in), bias (out,); see ``ops.linear.Linear``."""
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return linear_ops.Linear.apply(*(as_tensor(t) for t in inputs))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Normalise each channel of input (N, C, ...) by its mean and variance, then scale by weight and shift by
    bias: with this batch's statistics when training (running_mean and running_var updated in place),
    with the running ones otherwise. See ``ops.batchnorm.BatchNorm``."""
    return batchnorm_ops.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of input (N, C, H, W) with weight (K, C, KH, KW); see ``ops.conv.Conv2d``."""
    bias = None if bias is None else as_tensor(bias)
    return conv_ops.conv2d(as_tensor(input), as_tensor(weight), bias, stride, padding, dilation, groups)


def cross_entropy(input, target, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits ``input`` (N, C) against class indices ``target`` (N,).

    ``target`` may be a Tensor or an array of integers; see ``ops.softmax.CrossEntropy`` for the math.
    """
    target = target._data if isinstance(target, Tensor) else target
    x = as_tensor(input)
    return softmax_ops.CrossEntropy.apply(x, target=as_array(target, device=x.device),
                                          label_smoothing=label_smoothing, reduction=reduction)


def dropout(input, p=0.5, training=True):
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p) when training;
    the identity otherwise. See ``ops.dropout.Dropout``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    return dropout_ops.Dropout.apply(as_tensor(input), p=p)


def cat(tensors, dim=0):
    """Join tensors along an existing axis; see ``ops.shape.Concatenate``."""
    return shape_ops.Concatenate.apply(*(as_tensor(t) for t in tensors), dim=dim)


def stack(tensors, dim=0):
    """Join tensors along a new axis; see ``ops.shape.Stack``."""
    return shape_ops.Stack.apply(*(as_tensor(t) for t in tensors), dim=dim)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge the axes start_dim..end_dim into one (a reshape); dL/dx = g reshaped back to x's shape.
    See ``ops.shape.Reshape``."""
    return as_tensor(input).flatten(start_dim, end_dim)
