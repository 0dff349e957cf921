"""Kernel cases (see kernel_cases.py) of minigrad.kernels: batchnorm, adam and rnn."""

import numpy as np


# ----- batch norm: x as (N, C, L), the layouts ops.batchnorm.channel_view gives --------------------------------

def bn_inputs(rng, dtype):
    """(label, x) in the layouts the op passes: (N, C, L) in C order; an (N, C) input as (N, C, 1); a
    channels-last image batch as (N*H*W, C, 1); a batch slice x[::2] (a view, not contiguous); and a channel
    with a large mean and small spread, one constant channel (variance 0) and one with a NaN. Few channels:
    the CUDA simulator runs a block of 128 Python threads for each."""
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    rows = rng.standard_normal((12, 3, 1)).astype(dtype)
    images = rng.standard_normal((2, 3, 3, 4)).astype(dtype)
    channels_last = np.ascontiguousarray(images.transpose(0, 2, 3, 1)).reshape(-1, 3, 1)
    sliced = rng.standard_normal((6, 3, 4)).astype(dtype)[::2]
    special = rng.standard_normal((4, 3, 6)).astype(dtype)
    special[:, 0] = 1000 + special[:, 0] / 100                   # mean 1000, spread 0.01: two passes needed
    special[:, 1] = 0.5                                         # constant: variance exactly 0
    special[1, 2, 3] = np.nan                                   # NaN in channel 2 only
    return [("ncl", x), ("rows", rows), ("channels_last", channels_last), ("batch_slice", sliced),
            ("special_channels", special)]


def per_channel(rng, channels):
    return rng.standard_normal(channels), rng.uniform(0.2, 3.0, channels), rng.standard_normal(channels)


def batch_stats_cases(rng, dtype):
    return [(label, (x,)) for label, x in bn_inputs(rng, dtype)]


def scale_shift_cases(rng, dtype):
    cases = []
    for label, x in bn_inputs(rng, dtype):
        scale, _, shift = per_channel(rng, x.shape[1])               # float64 (C,), as the op passes
        cases.append((label, (x, scale, shift)))
    cases.append(("float32_vectors", (cases[0][1][0], *(v.astype(np.float32) for v in cases[0][1][1:]))))
    return cases


def batch_norm_backward_cases(rng, dtype):
    cases = []
    for label, x in bn_inputs(rng, dtype):
        if label == "special_channels":     # NaN; and a float32 reference's x - mean loses the spread of 0.01
            continue
        g = rng.standard_normal(x.shape).astype(dtype)
        _, invstd, weight = per_channel(rng, x.shape[1])
        mean = x.astype(np.float64).mean(axis=(0, 2))                # the batch's, as in training
        cases.append((label, (g, x, mean, invstd, weight, True)))
    g, x, mean, invstd, weight, _ = cases[0][1]
    cases.append(("evaluation", (g, x, mean, invstd, weight, False)))
    cases.append(("no_dx", (g, x, mean, invstd, weight, True, False)))
    return cases


# ----- Adam: p, g, m, v as the optimizer keeps them (C order), g possibly another layout ------------------------

def adam_update_cases(rng, dtype):
    def state(*shape, steps):
        p, g = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
        g *= rng.choice(np.array([1e-3, 1.0, 10.0], dtype), size=shape)
        if steps == 0:
            return p, g, np.zeros(shape, dtype), np.zeros(shape, dtype)
        m = np.asarray(0.1 * rng.standard_normal(shape), dtype)      # arrays, also for shape () (a scalar)
        v = np.asarray(0.01 * rng.uniform(0, 1, shape), dtype)
        return p, g, m, v

    hyper = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8)
    cases = []
    for label, arrays, step, weight_decay, decoupled in [
            ("first_step", state(4, 5, steps=0), 1, 0.0, False),
            ("later_step_l2", state(4, 5, steps=6), 7, 0.05, False),
            ("later_step_adamw", state(4, 5, steps=2), 3, 0.01, True),
            ("bias_1d", state(7, steps=3), 4, 0.0, False),
            ("scalar", state(steps=3), 4, 0.0, True)]:
        cases.append((label, (*arrays, *hyper.values(), step, weight_decay, decoupled)))
    p, g, m, v = state(5, 6, steps=2)
    cases.append(("g_fortran_order", (p, np.asfortranarray(g), m, v, *hyper.values(), 3, 0.0, False)))
    p, g, m, v = state(5, 4, steps=2)
    zero = np.zeros_like(g)
    cases.append(("zero_gradient_zero_state", (p, zero, np.zeros_like(m), np.zeros_like(v), *hyper.values(), 1,
                                               0.0, False)))
    p, g, m, v = state(6, 4, steps=2)
    cases.append(("p_transposed", (p.T, g.T, m.T, v.T, *hyper.values(), 3, 0.0, False)))   # reference runs
    return cases


# ----- LSTM and GRU steps: (B, G H) pre-activations, slices of the layers' (T, B, G H) buffers ----------------

def gate_inputs(rng, dtype, gates, batch, hidden, scale=3.0):
    xg, hg = ((scale * rng.standard_normal((batch, gates * hidden))).astype(dtype) for _ in range(2))
    return xg, hg


SIZES = [("b2_h3", 2, 3), ("b1_h1", 1, 1), ("b3_h8", 3, 8)]


def lstm_step_cases(rng, dtype):
    cases = []
    for label, batch, hidden in SIZES:
        xg, hg = gate_inputs(rng, dtype, 4, batch, hidden)
        c_prev = rng.standard_normal((batch, hidden)).astype(dtype)
        c, tanh_c, h = (np.zeros((batch, hidden), dtype) for _ in range(3))
        cases.append((label, (xg, hg, c_prev, np.zeros_like(xg), c, tanh_c, h)))
    xg, hg = gate_inputs(rng, dtype, 4, 2, 3)
    c_prev = rng.standard_normal((2, 3)).astype(dtype)
    outputs = tuple(np.zeros((2, 3), dtype) for _ in range(3))
    cases.append(("gates_in_xg", (xg, hg, c_prev, xg, *outputs)))                 # the layers' in-place use
    xg, hg = gate_inputs(rng, dtype, 4, 2, 3, scale=40.0)                         # saturated gates: 0, 1, +-1
    cases.append(("saturated", (xg, hg, c_prev, np.zeros_like(xg), *(np.zeros((2, 3), dtype) for _ in range(3)))))
    buffer = np.zeros((4, 2, 12), dtype)                                            # gates[t] of a (T, B, 4H) buffer
    buffer[2] = xg
    states = np.zeros((2, 4, 2, 3), dtype)
    cases.append(("buffer_slices", (buffer[2], hg, c_prev, buffer[2], states[1, 2], np.zeros((2, 3), dtype),
                                    states[0, 2])))
    return cases


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def lstm_step_backward_cases(rng, dtype):
    cases = []
    for label, batch, hidden in SIZES:
        a = rng.standard_normal((batch, 4 * hidden))
        gates = np.concatenate([sigmoid(a[:, :2 * hidden]), np.tanh(a[:, 2 * hidden:3 * hidden]),
                                sigmoid(a[:, 3 * hidden:])], axis=1).astype(dtype)
        c_prev, dh, dc = (rng.standard_normal((batch, hidden)).astype(dtype) for _ in range(3))
        tanh_c = np.tanh(rng.standard_normal((batch, hidden))).astype(dtype)
        cases.append((label, (gates, c_prev, tanh_c, dh, dc, np.zeros_like(gates), np.zeros_like(c_prev))))
    gates, c_prev, tanh_c, dh, dc = cases[0][1][:5]
    cases.append(("dh_non_contiguous", (gates, c_prev, tanh_c, np.asfortranarray(dh), dc, np.zeros_like(gates),
                                        np.zeros_like(c_prev))))
    return cases


def gru_step_cases(rng, dtype):
    cases = []
    for label, batch, hidden in SIZES:
        xg, hg = gate_inputs(rng, dtype, 3, batch, hidden)
        h_prev = rng.standard_normal((batch, hidden)).astype(dtype)
        cases.append((label, (xg, hg, h_prev, np.zeros_like(xg), np.zeros_like(h_prev))))
    xg, hg = gate_inputs(rng, dtype, 3, 2, 3)
    h_prev = rng.standard_normal((2, 3)).astype(dtype)
    cases.append(("gates_in_xg", (xg, hg, h_prev, xg, np.zeros_like(h_prev))))
    xg, hg = gate_inputs(rng, dtype, 3, 2, 3, scale=40.0)
    cases.append(("saturated", (xg, hg, h_prev, np.zeros_like(xg), np.zeros_like(h_prev))))
    cases.append(("mixed_dtypes", (xg, hg, h_prev.astype(np.float16), np.zeros_like(xg), np.zeros_like(h_prev))))
    return cases


def gru_step_backward_cases(rng, dtype):
    cases = []
    for label, batch, hidden in SIZES:
        a = rng.standard_normal((batch, 3 * hidden))
        gates = np.concatenate([sigmoid(a[:, :2 * hidden]), np.tanh(a[:, 2 * hidden:])], axis=1).astype(dtype)
        hg = rng.standard_normal((batch, 3 * hidden)).astype(dtype)
        h_prev, dh = (rng.standard_normal((batch, hidden)).astype(dtype) for _ in range(2))
        cases.append((label, (gates, hg, h_prev, dh, np.zeros_like(gates), np.zeros_like(gates),
                              np.zeros_like(h_prev))))
    return cases


CASES = {
    "batch_stats": batch_stats_cases,
    "scale_shift": scale_shift_cases,
    "batch_norm_backward": batch_norm_backward_cases,
    "adam_update": adam_update_cases,
    "lstm_step": lstm_step_cases,
    "lstm_step_backward": lstm_step_backward_cases,
    "gru_step": gru_step_cases,
    "gru_step_backward": gru_step_backward_cases,
}
