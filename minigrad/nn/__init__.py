"""Layers and models: ``Module``, ``Parameter`` and the layers built on ``minigrad.functional``."""

from . import init
from .layers import CrossEntropyLoss, Dropout, Flatten, Identity, Linear, ReLU, Sequential, Sigmoid, Tanh
from .module import Module, Parameter

__all__ = ["Module", "Parameter", "Linear", "ReLU", "Sigmoid", "Tanh", "Identity", "Flatten", "Dropout",
           "Sequential", "CrossEntropyLoss", "init"]
