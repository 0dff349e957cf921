"""Functions on tensors, under ``torch.nn.functional``'s names and argument names.

    import minigrad.functional as F
    loss = F.cross_entropy(model(x), y, label_smoothing=0.1)

Each function wraps one op from ``minigrad.ops`` (whose docstring has the forward and backward math): it
turns its arguments into Tensors, checks them and fills in defaults, then applies the op. The ops work on
arrays only; this package is where Tensors meet them, and ``minigrad.nn``'s layers call these functions.
One module per family, all re-exported here:

    tensors         as_tensor (and Tensor, as_array)
    activation      relu, sigmoid, tanh, exp, log, sqrt, softmax, log_softmax
    affine          matmul, linear
    loss            cross_entropy
    regularization  dropout
    shape           cat, stack, flatten
    convolution     conv2d
    pooling         max_pool2d, avg_pool2d, adaptive_avg_pool2d
    normalization   batch_norm
    recurrent       lstm_cell, gru_cell, lstm_layer, gru_layer, lstm, gru
"""

from .activation import exp, log, log_softmax, relu, sigmoid, softmax, sqrt, tanh
from .affine import linear, matmul
from .convolution import conv2d
from .loss import cross_entropy
from .normalization import batch_norm
from .pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from .recurrent import gru, gru_cell, gru_layer, lstm, lstm_cell, lstm_layer
from .regularization import dropout
from .shape import cat, flatten, stack
from .tensors import Tensor, as_array, as_tensor

__all__ = [
    "Tensor", "as_array", "as_tensor",
    "relu", "sigmoid", "tanh", "exp", "log", "sqrt", "softmax", "log_softmax",
    "matmul", "linear", "cross_entropy", "dropout", "cat", "stack", "flatten",
    "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm",
    "lstm_cell", "gru_cell", "lstm_layer", "gru_layer", "lstm", "gru",
]
