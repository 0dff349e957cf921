"""Recurrent layers: the LSTM and GRU cells, and whole layers over a sequence with backpropagation through time.

Notation: B examples in a batch, I input features, H hidden units, T time steps; * is the elementwise
product. The weights have PyTorch's layout and names, so a state_dict copies across either way:

    weight_ih (G H, I)   weight_hh (G H, H)   bias_ih (G H,)   bias_hh (G H,)

with G = 4 gates for the LSTM, in the order i, f, g, o, and G = 3 for the GRU, in the order r, z, n: rows
[k H, (k + 1) H) of each belong to gate k. One step of either cell is two affine maps, the input's part
xg = x W_ih^T + b_ih and the recurrent part hg = h W_hh^T + b_hh (each (B, G H)), followed by elementwise
operations on them (``minigrad.kernels.rnn``: lstm_step, gru_step and their backward steps, each a Kernel
entry that runs numba's loops on the CPU, a numba.cuda kernel on a GPU, or the NumPy reference).

Why a whole layer is one op. Built from generic ops, a step records about fifteen graph nodes (slices, two
products, sigmoids, tanh, products, sums), so a layer over T = 500 steps is 7,500 nodes and every step's
backward pays Python's overhead fifteen times. Here :class:`LSTMLayer` and :class:`GRULayer` are one op each
for one layer and one direction over the whole sequence; their backward is backpropagation through time
written out as a loop over the steps in reverse, calling the same fused step backward as the cells. The
layer also moves work out of the loop: the input's part of every step's gates does not depend on the
recurrence, so it is computed before the loop as ONE (T B, I) @ (I, G H) product; only h_{t-1} W_hh^T
must wait for the step before. After the backward loop, the weight gradients are likewise one product
each (see :class:`LSTMLayer`).

An autograd op returns one array. The LSTM ops have two results, h and c, so they return them stacked, as a
(2, B, H) array for a cell and a (2, T, B, H) array for a layer; the Tensor-level functions below split
them with (differentiable) indexing.

The Tensor-level functions, with PyTorch's arguments:
    lstm_cell, gru_cell      one step: torch.lstm_cell / torch.gru_cell
    lstm_layer, gru_layer    one layer, one direction, over a (T, B, I) sequence
    lstm, gru                stacked layers, optionally bidirectional, dropout between layers, batch_first:
                             what ``minigrad.nn.LSTM`` and ``minigrad.nn.GRU`` run
"""

from ..autograd import Function, check_dtype
from ..backend import get_array_module
from ..kernels.rnn import gru_step, gru_step_backward, lstm_step, lstm_step_backward
from ..threads import one_blas_thread
from ..tensor import Tensor
from .dropout import Dropout
from .shape import Concatenate, Stack

GATES = {"lstm": 4, "gru": 3}


def flat(a):
    """(..., n) as (rows, n): the steps and examples of a sequence stacked into one batch of rows."""
    return a.reshape(-1, a.shape[-1])


def time_steps(seq_len, reverse):
    """The order in which a direction reads the sequence: 0, 1, ..., T-1, or T-1, ..., 0 when ``reverse``."""
    return list(range(seq_len - 1, -1, -1)) if reverse else list(range(seq_len))


def previous_states(states, initial, reverse):
    """(T, B, H): at index t, the state step t started from: h_{t-1} (h_{t+1} when ``reverse``), the
    initial state for the first step read."""
    xp = get_array_module(states)
    if reverse:
        return xp.concatenate([states[1:], initial[None]])
    return xp.concatenate([initial[None], states[:-1]])


def recurrent_matrix(weight_hh):
    """W_hh^T (H, G H) as its own row-major copy, for the products h W_hh^T inside the loop.

    ``weight_hh.T`` is a view of the same memory read column by column; OpenBLAS multiplies a (B, H) block
    by a matrix laid out row by row markedly faster (for B = 32, H = 128, G = 4, about 85 instead of 53
    GFLOP/s on one core here), and the copy (G H^2 numbers, once per sequence) costs far less than the T
    products it speeds up.
    """
    return get_array_module(weight_hh).ascontiguousarray(weight_hh.T)


def weight_gradients(needs, dxg, dhg, x, h_prev):
    """(dL/dW_ih, dL/dW_hh, dL/db_ih, dL/db_hh) of xg = x W_ih^T + b_ih and hg = h_prev W_hh^T + b_hh.

    Every row is one example (of one step): dxg, dhg (N, G H), x (N, I), h_prev (N, H). As for
    ``ops.linear.Linear``, dL/dW_ih = dxg^T x: the outer products dxg[n] x[n]^T summed over the rows, and
    the bias gradients are the column sums. ``needs`` says which of the four to compute (None otherwise).
    """
    need_w_ih, need_w_hh, need_b_ih, need_b_hh = needs
    return (dxg.T @ x if need_w_ih else None,
            dhg.T @ h_prev if need_w_hh else None,
            dxg.sum(axis=0) if need_b_ih else None,
            dhg.sum(axis=0) if need_b_hh else None)


# ----- one step ---------------------------------------------------------------------------------------------

class LSTMCell(Function):
    """One LSTM step (Hochreiter & Schmidhuber, 1997, with the forget gate of Gers et al., 2000), as PyTorch's.

    Forward, for input x (B, I) and state h, c (B, H):

        a   = x W_ih^T + b_ih + h W_hh^T + b_hh      (B, 4H), its columns split into a_i, a_f, a_g, a_o
        i   = sigmoid(a_i)                           input gate: how much of the candidate to write
        f   = sigmoid(a_f)                           forget gate: how much of the old cell to keep
        g   = tanh(a_g)                              the candidate values
        o   = sigmoid(a_o)                           output gate: how much of the cell to show
        c'  = f * c + i * g
        h'  = o * tanh(c')

    The op returns h' and c' stacked as one (2, B, H) array; ``lstm_cell`` splits them.

    Backward. The upstream gradient holds dL/dh' and dL/dc' (B, H) each. dL/dc' is what reaches c' from
    outside the step, directly: from the next step's cell, or from the final state c_n. With
    sigmoid'(a) = s (1 - s) for s = sigmoid(a) and tanh'(a) = 1 - tanh(a)^2, all in terms of saved values:

    1. h' = o * tanh(c'), so
           dL/do = dL/dh' * tanh(c')
       and c' reaches L both directly and through h', so its total gradient is
           dc'   = dL/dc' + dL/dh' * o * (1 - tanh(c')^2)
    2. c' = f * c + i * g, so
           dL/di = dc' * g      dL/df = dc' * c      dL/dg = dc' * i      dL/dc = dc' * f
    3. Each gate depends only on its own pre-activation:
           dL/da_i = dL/di * i (1 - i)              dL/da_f = dL/df * f (1 - f)
           dL/da_g = dL/dg * (1 - g^2)              dL/da_o = dL/do * o (1 - o)
       Side by side, in the gate order, they make dA = dL/da (B, 4H).
    4. a is affine in x, h, the weights and the biases (``ops.linear.Linear`` twice), so
           dL/dx    = dA W_ih                              (B, 4H) @ (4H, I)
           dL/dh    = dA W_hh                              (B, 4H) @ (4H, H)
           dL/dW_ih = dA^T x = sum over b of dA[b] x[b]^T  (4H, I): an outer product per example
           dL/dW_hh = dA^T h = sum over b of dA[b] h[b]^T  (4H, H)
           dL/db_ih = dL/db_hh = sum over b of dA[b]       (4H,)
    and dL/dc is step 2's: the old cell state reaches the output only through f * c.

    Inputs are always x, h, c, weight_ih, weight_hh, bias_ih, bias_hh (``lstm_cell`` passes zeros, which
    want no gradient, for missing biases).
    """

    @staticmethod
    def forward(ctx, x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
        xp = get_array_module(x)
        xg = x @ weight_ih.T + (bias_ih + bias_hh)           # (B, 4H): the input's part of a, both biases
        hg = h @ weight_hh.T                                  # (B, 4H): the recurrent part
        out = xp.empty((2,) + h.shape, dtype=x.dtype)        # [h', c']
        gates, tanh_c = xp.empty_like(xg), xp.empty_like(c)
        lstm_step(xg, hg, c, gates, out[1], tanh_c, out[0])
        ctx.save_for_backward(x, h, c, weight_ih, weight_hh, gates, tanh_c)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, h, c, weight_ih, weight_hh, gates, tanh_c = ctx.saved
        xp = get_array_module(grad)
        need_x, need_h, need_c = ctx.needs_input_grad[:3]
        d_gates, dc = xp.empty_like(gates), xp.empty_like(c)
        lstm_step_backward(gates, c, tanh_c, grad[0], grad[1], d_gates, dc)     # steps 1-3: dA and dL/dc
        return (d_gates @ weight_ih if need_x else None,
                d_gates @ weight_hh if need_h else None,
                dc if need_c else None,
                *weight_gradients(ctx.needs_input_grad[3:], d_gates, d_gates, x, h))


class GRUCell(Function):
    """One GRU step (Cho et al., 2014), as PyTorch's.

    Forward, for input x (B, I) and state h (B, H), with the two affine parts split by gate,

        [x_r, x_z, x_n] = x W_ih^T + b_ih            [h_r, h_z, h_n] = h W_hh^T + b_hh       (B, H) each
        r  = sigmoid(x_r + h_r)                      reset gate
        z  = sigmoid(x_z + h_z)                      update gate
        n  = tanh(x_n + r * h_n)                     the candidate state
        h' = (1 - z) * n + z * h

    The reset gate multiplies h_n = W_hn h + b_hn, the recurrent product AFTER it is taken. That is
    PyTorch's convention (and cuDNN's), followed here so that weights copy across. Other references, such
    as Chainer and the original paper of Cho et al., apply r BEFORE the product, n = tanh(x_n + W_hn (r * h)
    + b_hn): a different function of the same weights.

    Backward, given dL/dh' (B, H); sigmoid' = s (1 - s) and tanh' = 1 - tanh^2, with saved values:

    1. h' = (1 - z) * n + z * h, so
           dL/dn = dL/dh' * (1 - z)      dL/dz = dL/dh' * (h - n)      and directly   dL/dh gets dL/dh' * z
    2. Through the activations, to the pre-activations a_r = x_r + h_r, a_z = x_z + h_z, a_n = x_n + r * h_n:
           dL/da_n = dL/dn * (1 - n^2)
           dL/da_z = dL/dz * z (1 - z)
           dL/dr   = dL/da_n * h_n,      so   dL/da_r = dL/dr * r (1 - r)
    3. The two affine parts: x_r, x_z, x_n and h_r, h_z enter their pre-activations with weight 1, and h_n
       enters a_n multiplied by r:
           dX = dL/d[x_r, x_z, x_n] = [dL/da_r, dL/da_z, dL/da_n]              (B, 3H)
           dH = dL/d[h_r, h_z, h_n] = [dL/da_r, dL/da_z, dL/da_n * r]          (B, 3H)
    4. As for any affine map (``ops.linear.Linear``):
           dL/dx    = dX W_ih                              (B, 3H) @ (3H, I)
           dL/dh    = dL/dh' * z + dH W_hh                 the direct path of step 1 plus the one through W_hh
           dL/dW_ih = dX^T x = sum over b of dX[b] x[b]^T  (3H, I)
           dL/dW_hh = dH^T h = sum over b of dH[b] h[b]^T  (3H, H)
           dL/db_ih = sum over b of dX[b]                  dL/db_hh = sum over b of dH[b]
    (The two bias gradients differ only in the n columns, where r multiplies h_n and b_hn with it.)

    Inputs are always x, h, weight_ih, weight_hh, bias_ih, bias_hh (zeros without gradient for missing biases).
    """

    @staticmethod
    def forward(ctx, x, h, weight_ih, weight_hh, bias_ih, bias_hh):
        xp = get_array_module(x)
        xg = x @ weight_ih.T + bias_ih                       # (B, 3H): [x_r, x_z, x_n]
        hg = h @ weight_hh.T + bias_hh                       # (B, 3H): [h_r, h_z, h_n]
        gates, h_new = xp.empty_like(xg), xp.empty_like(h)
        gru_step(xg, hg, h, gates, h_new)
        ctx.save_for_backward(x, h, weight_ih, weight_hh, gates, hg)
        return h_new

    @staticmethod
    def backward(ctx, grad):
        x, h, weight_ih, weight_hh, gates, hg = ctx.saved
        xp = get_array_module(grad)
        need_x, need_h = ctx.needs_input_grad[:2]
        dxg, dhg, dh = xp.empty_like(gates), xp.empty_like(gates), xp.empty_like(h)
        gru_step_backward(gates, hg, h, grad, dxg, dhg, dh)                      # steps 1-3; dh = dL/dh' * z
        return (dxg @ weight_ih if need_x else None,
                dh + dhg @ weight_hh if need_h else None,
                *weight_gradients(ctx.needs_input_grad[2:], dxg, dhg, x, h))


# ----- one layer over a sequence --------------------------------------------------------------------------------

class LSTMLayer(Function):
    """One LSTM layer in one direction over a whole sequence: T steps of :class:`LSTMCell` in one op.

    Forward, for input x (T, B, I) and initial state h_init, c_init (B, H): the forward direction reads
    t = 0, 1, ..., T-1 and the reverse direction t = T-1, ..., 0. Writing p(t) for the step read before t
    (t - 1, or t + 1 when reversed; the initial state before the first step read),

        h_t, c_t = LSTMCell(x_t, h_p(t), c_p(t))           for t in reading order

    The op returns every state, stacked as (2, T, B, H): [0] holds h_t and [1] c_t, at their time index t
    whatever the direction. The layer's output is [0]; its final state (h_n, c_n) is the one at the last
    step read: index T-1, or 0 when reversed (PyTorch's convention for bidirectional layers).

    Work: the input's part of the gates, x_t W_ih^T + b_ih + b_hh, for all t at once as one
    (T B, I) @ (I, 4H) product; then, per step, h_p(t) W_hh^T (B, H) @ (H, 4H) and the fused elementwise step.

    Backward: backpropagation through time. G = dL/d(output of the op) holds G_h[t] = dL/dh_t from what
    reads h_t outside the layer (the output y_t, and h_n at the last step) and G_c[t] = dL/dc_t from outside
    (c_n). Inside, h_t and c_t also feed the step read after t, so walking the steps in the REVERSE of the
    reading order, with carries dh, dc from the step after (zero after the last step read):

        dL/dh_t = G_h[t] + dh        dL/dc_t = G_c[t] + dc
        step t's backward (:class:`LSTMCell`, steps 1-3) gives dA_t (B, 4H) and dL/dc_p(t)
        dh = dA_t W_hh               the carry into h_p(t)           (step 4 of LSTMCell)
        dc = dL/dc_p(t) = dc'_t * f_t    the carry into c_p(t)

    The carries left after the first step read are dL/dh_init and dL/dc_init.

    The weights are shared by every step, so each weight's gradient is the sum of its gradients at every
    step (step 4 of :class:`LSTMCell`, summed over t):

        dL/dW_ih = sum over t of dA_t^T x_t         dL/dW_hh = sum over t of dA_t^T h_p(t)
        dL/db_ih = dL/db_hh = sum over t and b of dA_t[b]

    A sum over t of (4H, B) @ (B, n) products is one (4H, T B) @ (T B, n) product with the steps' rows
    stacked, so the loop only stores dA_t, and each sum is computed once after it, on BLAS;
    dL/dx_t = dA_t W_ih for every t is likewise one (T B, 4H) @ (4H, I) product.

    Inputs are always x, h_init, c_init, weight_ih, weight_hh, bias_ih, bias_hh; ``reverse`` is a setting.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, reverse=False):
        xp = get_array_module(x)
        seq_len, batch, _ = x.shape
        hidden = h0.shape[1]
        # The input's part of every step's gates; step t overwrites its slice with its gates [i, f, g, o].
        gates = (flat(x) @ weight_ih.T).reshape(seq_len, batch, 4 * hidden)
        gates += bias_ih + bias_hh
        states = xp.empty((2, seq_len, batch, hidden), dtype=x.dtype)    # h_t and c_t for every t
        tanh_c = xp.empty((seq_len, batch, hidden), dtype=x.dtype)
        hg = xp.empty((batch, 4 * hidden), dtype=x.dtype)
        weight_hh_t = recurrent_matrix(weight_hh)
        h, c = h0, c0
        with one_blas_thread():
            for t in time_steps(seq_len, reverse):
                xp.matmul(h, weight_hh_t, out=hg)
                lstm_step(gates[t], hg, c, gates[t], states[1, t], tanh_c[t], states[0, t])
                h, c = states[0, t], states[1, t]
        ctx.save_for_backward(x, h0, c0, weight_ih, weight_hh, gates, states, tanh_c)
        ctx.reverse = reverse
        return states

    @staticmethod
    def backward(ctx, grad):
        x, h0, c0, weight_ih, weight_hh, gates, states, tanh_c = ctx.saved
        xp = get_array_module(grad)
        order = time_steps(len(x), ctx.reverse)
        d_gates = xp.empty_like(gates)                        # dA_t for every step
        dh, dc = xp.zeros_like(h0), xp.zeros_like(c0)         # carries: nothing comes after the last step
        with one_blas_thread():
            for k in reversed(range(len(order))):
                t = order[k]
                c_prev = c0 if k == 0 else states[1, order[k - 1]]
                dc_prev = xp.empty_like(c0)
                lstm_step_backward(gates[t], c_prev, tanh_c[t], grad[0, t] + dh, grad[1, t] + dc, d_gates[t], dc_prev)
                dh, dc = d_gates[t] @ weight_hh, dc_prev      # the carries into the step read before t
        need_x, need_h0, need_c0 = ctx.needs_input_grad[:3]
        h_prev = previous_states(states[0], h0, ctx.reverse)
        da = flat(d_gates)
        return ((da @ weight_ih).reshape(x.shape) if need_x else None,
                dh if need_h0 else None,
                dc if need_c0 else None,
                *weight_gradients(ctx.needs_input_grad[3:], da, da, flat(x), flat(h_prev)))


class GRULayer(Function):
    """One GRU layer in one direction over a whole sequence: T steps of :class:`GRUCell` in one op.

    Forward, for input x (T, B, I) and initial state h_init (B, H), with p(t) the step read before t as
    in :class:`LSTMLayer`:

        h_t = GRUCell(x_t, h_p(t))            for t in reading order (0..T-1, or T-1..0 when reversed)

    The op returns h_t for every t, (T, B, H) in time order; the final state h_n is h_{T-1} (h_0 when
    reversed). The input's part x_t W_ih^T + b_ih is one (T B, I) @ (I, 3H) product before the loop; each
    step computes its recurrent part hg_t = h_p(t) W_hh^T + b_hh, kept for backward (r multiplies its n
    columns).

    Backward: backpropagation through time, as in :class:`LSTMLayer` with a single carry. G[t] = dL/dh_t
    from outside the layer; walking the steps in the reverse of the reading order, with dh = 0 at first,

        dL/dh_t = G[t] + dh
        step t's backward (:class:`GRUCell`, steps 1-3) gives dX_t, dH_t (B, 3H)
        dh = dL/dh_t * z_t + dH_t W_hh        the carry into h_p(t): the direct path and the one through W_hh

    and the carry left at the end is dL/dh_init. Summed over the steps, each as one product over the
    stacked rows after the loop:

        dL/dW_ih = sum over t of dX_t^T x_t         dL/dW_hh = sum over t of dH_t^T h_p(t)
        dL/db_ih = sum over t and b of dX_t[b]      dL/db_hh = sum over t and b of dH_t[b]
        dL/dx_t  = dX_t W_ih

    Inputs are always x, h_init, weight_ih, weight_hh, bias_ih, bias_hh; ``reverse`` is a setting.
    """

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias_ih, bias_hh, reverse=False):
        xp = get_array_module(x)
        seq_len, batch, _ = x.shape
        hidden = h0.shape[1]
        # The input's part of every step's gates; step t overwrites its slice with its gates [r, z, n].
        gates = (flat(x) @ weight_ih.T).reshape(seq_len, batch, 3 * hidden)
        gates += bias_ih
        hg = xp.empty((seq_len, batch, 3 * hidden), dtype=x.dtype)      # h_p(t) W_hh^T + b_hh for every t
        hs = xp.empty((seq_len, batch, hidden), dtype=x.dtype)
        weight_hh_t = recurrent_matrix(weight_hh)
        h = h0
        with one_blas_thread():
            for t in time_steps(seq_len, reverse):
                xp.matmul(h, weight_hh_t, out=hg[t])
                hg[t] += bias_hh
                gru_step(gates[t], hg[t], h, gates[t], hs[t])
                h = hs[t]
        ctx.save_for_backward(x, h0, weight_ih, weight_hh, gates, hg, hs)
        ctx.reverse = reverse
        return hs

    @staticmethod
    def backward(ctx, grad):
        x, h0, weight_ih, weight_hh, gates, hg, hs = ctx.saved
        xp = get_array_module(grad)
        order = time_steps(len(x), ctx.reverse)
        dxg, dhg = xp.empty_like(gates), xp.empty_like(gates)   # dX_t and dH_t for every step
        dh = xp.zeros_like(h0)                                  # the carry: nothing after the last step
        with one_blas_thread():
            for k in reversed(range(len(order))):
                t = order[k]
                h_prev = h0 if k == 0 else hs[order[k - 1]]
                dh_direct = xp.empty_like(h0)
                gru_step_backward(gates[t], hg[t], h_prev, grad[t] + dh, dxg[t], dhg[t], dh_direct)
                dh = dh_direct + dhg[t] @ weight_hh             # the carry into the step read before t
        need_x, need_h0 = ctx.needs_input_grad[:2]
        h_prev = previous_states(hs, h0, ctx.reverse)
        return ((flat(dxg) @ weight_ih).reshape(x.shape) if need_x else None,
                dh if need_h0 else None,
                *weight_gradients(ctx.needs_input_grad[2:], flat(dxg), flat(dhg), flat(x), flat(h_prev)))


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


# ----- the Tensor-level functions -------------------------------------------------------------------------------

def _tensor(t):
    return t if t is None or isinstance(t, Tensor) else Tensor(t)


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
    return _tensor(hx[0]), _tensor(hx[1])


def cell_forward(name, mode, input, states, weights):
    """One step of ``mode`` ('lstm' or 'gru'): check, fill in zeros, handle unbatched input, run the op.

    ``states``: [h, c] or [h] (entries may be None); ``weights``: (weight_ih, weight_hh, bias_ih, bias_hh),
    biases may be None. Returns (h', c') for the LSTM, h' for the GRU. ``name`` is used in error messages.
    """
    x = _tensor(input)
    states = [_tensor(s) for s in states]
    weights = [_tensor(w) for w in weights]
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
    """One LSTM step with ``torch.lstm_cell``'s arguments; see :class:`LSTMCell` for the math.

    input (B, I) (or unbatched (I,)); hx = (h, c), each (B, H), or None for zeros; weight_ih (4H, I),
    weight_hh (4H, H), bias_ih and bias_hh (4H,) or None. Returns (h', c'), each (B, H).
    """
    return cell_forward("lstm_cell", "lstm", input, state_pair(hx, "lstm_cell"),
                        (weight_ih, weight_hh, bias_ih, bias_hh))


def gru_cell(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One GRU step with ``torch.gru_cell``'s arguments; see :class:`GRUCell` for the math.

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
    after the last step read (t = T-1, or t = 0 when ``reverse``). See :class:`LSTMLayer` for the math.
    """
    x, states = _tensor(input), [_tensor(h0), _tensor(c0)]
    weights = [_tensor(w) for w in (weight_ih, weight_hh, bias_ih, bias_hh)]
    check_layer_arguments("lstm_layer", "lstm", x, states, weights)
    return run_layer("lstm", x, states, weights, reverse)


def gru_layer(input, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
    """One GRU layer in one direction over input (T, B, I), from h0 (B, H) (None: zeros).

    Returns (output, h_n): output (T, B, H) holds h_t for every t in time order; h_n is the state after the
    last step read (t = T-1, or t = 0 when ``reverse``). See :class:`GRULayer` for the math.
    """
    x, states = _tensor(input), [_tensor(h0)]
    weights = [_tensor(w) for w in (weight_ih, weight_hh, bias_ih, bias_hh)]
    check_layer_arguments("gru_layer", "gru", x, states, weights)
    return run_layer("gru", x, states, weights, reverse)


def stacked(name, mode, input, states, weights, num_layers, dropout, training, bidirectional, batch_first):
    """Layers of ``mode`` on top of each other, each in one or two directions (what nn.LSTM and nn.GRU run).

    Layer l > 0 reads the output of layer l - 1: (T, B, H), or (T, B, 2H) with both directions' outputs
    side by side (forward first). In training, dropout with probability ``dropout`` is applied to the
    output of every layer but the last. Returns (output, [h_n, c_n]) or (output, [h_n]).
    """
    directions = 2 if bidirectional else 1
    x = _tensor(input)
    states = [_tensor(s) for s in states]
    weights = [tuple(_tensor(w) for w in layer_weights) for layer_weights in weights]
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
    """A stack of LSTM layers over a sequence, as ``torch.nn.LSTM`` computes it.

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
    with hx = h_0 (num_layers * D, B, H) or None. Returns (output, h_n)."""
    output, (h_n,) = stacked("gru", "gru", input, [hx], weights, num_layers, dropout, training, bidirectional,
                             batch_first)
    return output, h_n
