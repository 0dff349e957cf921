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
``name_numba``, and ``name_cuda`` (one numba.cuda kernel, a GPU thread per (example, unit)), and one
:class:`~minigrad.kernels.Kernel` entry of that name, which the ops call. The tests check they agree.

float32 stays float32. numba types a Python number in arithmetic with a float32 as float64 (``0.5 * a``,
``1 - z``): the product is computed in float64 and rounded back when stored, which is not the float32
arithmetic of the reference, and on most GPUs float64 runs many times slower. So the loops take their constants
from an array's dtype (``half = gates.dtype.type(0.5)``), and every step is computed in the arrays' dtype.

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

import math

import numba
import numpy as np

from ..backend import get_array_module
from . import Kernel, expect, float_arrays, gpu_device_function, gpu_kernel, launch

cuda = None                           # numba.cuda, bound at the first GPU launch (see kernels.gpu_kernel)


def sigmoid(a):
    """1 / (1 + e^-a), computed as (1 + tanh(a / 2)) / 2 (any array module)."""
    return 0.5 * (get_array_module(a).tanh(0.5 * a) + 1)


def check_step_arguments(who, gate_count, device, state, wide, narrow):
    """The arrays of one step, each given as (name, array, written): ``state`` a floating (B, H) array;
    every array of ``wide`` (B, gate_count * H) and C-contiguous (the numba loops take rows of them as
    contiguous 1-D views); every array of ``narrow`` (B, H). Dtypes may differ here (the numba loops convert);
    the Kernel entries run the reference for a mix. Returns (B, H)."""
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
    half = gates.dtype.type(0.5)                        # not 0.5: float32 * 0.5 is a float64 product in numba
    for b in range(xg.shape[0]):
        x, h, a = xg[b], hg[b], gates[b]
        for j in range(4 * hidden):
            a[j] = x[j] + h[j]
        for j in range(2 * hidden):                     # i, f
            a[j] *= half
        for j in range(3 * hidden, 4 * hidden):         # o
            a[j] *= half


@numba.njit(cache=True)
def _lstm_cell_state(gates, c_prev, c):
    # From the tanh values to the gates (sigmoid = (1 + t) / 2 for i, f and o, in place; g is tanh(a_g)
    # already), and the new cell state c = f * c_prev + i * g.
    hidden = c_prev.shape[1]
    half, one = gates.dtype.type(0.5), gates.dtype.type(1)
    for b in range(c_prev.shape[0]):
        a, c_old, c_new = gates[b], c_prev[b], c[b]
        for j in range(2 * hidden):                     # i, f
            a[j] = half * (a[j] + one)
        for j in range(3 * hidden, 4 * hidden):         # o
            a[j] = half * (a[j] + one)
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
    one = d_gates.dtype.type(1)                         # not 1: 1 - float32 is a float64 difference in numba
    for b in range(c_prev.shape[0]):
        a, da, c_old, t, dh_b, dc_b, dc_old = gates[b], d_gates[b], c_prev[b], tanh_c[b], dh[b], dc[b], dc_prev[b]
        i, f, g, o = a[:hidden], a[hidden:2 * hidden], a[2 * hidden:3 * hidden], a[3 * hidden:]
        for j in range(hidden):                         # dc_total, kept in dc_old until the last loop
            dc_old[j] = dc_b[j] + dh_b[j] * o[j] * (one - t[j] * t[j])
        for j in range(hidden):
            da[j] = dc_old[j] * g[j] * i[j] * (one - i[j])
        for j in range(hidden):
            da[hidden + j] = dc_old[j] * c_old[j] * f[j] * (one - f[j])
        for j in range(hidden):
            da[2 * hidden + j] = dc_old[j] * i[j] * (one - g[j] * g[j])
        for j in range(hidden):
            da[3 * hidden + j] = dh_b[j] * t[j] * o[j] * (one - o[j])
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
    half = gates.dtype.type(0.5)
    for b in range(xg.shape[0]):
        x, h, a = xg[b], hg[b], gates[b]
        for j in range(2 * hidden):
            a[j] = half * (x[j] + h[j])


@numba.njit(cache=True)
def _gru_candidate_argument(xg, hg, gates):
    # r, z = (1 + t) / 2 in place, and the candidate's pre-activation x_n + r * h_n in the n columns.
    hidden = xg.shape[1] // 3
    half, one = gates.dtype.type(0.5), gates.dtype.type(1)
    for b in range(xg.shape[0]):
        x, h, a = xg[b], hg[b], gates[b]
        for j in range(2 * hidden):
            a[j] = half * (a[j] + one)
        for j in range(hidden):
            a[2 * hidden + j] = x[2 * hidden + j] + a[j] * h[2 * hidden + j]


@numba.njit(cache=True)
def _gru_new_state(gates, h_prev, h):
    hidden = h_prev.shape[1]
    one = h.dtype.type(1)
    for b in range(h_prev.shape[0]):
        a, h_old, h_new = gates[b], h_prev[b], h[b]
        for j in range(hidden):
            z, n = a[hidden + j], a[2 * hidden + j]
            h_new[j] = (one - z) * n + z * h_old[j]


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
    one = dxg.dtype.type(1)
    for b in range(h_prev.shape[0]):
        a, h_n, h_old, d, dx, dhh, dh_old = gates[b], hg[b, 2 * hidden:], h_prev[b], dh[b], dxg[b], dhg[b], dh_prev[b]
        r, z, n = a[:hidden], a[hidden:2 * hidden], a[2 * hidden:]
        for j in range(hidden):                         # da_n
            dx[2 * hidden + j] = d[j] * (one - z[j]) * (one - n[j] * n[j])
        for j in range(hidden):                         # da_z
            dx[hidden + j] = d[j] * (h_old[j] - n[j]) * z[j] * (one - z[j])
        for j in range(hidden):                         # da_r
            dx[j] = dx[2 * hidden + j] * h_n[j] * r[j] * (one - r[j])
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
#
# The constants come from an array's dtype (``half``, ``one``): numba computes float32 * 0.5 or 1 - float32
# in float64, not what the reference computes, and on most GPUs a small fraction of float32's speed.
# A thread reads all of its unit's columns before it writes any, so ``gates`` may be ``xg``.

@gpu_device_function
def _sigmoid_gpu(a, half, one):
    """sigmoid(a) = (tanh(a / 2) + 1) / 2, in the dtype of ``half`` and ``one``."""
    return half * (math.tanh(half * a) + one)


@gpu_kernel
def _lstm_step_gpu(xg, hg, c_prev, gates, c, tanh_c, h):
    i = cuda.grid(1)
    batch, hidden = c_prev.shape
    if i < batch * hidden:
        b, j = i // hidden, i % hidden
        half, one = c.dtype.type(0.5), c.dtype.type(1)
        gi = _sigmoid_gpu(xg[b, j] + hg[b, j], half, one)
        gf = _sigmoid_gpu(xg[b, hidden + j] + hg[b, hidden + j], half, one)
        gg = math.tanh(xg[b, 2 * hidden + j] + hg[b, 2 * hidden + j])
        go = _sigmoid_gpu(xg[b, 3 * hidden + j] + hg[b, 3 * hidden + j], half, one)
        gates[b, j], gates[b, hidden + j], gates[b, 2 * hidden + j], gates[b, 3 * hidden + j] = gi, gf, gg, go
        c_new = gf * c_prev[b, j] + gi * gg
        t = math.tanh(c_new)
        c[b, j], tanh_c[b, j], h[b, j] = c_new, t, go * t


def lstm_step_cuda(xg, hg, c_prev, gates, c, tanh_c, h):
    """Same contract as :func:`lstm_step_reference`, for CuPy arrays: one kernel."""
    check_lstm_step("lstm_step_cuda", xg, hg, c_prev, gates, c, tanh_c, h, "cuda")
    _lstm_step_gpu[launch(c_prev.size)](xg, hg, c_prev, gates, c, tanh_c, h)


@gpu_kernel
def _lstm_step_backward_gpu(gates, c_prev, tanh_c, dh, dc, d_gates, dc_prev):
    i = cuda.grid(1)
    batch, hidden = c_prev.shape
    if i < batch * hidden:
        b, j = i // hidden, i % hidden
        one = dc_prev.dtype.type(1)
        gi, gf, gg, go = gates[b, j], gates[b, hidden + j], gates[b, 2 * hidden + j], gates[b, 3 * hidden + j]
        t = tanh_c[b, j]
        dc_total = dc[b, j] + dh[b, j] * go * (one - t * t)
        d_gates[b, j] = dc_total * gg * gi * (one - gi)
        d_gates[b, hidden + j] = dc_total * c_prev[b, j] * gf * (one - gf)
        d_gates[b, 2 * hidden + j] = dc_total * gi * (one - gg * gg)
        d_gates[b, 3 * hidden + j] = dh[b, j] * t * go * (one - go)
        dc_prev[b, j] = dc_total * gf


def lstm_step_backward_cuda(gates, c_prev, tanh_c, dh, dc, d_gates, dc_prev):
    """Same contract as :func:`lstm_step_backward_reference`, for CuPy arrays: one kernel."""
    check_lstm_step_backward("lstm_step_backward_cuda", gates, c_prev, tanh_c, dh, dc, d_gates, dc_prev, "cuda")
    _lstm_step_backward_gpu[launch(c_prev.size)](gates, c_prev, tanh_c, dh, dc, d_gates, dc_prev)


@gpu_kernel
def _gru_step_gpu(xg, hg, h_prev, gates, h):
    i = cuda.grid(1)
    batch, hidden = h_prev.shape
    if i < batch * hidden:
        b, j = i // hidden, i % hidden
        half, one = h.dtype.type(0.5), h.dtype.type(1)
        r = _sigmoid_gpu(xg[b, j] + hg[b, j], half, one)
        z = _sigmoid_gpu(xg[b, hidden + j] + hg[b, hidden + j], half, one)
        n = math.tanh(xg[b, 2 * hidden + j] + r * hg[b, 2 * hidden + j])           # r scales W_hn h + b_hn
        gates[b, j], gates[b, hidden + j], gates[b, 2 * hidden + j] = r, z, n
        h[b, j] = (one - z) * n + z * h_prev[b, j]


def gru_step_cuda(xg, hg, h_prev, gates, h):
    """Same contract as :func:`gru_step_reference`, for CuPy arrays: one kernel."""
    check_gru_step("gru_step_cuda", xg, hg, h_prev, gates, h, "cuda")
    _gru_step_gpu[launch(h_prev.size)](xg, hg, h_prev, gates, h)


@gpu_kernel
def _gru_step_backward_gpu(gates, hg, h_prev, dh, dxg, dhg, dh_prev):
    i = cuda.grid(1)
    batch, hidden = h_prev.shape
    if i < batch * hidden:
        b, j = i // hidden, i % hidden
        one = dh_prev.dtype.type(1)
        r, z, n = gates[b, j], gates[b, hidden + j], gates[b, 2 * hidden + j]
        d = dh[b, j]
        da_n = d * (one - z) * (one - n * n)
        da_z = d * (h_prev[b, j] - n) * z * (one - z)
        da_r = da_n * hg[b, 2 * hidden + j] * r * (one - r)
        dxg[b, j], dxg[b, hidden + j], dxg[b, 2 * hidden + j] = da_r, da_z, da_n
        dhg[b, j], dhg[b, hidden + j], dhg[b, 2 * hidden + j] = da_r, da_z, da_n * r
        dh_prev[b, j] = d * z


def gru_step_backward_cuda(gates, hg, h_prev, dh, dxg, dhg, dh_prev):
    """Same contract as :func:`gru_step_backward_reference`, for CuPy arrays: one kernel."""
    check_gru_step_backward("gru_step_backward_cuda", gates, hg, h_prev, dh, dxg, dhg, dh_prev, "cuda")
    _gru_step_backward_gpu[launch(h_prev.size)](gates, hg, h_prev, dh, dxg, dhg, dh_prev)


# ----- the entries the ops call --------------------------------------------------------------------------------

def takes(*wide):
    """``fast`` of a step kernel: every array of one compiled dtype (the kernels' constants take it), and the
    (B, G H) arrays, at argument positions ``wide``, C-contiguous, as the checks require."""
    def fast(*args):
        return float_arrays(*args) and all(args[k].flags.c_contiguous for k in wide)
    return fast


lstm_step = Kernel("lstm_step", lstm_step_reference, lstm_step_numba, lstm_step_cuda, fast=takes(0, 1, 3))
lstm_step_backward = Kernel("lstm_step_backward", lstm_step_backward_reference, lstm_step_backward_numba,
                            lstm_step_backward_cuda, fast=takes(0, 5))
gru_step = Kernel("gru_step", gru_step_reference, gru_step_numba, gru_step_cuda, fast=takes(0, 1, 3))
gru_step_backward = Kernel("gru_step_backward", gru_step_backward_reference, gru_step_backward_numba,
                           gru_step_backward_cuda, fast=takes(0, 1, 4, 5))
