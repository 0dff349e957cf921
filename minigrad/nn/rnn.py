"""Recurrent layers: LSTMCell, GRUCell, LSTM and GRU, with PyTorch's arguments, parameter names, initialisation
and return values, so a state_dict copies across in either direction.

    lstm = LSTM(64, 128, batch_first=True)
    output, (h_n, c_n) = lstm(x)         # x (B, T, 64) -> output (B, T, 128); h_n, c_n (1, B, 128)
    gru = GRU(64, 128, bidirectional=True)
    output, h_n = gru(x)                 # x (T, B, 64) -> output (T, B, 256); h_n (2, B, 128)

The layers run the functions of ``minigrad.functional.recurrent``; the math of the cells and of
backpropagation through time is in ``minigrad.ops.rnn``.
"""

import math
import warnings

import numpy as np

from ..functional import recurrent
from . import init
from .module import Module, Parameter


def _check_sizes(name, input_size, hidden_size, num_layers=1):
    for label, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} needs a positive integer {label}, got {value!r}")


class _CellBase(Module):
    """What LSTMCell and GRUCell share: weight_ih (G H, I), weight_hh (G H, H), bias_ih and bias_hh (G H,),
    all drawn from U(-1/sqrt(H), 1/sqrt(H)) as PyTorch does (G = 4 for the LSTM, 3 for the GRU)."""

    mode = None  # 'lstm' or 'gru', set by the subclasses

    def __init__(self, input_size, hidden_size, bias=True, dtype="float32"):
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        gates = recurrent.GATES[self.mode] * hidden_size
        self.weight_ih = Parameter(np.zeros((gates, input_size), dtype=dtype))
        self.weight_hh = Parameter(np.zeros((gates, hidden_size), dtype=dtype))
        self.bias_ih = Parameter(np.zeros(gates, dtype=dtype)) if bias else None
        self.bias_hh = Parameter(np.zeros(gates, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class LSTMCell(_CellBase):
    """One LSTM step: ``h', c' = cell(x, (h, c))`` for x (B, input_size) and h, c (B, hidden_size).

    Also takes one unbatched example, x (input_size,) with h, c (hidden_size,). hx=None starts from zeros.
    Gates in the order i, f, g, o; see ``minigrad.ops.rnn.LSTMCell`` for the forward and backward math.
    """

    mode = "lstm"

    def forward(self, input, hx=None):
        name = type(self).__name__
        return recurrent.cell_forward(name, "lstm", input, recurrent.state_pair(hx, name), self.weights())


class GRUCell(_CellBase):
    """One GRU step: ``h' = cell(x, h)`` for x (B, input_size) and h (B, hidden_size) (or unbatched (input_size,)
    and (hidden_size,)); hx=None starts from zeros.

    Gates in the order r, z, n, with PyTorch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); see
    ``minigrad.ops.rnn.GRUCell`` for the math.
    """

    mode = "gru"

    def forward(self, input, hx=None):
        return recurrent.cell_forward(type(self).__name__, "gru", input, [hx], self.weights())


class _RNNBase(Module):
    """What LSTM and GRU share: ``num_layers`` layers, each in one or two directions.

    Args:
        input_size: I, the features of each step of the input.
        hidden_size: H, the size of the state of each layer and direction.
        num_layers: layers stacked; layer l > 0 reads layer l - 1's output (D H features).
        bias: whether the layers have bias_ih and bias_hh.
        batch_first: input and output are (B, T, features) instead of (T, B, features); the states are
            (num_layers * D, B, H) either way, as in PyTorch.
        dropout: in training, dropout with this probability on the output of every layer but the last.
        bidirectional: a second layer in each level reads the sequence backwards (D = 2); the output holds
            both directions' states side by side, forward first.

    Parameters, per layer l and direction (suffix '' forward, '_reverse' backward), in PyTorch's order:
    weight_ih_l{l} (G H, I or D H), weight_hh_l{l} (G H, H), bias_ih_l{l}, bias_hh_l{l} (G H,), all drawn
    from U(-1/sqrt(H), 1/sqrt(H)).
    """

    mode = None  # 'lstm' or 'gru', set by the subclasses

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype="float32"):
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size, num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1] (the probability of zeroing an "
                             f"element), got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout is applied between layers, so dropout={dropout} with num_layers=1 "
                          f"does nothing", stacklevel=2)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        gates = recurrent.GATES[self.mode] * hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else directions * hidden_size
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                setattr(self, "weight_ih" + suffix, Parameter(np.zeros((gates, layer_input), dtype=dtype)))
                setattr(self, "weight_hh" + suffix, Parameter(np.zeros((gates, hidden_size), dtype=dtype)))
                if bias:
                    setattr(self, "bias_ih" + suffix, Parameter(np.zeros(gates, dtype=dtype)))
                    setattr(self, "bias_hh" + suffix, Parameter(np.zeros(gates, dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def all_weights(self):
        """One (weight_ih, weight_hh, bias_ih, bias_hh) tuple per layer and direction, in PyTorch's order
        (layer 0 forward, layer 0 reverse, layer 1 forward, ...); the biases are None without ``bias``."""
        tuples = []
        for layer in range(self.num_layers):
            for direction in range(2 if self.bidirectional else 1):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                tuples.append(tuple(getattr(self, f"{kind}{suffix}", None)
                                    for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
        return tuples

    def _run(self, input, states):
        return recurrent.stacked(type(self).__name__, self.mode, input, states, self.all_weights(),
                                 self.num_layers, self.dropout, self.training, self.bidirectional, self.batch_first)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class LSTM(_RNNBase):
    """A multi-layer LSTM over a sequence: ``output, (h_n, c_n) = lstm(x, (h_0, c_0))``.

    x is (T, B, input_size), (B, T, input_size) with batch_first, or unbatched (T, input_size). hx is None
    (zero initial states) or (h_0, c_0), each (num_layers * D, B, hidden_size) ((num_layers * D,
    hidden_size) unbatched). output holds the last layer's h_t for every t, (T, B, D * hidden_size);
    h_n and c_n hold every layer's and direction's final state, like h_0 and c_0. Arguments and parameters
    are described in the base class; the math in ``minigrad.ops.rnn.LSTMCell`` and ``LSTMLayer``.
    """

    mode = "lstm"

    def forward(self, input, hx=None):
        output, (h_n, c_n) = self._run(input, recurrent.state_pair(hx, type(self).__name__))
        return output, (h_n, c_n)


class GRU(_RNNBase):
    """A multi-layer GRU over a sequence: ``output, h_n = gru(x, h_0)``; shapes as for :class:`LSTM`, without
    the cell state. The math is in ``minigrad.ops.rnn.GRUCell`` and ``GRULayer``."""

    mode = "gru"

    def forward(self, input, hx=None):
        output, (h_n,) = self._run(input, [hx])
        return output, h_n
