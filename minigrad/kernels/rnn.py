"""The elementwise part of one LSTM or GRU time step, forward and backward (the math is in ``minigrad.ops.rnn``).

A recurrent step is two matrix products, which stay on BLAS, and then a few dozen elementwise operations on
(B, H) arrays: sigmoids, tanh, products and sums. Written with NumPy, each operation is a pass over memory,
a temporary array and a few microseconds of call overhead, and a step repeats them T times. Every function
here takes the step's arrays and writes its results into arrays the caller provides (slices of buffers
that hold every time step), so a layer allocates nothing inside its loop:

    lstm_step             gates' pre-activations -> gates (i, f, g, o), c' and h'
    lstm_step_backward    dL/dh', dL/dc'        -> dL/d(pre-activations), dL/dc
    gru_step              gates' pre-activations -> gates (r, z, n) and h'
    gru_step_backward     dL/dh'                -> dL/d(pre-activations), dL/dh (the direct path)

each as ``name_reference`` (the formula in NumPy, or CuPy through ``xp``: read this one first),
``name_numba``, and ``name_cuda`` (one CuPy kernel, a GPU thread per (example, unit)). The tests check
they agree.

Why the numba forward steps still call NumPy's tanh. numba compiles ``np.tanh`` of one number to a call
of the C library's scalar tanh, about 25 ns per element on this project's machines, while NumPy's own
``np.tanh`` on an array runs SIMD code at about 0.5 ns per float32 (2 ns per float64): a loop doing
everything in numba was ten times slower than plain NumPy. So the forward kernels split at each tanh:
numba fuses all the arithmetic between them into single passes, and each tanh is one NumPy call over a
whole block. The sigmoid gates ride along in the same NumPy call through the identity

    sigmoid(a) = (1 + tanh(a / 2)) / 2

(the same one ``ops.elementwise.Sigmoid`` uses; it cannot overflow for large |a|). The backward steps
need no transcendental function at all, since they use the gates the forward step saved
(sigmoid' = s (1 - s), tanh' = 1 - t^2), so each is one numba pass.

How the numba loops are written. Each kernel walks the batch row by row, takes 1-D views of the rows
(contiguous, so numba knows consecutive elements are adjacent in memory), and computes one formula per
inner loop. LLVM turns such a loop into SIMD instructions; one long loop body that reads and writes seven
arrays stays scalar, because the compiler cannot rule out that the arrays overlap (the GRU backward step
took 35 us as one loop, 12 us split, for B = 32, H = 256). The kernels run on the calling thread: one
step's arrays (B x 4H, about 16,000 numbers for B = 32, H = 128) are too small for waking numba's threads
to pay.
"""

import numba
import numpy as np

from ..backend import get_array_module
from . import cuda_elementwise, expect


def sigmoid(a):
    """1 / (1 + e^-a), computed as (1 + tanh(a / 2)) / 2 (any array module)."""
    return 0.5 * (get_array_module(a).tanh(0.5 * a) + 1)


def check_step_arguments(who, gate_count, device, state, wide, narrow):
    """The arrays of one step, each given as (name, array, written): ``state`` a floating (B, H) array;
    every array of ``wide`` (B, gate_count * H) and C-contiguous (the CUDA kernels index them as raw
    memory); every array of ``narrow`` (B, H). Dtypes may differ (the numba loops convert; CuPy refuses).
    Returns (B, H)."""
    batch, hidden = expect(who, state[0], state[1], shape=(None, None), device=device).shape
    shape = (batch, gate_count * hidden)
    for name, a, written in wide:
        expect(who, name, a, shape=shape, contiguous=True, writable=written, device=device)
    shape = (batch, hidden)
    for name, a, written in narrow:
        expect(who, name, a, shape=shape, writable=written, device=device)
    return batch, hidden


def check_lstm_step(who, xg, hg, c_prev, gates, c, tanh_c, h, device):
    """xg, hg, gates (B, 4H); c_prev, c, tanh_c, h (B, H); gates, c, tanh_c, h written."""
    check_step_arguments(who, 4, device, ("c_prev", c_prev),
                         (("xg", xg, False), ("hg", hg, False), ("gates", gates, True)),
                         (("c", c, True), ("tanh_c", tanh_c, True), ("h", h, True)))


def check_lstm_step_backward(who, gates, c_prev, tanh_c, dh, dc, d_gates, dc_prev, device):
    """gates, d_gates (B, 4H); c_prev, tanh_c, dh, dc, dc_prev (B, H); d_gates, dc_prev written."""
    check_step_arguments(who, 4, device, ("c_prev", c_prev), (("gates", gates, False), ("d_gates", d_gates, True)),
                         (("tanh_c", tanh_c, False), ("dh", dh, False), ("dc", dc, False),
                          ("dc_prev", dc_prev, True)))


def check_gru_step(who, xg, hg, h_prev, gates, h, device):
    """xg, hg, gates (B, 3H); h_prev, h (B, H); gates, h written."""
    check_step_arguments(who, 3, device, ("h_prev", h_prev),
                         (("xg", xg, False), ("hg", hg, False), ("gates", gates, True)), (("h", h, True),))


def check_gru_step_backward(who, gates, hg, h_prev, dh, dxg, dhg, dh_prev, device):
    """gates, hg, dxg, dhg (B, 3H); h_prev, dh, dh_prev (B, H); dxg, dhg, dh_prev written."""
    check_step_arguments(who, 3, device, ("h_prev", h_prev),
                         (("gates", gates, False), ("hg", hg, False), ("dxg", dxg, True), ("dhg", dhg, True)),
                         (("dh", dh, False), ("dh_prev", dh_prev, True)))


# ----- LSTM ---------------------------------------------------------------------------------------------------

def lstm_step_reference(xg, hg, c_prev, gates, c, tanh_c, h):
    """One LSTM step after its matrix products.

    In:  xg, hg (B, 4H): the input's and the recurrent part of the gates' pre-activations,
         a = xg + hg = x W_ih^T + b_ih + h_prev W_hh^T + b_hh, columns in the gate order i, f, g, o;
         c_prev (B, H): the cell state before the step.
    Out (written): gates (B, 4H) the gates [i, f, g, o]; c (B, H) the new cell state f * c_prev + i * g;
         tanh_c (B, H) its tanh (backward needs it); h (B, H) the new hidden state o * tanh(c).
    ``gates`` may be the same array as ``xg`` (the layer overwrites its input projections with the gates).
    """
    xp = get_array_module(xg)
    hidden = c_prev.shape[1]
    a = xg + hg
    i = sigmoid(a[:, :hidden])
    f = sigmoid(a[:, hidden:2 * hidden])
    g = xp.tanh(a[:, 2 * hidden:3 * hidden])
    o = sigmoid(a[:, 3 * hidden:])
    gates[:, :hidden] = i
    gates[:, hidden:2 * hidden] = f
    gates[:, 2 * hidden:3 * hidden] = g
    gates[:, 3 * hidden:] = o
    c[...] = f * c_prev + i * g
    tanh_c[...] = xp.tanh(c)
    h[...] = o * tanh_c


@numba.njit(cache=True)
def _lstm_tanh_arguments(xg, hg, gates):
    # a = xg + hg, with the sigmoid gates' columns (i, f, o) halved: tanh of the result then gives
    # tanh(a_i / 2), tanh(a_f / 2), tanh(a_g), tanh(a_o / 2) in one NumPy call.
    hidden = xg.shape[1] // 4
    for b in range(xg.shape[0]):
        x, h, a = xg[b], hg[b], gates[b]
        for j in range(4 * hidden):
            a[j] = x[j] + h[j]
        for j in range(2 * hidden):                     # i, f
            a[j] *= 0.5
        for j in range(3 * hidden, 4 * hidden):         # o
            a[j] *= 0.5


@numba.njit(cache=True)
def _lstm_cell_state(gates, c_prev, c):
    # From the tanh values to the gates (sigmoid = (1 + t) / 2 for i, f and o, in place; g is tanh(a_g)
    # already), and the new cell state c = f * c_prev + i * g.
    hidden = c_prev.shape[1]
    for b in range(c_prev.shape[0]):
        a, c_old, c_new = gates[b], c_prev[b], c[b]
        for j in range(2 * hidden):                     # i, f
            a[j] = 0.5 * (a[j] + 1)
        for j in range(3 * hidden, 4 * hidden):         # o
            a[j] = 0.5 * (a[j] + 1)
        for j in range(hidden):
            c_new[j] = a[hidden + j] * c_old[j] + a[j] * a[2 * hidden + j]


def lstm_step_numba(xg, hg, c_prev, gates, c, tanh_c, h):
    """Same contract as :func:`lstm_step_reference`, for NumPy arrays: two numba passes and two NumPy tanh."""
    check_lstm_step("lstm_step_numba", xg, hg, c_prev, gates, c, tanh_c, h, "cpu")
    hidden = c_prev.shape[1]
    _lstm_tanh_arguments(xg, hg, gates)
    np.tanh(gates, out=gates)
    _lstm_cell_state(gates, c_prev, c)
    np.tanh(c, out=tanh_c)
    np.multiply(gates[:, 3 * hidden:], tanh_c, out=h)


def lstm_step_backward_reference(gates, c_prev, tanh_c, dh, dc, d_gates, dc_prev):
    """The backward of :func:`lstm_step_reference` (derivation in ``ops.rnn.LSTMCell``).

    In:  gates (B, 4H) = [i, f, g, o], c_prev and tanh_c (B, H) as the forward step saw and wrote them;
         dh = dL/dh' and dc = dL/dc' (B, H), the gradient reaching the new state from outside the step.
    Out (written): d_gates (B, 4H) = dL/da for the pre-activations a, in the gate order;
         dc_prev (B, H) = dL/dc_prev.
    """
    hidden = c_prev.shape[1]
    i, f = gates[:, :hidden], gates[:, hidden:2 * hidden]
    g, o = gates[:, 2 * hidden:3 * hidden], gates[:, 3 * hidden:]
    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)    # c' reaches L directly and through h' = o tanh(c')
    d_gates[:, :hidden] = dc_total * g * i * (1 - i)
    d_gates[:, hidden:2 * hidden] = dc_total * c_prev * f * (1 - f)
    d_gates[:, 2 * hidden:3 * hidden] = dc_total * i * (1 - g * g)
    d_gates[:, 3 * hidden:] = dh * tanh_c * o * (1 - o)
    dc_prev[...] = dc_total * f


@numba.njit(cache=True)
def _lstm_step_backward(gates, c_prev, tanh_c, dh, dc, d_gates, dc_prev):
    hidden = c_prev.shape[1]
    for b in range(c_prev.shape[0]):
        a, da, c_old, t, dh_b, dc_b, dc_old = gates[b], d_gates[b], c_prev[b], tanh_c[b], dh[b], dc[b], dc_prev[b]
        i, f, g, o = a[:hidden], a[hidden:2 * hidden], a[2 * hidden:3 * hidden], a[3 * hidden:]
        for j in range(hidden):                         # dc_total, kept in dc_old until the last loop
            dc_old[j] = dc_b[j] + dh_b[j] * o[j] * (1 - t[j] * t[j])
        for j in range(hidden):
            da[j] = dc_old[j] * g[j] * i[j] * (1 - i[j])
        for j in range(hidden):
            da[hidden + j] = dc_old[j] * c_old[j] * f[j] * (1 - f[j])
        for j in range(hidden):
            da[2 * hidden + j] = dc_old[j] * i[j] * (1 - g[j] * g[j])
        for j in range(hidden):
            da[3 * hidden + j] = dh_b[j] * t[j] * o[j] * (1 - o[j])
        for j in range(hidden):
            dc_old[j] *= f[j]


def lstm_step_backward_numba(gates, c_prev, tanh_c, dh, dc, d_gates, dc_prev):
    """Same contract as :func:`lstm_step_backward_reference`, for NumPy arrays: one pass."""
    check_lstm_step_backward("lstm_step_backward_numba", gates, c_prev, tanh_c, dh, dc, d_gates, dc_prev, "cpu")
    _lstm_step_backward(gates, c_prev, tanh_c, dh, dc, d_gates, dc_prev)


# ----- GRU ----------------------------------------------------------------------------------------------------

def gru_step_reference(xg, hg, h_prev, gates, h):
    """One GRU step after its matrix products.

    In:  xg = x W_ih^T + b_ih and hg = h_prev W_hh^T + b_hh (B, 3H), columns in the gate order r, z, n;
         h_prev (B, H).
    Out (written): gates (B, 3H) = [r, z, n]; h (B, H) the new hidden state (1 - z) * n + z * h_prev.
    ``gates`` may be the same array as ``xg``.
    """
    xp = get_array_module(xg)
    hidden = h_prev.shape[1]
    r = sigmoid(xg[:, :hidden] + hg[:, :hidden])
    z = sigmoid(xg[:, hidden:2 * hidden] + hg[:, hidden:2 * hidden])
    n = xp.tanh(xg[:, 2 * hidden:] + r * hg[:, 2 * hidden:])    # r scales W_hn h + b_hn (PyTorch's GRU)
    gates[:, :hidden], gates[:, hidden:2 * hidden], gates[:, 2 * hidden:] = r, z, n
    h[...] = (1 - z) * n + z * h_prev


@numba.njit(cache=True)
def _gru_half_rz(xg, hg, gates):
    # (a_r / 2, a_z / 2) with a = xg + hg: tanh of it gives the sigmoid gates r and z.
    hidden = xg.shape[1] // 3
    for b in range(xg.shape[0]):
        x, h, a = xg[b], hg[b], gates[b]
        for j in range(2 * hidden):
            a[j] = 0.5 * (x[j] + h[j])


@numba.njit(cache=True)
def _gru_candidate_argument(xg, hg, gates):
    # r, z = (1 + t) / 2 in place, and the candidate's pre-activation x_n + r * h_n in the n columns.
    hidden = xg.shape[1] // 3
    for b in range(xg.shape[0]):
        x, h, a = xg[b], hg[b], gates[b]
        for j in range(2 * hidden):
            a[j] = 0.5 * (a[j] + 1)
        for j in range(hidden):
            a[2 * hidden + j] = x[2 * hidden + j] + a[j] * h[2 * hidden + j]


@numba.njit(cache=True)
def _gru_new_state(gates, h_prev, h):
    hidden = h_prev.shape[1]
    for b in range(h_prev.shape[0]):
        a, h_old, h_new = gates[b], h_prev[b], h[b]
        for j in range(hidden):
            z, n = a[hidden + j], a[2 * hidden + j]
            h_new[j] = (1 - z) * n + z * h_old[j]


def gru_step_numba(xg, hg, h_prev, gates, h):
    """Same contract as :func:`gru_step_reference`, for NumPy arrays: three numba passes and two NumPy tanh."""
    check_gru_step("gru_step_numba", xg, hg, h_prev, gates, h, "cpu")
    hidden = h_prev.shape[1]
    _gru_half_rz(xg, hg, gates)
    rz = gates[:, :2 * hidden]
    np.tanh(rz, out=rz)
    _gru_candidate_argument(xg, hg, gates)
    n = gates[:, 2 * hidden:]
    np.tanh(n, out=n)
    _gru_new_state(gates, h_prev, h)


def gru_step_backward_reference(gates, hg, h_prev, dh, dxg, dhg, dh_prev):
    """The backward of :func:`gru_step_reference` (derivation in ``ops.rnn.GRUCell``).

    In:  gates (B, 3H) = [r, z, n] and hg (B, 3H) as the forward step saw them, h_prev (B, H);
         dh = dL/dh' (B, H).
    Out (written): dxg, dhg (B, 3H) = dL/dxg and dL/dhg, the gradients of the two pre-activation parts
         (they share the r and z columns and differ in the n columns, where r multiplies hg);
         dh_prev (B, H) = dh * z, the part of dL/dh_prev that does not go through W_hh (the caller adds
         dhg @ W_hh).
    """
    hidden = h_prev.shape[1]
    r, z, n = gates[:, :hidden], gates[:, hidden:2 * hidden], gates[:, 2 * hidden:]
    da_n = dh * (1 - z) * (1 - n * n)                   # through h' = (1 - z) n + z h_prev, then tanh
    da_z = dh * (h_prev - n) * z * (1 - z)
    da_r = da_n * hg[:, 2 * hidden:] * r * (1 - r)      # a_n = x_n + r h_n
    dxg[:, :hidden], dxg[:, hidden:2 * hidden], dxg[:, 2 * hidden:] = da_r, da_z, da_n
    dhg[:, :hidden], dhg[:, hidden:2 * hidden], dhg[:, 2 * hidden:] = da_r, da_z, da_n * r
    dh_prev[...] = dh * z


@numba.njit(cache=True)
def _gru_step_backward(gates, hg, h_prev, dh, dxg, dhg, dh_prev):
    hidden = h_prev.shape[1]
    for b in range(h_prev.shape[0]):
        a, h_n, h_old, d, dx, dhh, dh_old = gates[b], hg[b, 2 * hidden:], h_prev[b], dh[b], dxg[b], dhg[b], dh_prev[b]
        r, z, n = a[:hidden], a[hidden:2 * hidden], a[2 * hidden:]
        for j in range(hidden):                         # da_n
            dx[2 * hidden + j] = d[j] * (1 - z[j]) * (1 - n[j] * n[j])
        for j in range(hidden):                         # da_z
            dx[hidden + j] = d[j] * (h_old[j] - n[j]) * z[j] * (1 - z[j])
        for j in range(hidden):                         # da_r
            dx[j] = dx[2 * hidden + j] * h_n[j] * r[j] * (1 - r[j])
        for j in range(2 * hidden):                     # dhg shares the r and z columns
            dhh[j] = dx[j]
        for j in range(hidden):
            dhh[2 * hidden + j] = dx[2 * hidden + j] * r[j]
        for j in range(hidden):
            dh_old[j] = d[j] * z[j]


def gru_step_backward_numba(gates, hg, h_prev, dh, dxg, dhg, dh_prev):
    """Same contract as :func:`gru_step_backward_reference`, for NumPy arrays: one pass."""
    check_gru_step_backward("gru_step_backward_numba", gates, hg, h_prev, dh, dxg, dhg, dh_prev, "cpu")
    _gru_step_backward(gates, hg, h_prev, dh, dxg, dhg, dh_prev)


# ----- the CUDA kernels: one thread per (example b, unit j), reading and writing that unit's gate columns ---

LSTM_STEP_CUDA = """
long long b = i / hidden, row = b * 4 * hidden;
int j = i % hidden;
T gi = 0.5 * (tanh(0.5 * (xg[row + j] + hg[row + j])) + 1);                            // sigmoid via tanh
T gf = 0.5 * (tanh(0.5 * (xg[row + hidden + j] + hg[row + hidden + j])) + 1);
T gg = tanh(xg[row + 2 * hidden + j] + hg[row + 2 * hidden + j]);
T go = 0.5 * (tanh(0.5 * (xg[row + 3 * hidden + j] + hg[row + 3 * hidden + j])) + 1);
gates[row + j] = gi; gates[row + hidden + j] = gf; gates[row + 2 * hidden + j] = gg; gates[row + 3 * hidden + j] = go;
c = gf * c_prev + gi * gg;
tanh_c = tanh(c);
h = go * tanh_c;
"""

LSTM_STEP_BACKWARD_CUDA = """
long long b = i / hidden, row = b * 4 * hidden;
int j = i % hidden;
T gi = gates[row + j], gf = gates[row + hidden + j], gg = gates[row + 2 * hidden + j], go = gates[row + 3 * hidden + j];
T dc_total = dc + dh * go * (1 - tanh_c * tanh_c);
d_gates[row + j] = dc_total * gg * gi * (1 - gi);
d_gates[row + hidden + j] = dc_total * c_prev * gf * (1 - gf);
d_gates[row + 2 * hidden + j] = dc_total * gi * (1 - gg * gg);
d_gates[row + 3 * hidden + j] = dh * tanh_c * go * (1 - go);
dc_prev = dc_total * gf;
"""

GRU_STEP_CUDA = """
long long b = i / hidden, row = b * 3 * hidden;
int j = i % hidden;
T r = 0.5 * (tanh(0.5 * (xg[row + j] + hg[row + j])) + 1);
T z = 0.5 * (tanh(0.5 * (xg[row + hidden + j] + hg[row + hidden + j])) + 1);
T n = tanh(xg[row + 2 * hidden + j] + r * hg[row + 2 * hidden + j]);      // r scales W_hn h + b_hn
gates[row + j] = r; gates[row + hidden + j] = z; gates[row + 2 * hidden + j] = n;
h = (1 - z) * n + z * h_prev;
"""

GRU_STEP_BACKWARD_CUDA = """
long long b = i / hidden, row = b * 3 * hidden;
int j = i % hidden;
T r = gates[row + j], z = gates[row + hidden + j], n = gates[row + 2 * hidden + j];
T da_n = dh * (1 - z) * (1 - n * n);
T da_z = dh * (h_prev - n) * z * (1 - z);
T da_r = da_n * hg[row + 2 * hidden + j] * r * (1 - r);
dxg[row + j] = da_r; dxg[row + hidden + j] = da_z; dxg[row + 2 * hidden + j] = da_n;
dhg[row + j] = da_r; dhg[row + hidden + j] = da_z; dhg[row + 2 * hidden + j] = da_n * r;
dh_prev = dh * z;
"""


def lstm_step_cuda(xg, hg, c_prev, gates, c, tanh_c, h):
    """Same contract as :func:`lstm_step_reference`, for CuPy arrays: one kernel."""
    check_lstm_step("lstm_step_cuda", xg, hg, c_prev, gates, c, tanh_c, h, "cuda")
    run = cuda_elementwise("raw T xg, raw T hg, T c_prev, int32 hidden", "raw T gates, T c, T tanh_c, T h",
                           LSTM_STEP_CUDA, "minigrad_lstm_step")
    run(xg, hg, c_prev, c_prev.shape[1], gates, c, tanh_c, h)


def lstm_step_backward_cuda(gates, c_prev, tanh_c, dh, dc, d_gates, dc_prev):
    """Same contract as :func:`lstm_step_backward_reference`, for CuPy arrays: one kernel."""
    check_lstm_step_backward("lstm_step_backward_cuda", gates, c_prev, tanh_c, dh, dc, d_gates, dc_prev, "cuda")
    run = cuda_elementwise("raw T gates, T c_prev, T tanh_c, T dh, T dc, int32 hidden", "raw T d_gates, T dc_prev",
                           LSTM_STEP_BACKWARD_CUDA, "minigrad_lstm_step_backward")
    run(gates, c_prev, tanh_c, dh, dc, c_prev.shape[1], d_gates, dc_prev)


def gru_step_cuda(xg, hg, h_prev, gates, h):
    """Same contract as :func:`gru_step_reference`, for CuPy arrays: one kernel."""
    check_gru_step("gru_step_cuda", xg, hg, h_prev, gates, h, "cuda")
    run = cuda_elementwise("raw T xg, raw T hg, T h_prev, int32 hidden", "raw T gates, T h", GRU_STEP_CUDA,
                           "minigrad_gru_step")
    run(xg, hg, h_prev, h_prev.shape[1], gates, h)


def gru_step_backward_cuda(gates, hg, h_prev, dh, dxg, dhg, dh_prev):
    """Same contract as :func:`gru_step_backward_reference`, for CuPy arrays: one kernel."""
    check_gru_step_backward("gru_step_backward_cuda", gates, hg, h_prev, dh, dxg, dhg, dh_prev, "cuda")
    run = cuda_elementwise("raw T gates, raw T hg, T h_prev, T dh, int32 hidden", "raw T dxg, raw T dhg, T dh_prev",
                           GRU_STEP_BACKWARD_CUDA, "minigrad_gru_step_backward")
    run(gates, hg, h_prev, dh, h_prev.shape[1], dxg, dhg, dh_prev)
