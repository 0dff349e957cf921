"""Layers and models: ``Module``, ``Parameter`` and the layers built on ``minigrad.functional``."""

from . import init, utils
from .conv import Conv2d
from .layers import (CrossEntropyLoss, Dropout, Flatten, Identity, Linear, ModuleDict, ModuleList, ReLU, Sequential,
                     Sigmoid, Tanh)
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .rnn import GRU, LSTM, GRUCell, LSTMCell

__all__ = ["Module", "Parameter", "Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d", "MaxPool2d", "AvgPool2d",
           "AdaptiveAvgPool2d", "LSTM", "GRU", "LSTMCell", "GRUCell", "ReLU", "Sigmoid", "Tanh", "Identity",
           "Flatten", "Dropout",
           "Sequential", "ModuleList", "ModuleDict", "CrossEntropyLoss", "init", "utils"]
