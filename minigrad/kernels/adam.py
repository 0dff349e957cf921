"""The Adam parameter update, fused into one pass over memory (see ``minigrad.optim.Adam`` for the math).

The NumPy reference makes about ten passes over arrays the size of the model (each ``*``, ``+``, ``sqrt``
reads and writes a whole temporary); for the 2.8M-parameter MLNN that costs more than the matrix products
of a step. The numba kernel reads p, g, m, v once and writes p, m, v once, on both cores.
"""

import numba
import numpy as np

from . import cuda_elementwise, expect


def adam_update_reference(p, g, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """One Adam step in place on p, m, v (any array module). ``decoupled`` selects AdamW's weight decay."""
    if weight_decay and decoupled:
        p *= 1 - lr * weight_decay                  # AdamW: shrink the weights directly
    elif weight_decay:
        g = g + weight_decay * p                    # Adam: L2 penalty folded into the gradient
    m *= beta1
    m += (1 - beta1) * g                            # m_t = b1 m_{t-1} + (1 - b1) g_t
    v *= beta2
    v += (1 - beta2) * (g * g)                      # v_t = b2 v_{t-1} + (1 - b2) g_t^2
    bias1, bias2 = 1 - beta1 ** step, 1 - beta2 ** step
    denom = (v ** 0.5) / (bias2 ** 0.5) + eps       # sqrt(v_hat_t) + eps
    p -= (lr / bias1) * m / denom                   # p_t = p_{t-1} - lr m_hat_t / (sqrt(v_hat_t) + eps)


@numba.njit(parallel=True, cache=True, fastmath=False)
def _adam_numba(p, g, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    bias1 = 1.0 - beta1 ** step
    sqrt_bias2 = (1.0 - beta2 ** step) ** 0.5
    shrink = 1.0 - lr * weight_decay if decoupled else 1.0
    l2 = 0.0 if decoupled else weight_decay
    for i in numba.prange(p.size):
        gi = g[i] + l2 * p[i]
        mi = beta1 * m[i] + (1.0 - beta1) * gi
        vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * shrink - (lr / bias1) * mi / (np.sqrt(vi) / sqrt_bias2 + eps)


def check_adam_arguments(who, p, g, m, v, step, device):
    """p, m, v (written) of one shape and float dtype, C-contiguous on the CPU (the loop walks their
    memory as one flat run); g of p's shape and dtype, any layout; step >= 1 (bias corrections divide by
    1 - beta^step)."""
    cpu = device == "cpu"
    expect(who, "p", p, contiguous=cpu, writable=True, device=device)
    expect(who, "g", g, shape=p.shape, dtype=p.dtype, device=device)
    expect(who, "m", m, shape=p.shape, dtype=p.dtype, contiguous=cpu, writable=True, device=device)
    expect(who, "v", v, shape=p.shape, dtype=p.dtype, contiguous=cpu, writable=True, device=device)
    if not step >= 1:
        raise ValueError(f"{who}: step must be >= 1, got {step}")


def adam_update_numba(p, g, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """Same contract as :func:`adam_update_reference`; p, m, v must be C-contiguous NumPy arrays."""
    check_adam_arguments("adam_update_numba", p, g, m, v, step, "cpu")
    _adam_numba(p.reshape(-1), np.ascontiguousarray(g).reshape(-1), m.reshape(-1), v.reshape(-1),
                float(lr), float(beta1), float(beta2), float(eps), float(step), float(weight_decay),
                bool(decoupled))


ADAM_CUDA = """
T gi = g + l2 * p;
m = beta1 * m + (1 - beta1) * gi;
v = beta2 * v + (1 - beta2) * gi * gi;
p = p * shrink - step_size * m / (sqrt(v) / sqrt_bias2 + eps);
"""


def adam_update_cuda(p, g, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """Same contract as :func:`adam_update_reference`, for CuPy arrays: one kernel updating p, m, v in place."""
    check_adam_arguments("adam_update_cuda", p, g, m, v, step, "cuda")
    kernel = cuda_elementwise("T g, T step_size, T beta1, T beta2, T eps, T sqrt_bias2, T shrink, T l2",
                              "T p, T m, T v", ADAM_CUDA, "minigrad_adam")
    t = p.dtype.type
    bias1, sqrt_bias2 = 1.0 - beta1 ** step, (1.0 - beta2 ** step) ** 0.5
    shrink = 1.0 - lr * weight_decay if decoupled else 1.0
    l2 = 0.0 if decoupled else weight_decay
    kernel(g, t(lr / bias1), t(beta1), t(beta2), t(eps), t(sqrt_bias2), t(shrink), t(l2), p, m, v)
