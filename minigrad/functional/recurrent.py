"""The LSTM and GRU with PyTorch's arguments: one step, one layer, and stacked layers over a sequence.

The ops, and the math of the cells and of backpropagation through time, are in ``minigrad.ops.rnn``:
``ops.rnn.LSTMCell``, ``ops.rnn.GRUCell``, ``ops.rnn.LSTMLayer`` and ``ops.rnn.GRULayer``. The LSTM ops
return h and c stacked as one array; the functions here split them with (differentiable) indexing.

    lstm_cell, gru_cell      one step: torch.lstm_cell / torch.gru_cell
    lstm_layer, gru_layer    one layer, one direction, over a (T, B, I) sequence
    lstm, gru                stacked layers, optionally bidirectional, dropout between layers, batch_first:
                             what ``minigrad.nn.LSTM`` and ``minigrad.nn.GRU`` run
"""

from ..autograd import check_dtype
from ..backend import get_array_module
from ..ops.dropout import Dropout
from ..ops.rnn import GATES, GRUCell, GRULayer, LSTMCell, LSTMLayer
from ..ops.shape import Concatenate, Stack
from .tensors import Tensor, optional_tensor


# ----- checking the arguments -------------------------------------------------------------------------------

def _shape(t):
    return tuple(t.shape)


def check_weights(name, mode, weight_ih, weight_hh, bias_ih, bias_hh, input_size=None, hidden_size=None,
                  suffix=""):
    """Raise a ValueError naming the expected and received shapes unless the four weights fit together
    (and fit ``input_size`` and ``hidden_size`` when given). Returns (input_size, hidden_size)."""
    gates = GATES[mode]
    if hidden_size is None:
        hidden_size = weight_hh.shape[1] if weight_hh.ndim == 2 else -1
    if _shape(weight_hh) != (gates * hidden_size, hidden_size) or hidden_size < 1:
        raise ValueError(f"{name} expects weight_hh{suffix} of shape ({gates} * hidden_size, hidden_size)"
                         + (f" = ({gates * hidden_size}, {hidden_size})" if hidden_size > 0 else "")
                         + f", got {_shape(weight_hh)}")
    if weight_ih.ndim != 2 or weight_ih.shape[0] != gates * hidden_size or \
            (input_size is not None and weight_ih.shape[1] != input_size):
        expected = "input_size" if input_size is None else input_size
        raise ValueError(f"{name} expects weight_ih{suffix} of shape ({gates} * hidden_size, input_size) = "
                         f"({gates * hidden_size}, {expected}), got {_shape(weight_ih)}")
    for label, bias in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if bias is not None and _shape(bias) != (gates * hidden_size,):
            raise ValueError(f"{name} expects {label}{suffix} of shape ({gates} * hidden_size,) = "
                             f"({gates * hidden_size},), got {_shape(bias)}")
    return weight_ih.shape[1], hidden_size


def check_dtypes(name, tensors):
    """Raise a TypeError unless every tensor given (None entries skipped) has one dtype, float32 or float64."""
    dtypes = [t.dtype for t in tensors if t is not None]
    check_dtype(name, dtypes[0])
    if any(d != dtypes[0] for d in dtypes):
        raise TypeError(f"{name} expects floating input, states and weights of one dtype, got "
                        f"{sorted({str(d) for d in dtypes})}")


def check_cell_arguments(name, mode, x, states, weights):
    """Raise a clear error for anything a cell cannot take, before any array work. x is (B, I) or
    unbatched (I,); ``states`` are h (and c), each (B, H) or (H,) to match, or None (zeros)."""
    features, hidden = check_weights(name, mode, *weights)
    if x.ndim not in (1, 2) or x.shape[-1] != features:
        raise ValueError(f"{name} expects input of shape (batch, input_size) = (batch, {features}) or "
                         f"unbatched ({features},), got {_shape(x)}")
    expected = x.shape[:-1] + (hidden,)
    for label, state in zip(("h", "c"), states):
        if state is not None and _shape(state) != expected:
            raise ValueError(f"{name} expects {label} of shape {expected} (batch, hidden_size) for input of "
                             f"shape {_shape(x)}, got {_shape(state)}")
    check_dtypes(name, [x, *states, *weights])


def check_layer_arguments(name, mode, x, states, weights):
    """Raise a clear error for anything one layer cannot take, before any array work: x (T, B, I) with
    T >= 1, ``states`` h0 (and c0) each (B, H) or None, ``weights`` (weight_ih, weight_hh, bias_ih, bias_hh)."""
    features, hidden = check_weights(name, mode, *weights)
    if x.ndim != 3 or x.shape[2] != features or x.shape[0] < 1:
        raise ValueError(f"{name} expects input of shape (seq_len, batch, input_size) = (seq_len, batch, "
                         f"{features}) with seq_len >= 1, got {_shape(x)}")
    for label, state in zip(("h0", "c0"), states):
        if state is not None and _shape(state) != (x.shape[1], hidden):
            raise ValueError(f"{name} expects {label} of shape (batch, hidden_size) = ({x.shape[1]}, {hidden}) "
                             f"for input of shape {_shape(x)}, got {_shape(state)}")
    check_dtypes(name, [x, *states, *weights])


def check_stack_arguments(name, mode, x, states, weights, num_layers, directions, batch_first):
    """Raise a clear error for anything :func:`lstm` or :func:`gru` cannot take, before any array work.

    x is (T, B, I), (B, T, I) with ``batch_first`` or unbatched (T, I); ``states`` are h_0 (and c_0), each
    (num_layers * directions, B, H) ((num_layers * directions, H) unbatched) or None; ``weights`` holds one
    (weight_ih, weight_hh, bias_ih, bias_hh) tuple per layer and direction.
    """
    if len(weights) != num_layers * directions:
        raise ValueError(f"{name} expects {num_layers * directions} weight tuples (num_layers * num_directions), "
                         f"got {len(weights)}")
    input_size, hidden = check_weights(name, mode, *weights[0], suffix="_l0")
    for k, layer_weights in enumerate(weights):
        layer, direction = divmod(k, directions)
        check_weights(name, mode, *layer_weights, input_size=input_size if layer == 0 else directions * hidden,
                      hidden_size=hidden, suffix=f"_l{layer}" + ("_reverse" if direction else ""))
    batched = "(batch, seq_len, input_size)" if batch_first else "(seq_len, batch, input_size)"
    if x.ndim not in (2, 3):
        raise ValueError(f"{name} expects input of shape {batched} or unbatched (seq_len, input_size), "
                         f"got {_shape(x)}")
    if x.shape[-1] != input_size:
        raise ValueError(f"{name} expects input of shape {batched} or (seq_len, input_size) with "
                         f"input_size={input_size}, got {_shape(x)}")
    seq_axis = 1 if batch_first and x.ndim == 3 else 0
    if x.shape[seq_axis] < 1:
        raise ValueError(f"{name} needs at least one time step, got input of shape {_shape(x)}")
    batch = () if x.ndim == 2 else (x.shape[1 - seq_axis],)
    expected = (num_layers * directions,) + batch + (hidden,)
    for label, state in zip(("h_0", "c_0"), states):
        if state is not None and _shape(state) != expected:
            layout = "(num_layers * num_directions, " + ("batch, " if batch else "") + "hidden_size)"
            raise ValueError(f"{name} expects {label} of shape {layout} = {expected} for input of shape "
                             f"{_shape(x)}, got {_shape(state)}")
    check_dtypes(name, [x, *states, *(w for layer_weights in weights for w in layer_weights)])


# ----- the functions ----------------------------------------------------------------------------------------------

def _zeros(like, shape):
    """A Tensor of zeros that wants no gradient: a missing state or bias."""
    return Tensor._wrap(get_array_module(like._data).zeros(shape, dtype=like.dtype))


def state_pair(hx, name):
    """(h, c) from an LSTM's hx: None, or a pair of tensors (or arrays)."""
    if hx is None:
        return None, None
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise ValueError(f"{name} expects hx to be a pair (h, c) or None, got {type(hx).__name__}"
                         + (f" of length {len(hx)}" if isinstance(hx, (tuple, list)) else ""))
    return optional_tensor(hx[0]), optional_tensor(hx[1])


def cell_forward(name, mode, input, states, weights):
    """One step of ``mode`` ('lstm' or 'gru'): check, fill in zeros, handle unbatched input, run the op.

    ``states``: [h, c] or [h] (entries may be None); ``weights``: (weight_ih, weight_hh, bias_ih, bias_hh),
    biases may be None. Returns (h', c') for the LSTM, h' for the GRU. ``name`` is used in error messages.
    """
    x = optional_tensor(input)
    states = [optional_tensor(s) for s in states]
    weights = [optional_tensor(w) for w in weights]
    check_cell_arguments(name, mode, x, states, weights)
    unbatched = x.ndim == 1
    if unbatched:                                 # one example: add a batch axis of 1, take it away after
        x = x.reshape(1, -1)
        states = [None if s is None else s.reshape(1, -1) for s in states]
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    hidden, gates = weight_hh.shape[1], weight_hh.shape[0]
    states = [_zeros(x, (x.shape[0], hidden)) if s is None else s for s in states]
    bias_ih = _zeros(x, (gates,)) if bias_ih is None else bias_ih
    bias_hh = _zeros(x, (gates,)) if bias_hh is None else bias_hh
    if mode == "lstm":
        out = LSTMCell.apply(x, *states, weight_ih, weight_hh, bias_ih, bias_hh)
        h, c = out[0], out[1]
        return (h.reshape(-1), c.reshape(-1)) if unbatched else (h, c)
    h = GRUCell.apply(x, *states, weight_ih, weight_hh, bias_ih, bias_hh)
    return h.reshape(-1) if unbatched else h


def lstm_cell(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One LSTM step with ``torch.lstm_cell``'s arguments; see ``ops.rnn.LSTMCell`` for the math.

    input (B, I) (or unbatched (I,)); hx = (h, c), each (B, H), or None for zeros; weight_ih (4H, I),
    weight_hh (4H, H), bias_ih and bias_hh (4H,) or None. Returns (h', c'), each (B, H).
    """
    return cell_forward("lstm_cell", "lstm", input, state_pair(hx, "lstm_cell"),
                        (weight_ih, weight_hh, bias_ih, bias_hh))


def gru_cell(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One GRU step with ``torch.gru_cell``'s arguments; see ``ops.rnn.GRUCell`` for the math.

    input (B, I) (or unbatched (I,)); hx (B, H), or None for zeros; weight_ih (3H, I), weight_hh (3H, H),
    bias_ih and bias_hh (3H,) or None. Returns h' (B, H).
    """
    return cell_forward("gru_cell", "gru", input, [hx], (weight_ih, weight_hh, bias_ih, bias_hh))


def run_layer(mode, x, states, weights, reverse):
    """One layer, one direction, over x (T, B, I), arguments already checked. ``states``: [h0, c0] or [h0]
    (None for zeros); ``weights``: (weight_ih, weight_hh, bias_ih, bias_hh), biases may be None.
    Returns (output (T, B, H), h_n) for the GRU, (output, h_n, c_n) for the LSTM."""
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    hidden, gates = weight_hh.shape[1], weight_hh.shape[0]
    states = [_zeros(x, (x.shape[1], hidden)) if s is None else s for s in states]
    bias_ih = _zeros(x, (gates,)) if bias_ih is None else bias_ih
    bias_hh = _zeros(x, (gates,)) if bias_hh is None else bias_hh
    last = 0 if reverse else x.shape[0] - 1                  # the index of the last step read
    if mode == "lstm":
        out = LSTMLayer.apply(x, *states, weight_ih, weight_hh, bias_ih, bias_hh, reverse=reverse)
        return out[0], out[0, last], out[1, last]
    out = GRULayer.apply(x, *states, weight_ih, weight_hh, bias_ih, bias_hh, reverse=reverse)
    return out, out[last]


def lstm_layer(input, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
    """One LSTM layer in one direction over input (T, B, I), from h0, c0 (B, H) (None: zeros).

    Returns (output, h_n, c_n): output (T, B, H) holds h_t for every t in time order; (h_n, c_n) is the state
    after the last step read (t = T-1, or t = 0 when ``reverse``). See ``ops.rnn.LSTMLayer`` for the math.
    """
    x, states = optional_tensor(input), [optional_tensor(h0), optional_tensor(c0)]
    weights = [optional_tensor(w) for w in (weight_ih, weight_hh, bias_ih, bias_hh)]
    check_layer_arguments("lstm_layer", "lstm", x, states, weights)
    return run_layer("lstm", x, states, weights, reverse)


def gru_layer(input, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
    """One GRU layer in one direction over input (T, B, I), from h0 (B, H) (None: zeros).

    Returns (output, h_n): output (T, B, H) holds h_t for every t in time order; h_n is the state after the
    last step read (t = T-1, or t = 0 when ``reverse``). See ``ops.rnn.GRULayer`` for the math.
    """
    x, states = optional_tensor(input), [optional_tensor(h0)]
    weights = [optional_tensor(w) for w in (weight_ih, weight_hh, bias_ih, bias_hh)]
    check_layer_arguments("gru_layer", "gru", x, states, weights)
    return run_layer("gru", x, states, weights, reverse)


def stacked(name, mode, input, states, weights, num_layers, dropout, training, bidirectional, batch_first):
    """Layers of ``mode`` on top of each other, each in one or two directions (what nn.LSTM and nn.GRU run).

    Layer l > 0 reads the output of layer l - 1: (T, B, H), or (T, B, 2H) with both directions' outputs
    side by side (forward first). In training, dropout with probability ``dropout`` is applied to the
    output of every layer but the last. Returns (output, [h_n, c_n]) or (output, [h_n]).
    """
    directions = 2 if bidirectional else 1
    x = optional_tensor(input)
    states = [optional_tensor(s) for s in states]
    weights = [tuple(optional_tensor(w) for w in layer_weights) for layer_weights in weights]
    check_stack_arguments(name, mode, x, states, weights, num_layers, directions, batch_first)
    unbatched = x.ndim == 2
    if unbatched:                                 # one sequence: a batch axis of 1, taken away at the end
        x = x.reshape(x.shape[0], 1, x.shape[1])
        states = [None if s is None else s.reshape(s.shape[0], 1, s.shape[1]) for s in states]
    elif batch_first:
        x = x.permute(1, 0, 2)                    # (T, B, I): each step's examples side by side
    finals = []                                   # per layer and direction: (h_n,) or (h_n, c_n)
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            start = [None if s is None else s[k] for s in states]
            output, *final = run_layer(mode, x, start, weights[k], reverse=direction == 1)
            outputs.append(output)
            finals.append(final)
        x = outputs[0] if directions == 1 else Concatenate.apply(*outputs, dim=2)
        if training and dropout > 0 and layer < num_layers - 1:
            x = Dropout.apply(x, p=dropout)
    final_states = [Stack.apply(*(final[i] for final in finals), dim=0) for i in range(len(states))]
    if unbatched:
        return x.reshape(x.shape[0], x.shape[2]), [s.reshape(s.shape[0], s.shape[2]) for s in final_states]
    return (x.permute(1, 0, 2) if batch_first else x), final_states


def lstm(input, hx, weights, num_layers=1, dropout=0.0, training=False, bidirectional=False, batch_first=False):
    """A stack of LSTM layers over a sequence, as ``torch.nn.LSTM`` computes it; each layer and direction is
    one ``ops.rnn.LSTMLayer`` (the math of backpropagation through time is there).

    Args:
        input: (T, B, I), (B, T, I) with ``batch_first``, or unbatched (T, I).
        hx: None (zero initial states) or (h_0, c_0), each (num_layers * D, B, H) ((num_layers * D, H)
            unbatched), D = 2 if ``bidirectional`` else 1; entry l * D + d belongs to layer l, direction d.
        weights: one (weight_ih, weight_hh, bias_ih, bias_hh) tuple per layer and direction in the same order
            (layer 0 forward, layer 0 reverse, layer 1 forward, ...); biases may be None.
        dropout, training: dropout probability on the outputs of every layer but the last, when training.
    Returns (output, (h_n, c_n)): output (T, B, D H) (batch first if asked), h_n and c_n (num_layers * D, B, H).
    """
    output, (h_n, c_n) = stacked("lstm", "lstm", input, state_pair(hx, "lstm"), weights, num_layers, dropout,
                                 training, bidirectional, batch_first)
    return output, (h_n, c_n)


def gru(input, hx, weights, num_layers=1, dropout=0.0, training=False, bidirectional=False, batch_first=False):
    """A stack of GRU layers over a sequence, as ``torch.nn.GRU`` computes it; arguments as :func:`lstm`,
    with hx = h_0 (num_layers * D, B, H) or None. Returns (output, h_n). Each layer and direction is one
    ``ops.rnn.GRULayer``, whose docstring has the math."""
    output, (h_n,) = stacked("gru", "gru", input, [hx], weights, num_layers, dropout, training, bidirectional,
                             batch_first)
    return output, h_n
