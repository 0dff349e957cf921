"""Elementwise functions (the non-linear activations and e^x, log, sqrt) and softmax along an axis."""

from .tensors import as_tensor


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
