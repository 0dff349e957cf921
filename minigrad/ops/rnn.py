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
(2, B, H) array for a cell and a (2, T, B, H) array for a layer; the Tensor-level functions split them
with (differentiable) indexing.

The Tensor-level functions, with PyTorch's arguments, are in ``minigrad.functional.recurrent`` (they check
the arguments, fill in zero states and biases, and apply these ops):
    lstm_cell, gru_cell      one step: torch.lstm_cell / torch.gru_cell
    lstm_layer, gru_layer    one layer, one direction, over a (T, B, I) sequence
    lstm, gru                stacked layers, optionally bidirectional, dropout between layers, batch_first:
                             what ``minigrad.nn.LSTM`` and ``minigrad.nn.GRU`` run
"""

from ..autograd import Function
from ..backend import get_array_module
from ..kernels.rnn import gru_step, gru_step_backward, lstm_step, lstm_step_backward
from ..threads import one_blas_thread

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

    The op returns h' and c' stacked as one (2, B, H) array; ``minigrad.functional.lstm_cell`` splits them.

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
