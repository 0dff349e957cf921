"""The Adam parameter update, fused into one pass over memory (see ``minigrad.optim.Adam`` for the math).

The NumPy reference makes about ten passes over arrays the size of the model (each ``*``, ``+``, ``sqrt``
reads and writes a whole temporary); for the 2.8M-parameter MLNN that costs more than the matrix products
of a step. The numba kernel reads p, g, m, v once and writes p, m, v once, on both cores; the numba.cuda
kernel does the same on a GPU, one thread per element. Both walk p, m and v as one flat run of memory, so
they need them C-contiguous: the ``adam_update`` entry runs the reference for other layouts (and for other
dtypes, or a g whose dtype is not p's).
"""

import math

import numba
import numpy as np

from ..backend import get_array_module
from . import Kernel, expect, float_arrays, gpu_kernel, launch

cuda = None                           # numba.cuda, bound at the first GPU launch (see kernels.gpu_kernel)


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
    """p, m, v (written) of one shape and float dtype, C-contiguous (the loops walk their memory as one flat
    run); g of p's shape and dtype, any layout; step >= 1 (bias corrections divide by 1 - beta^step)."""
    expect(who, "p", p, contiguous=True, writable=True, device=device)
    expect(who, "g", g, shape=p.shape, dtype=p.dtype, device=device)
    expect(who, "m", m, shape=p.shape, dtype=p.dtype, contiguous=True, writable=True, device=device)
    expect(who, "v", v, shape=p.shape, dtype=p.dtype, contiguous=True, writable=True, device=device)
    if not step >= 1:
        raise ValueError(f"{who}: step must be >= 1, got {step}")


def adam_update_numba(p, g, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """Same contract as :func:`adam_update_reference`; p, m, v must be C-contiguous NumPy arrays."""
    check_adam_arguments("adam_update_numba", p, g, m, v, step, "cpu")
    _adam_numba(p.reshape(-1), np.ascontiguousarray(g).reshape(-1), m.reshape(-1), v.reshape(-1),
                float(lr), float(beta1), float(beta2), float(eps), float(step), float(weight_decay),
                bool(decoupled))


@gpu_kernel
def _adam_gpu(p, g, m, v, step_size, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, sqrt_bias2, shrink, l2):
    # The scalars come in p's dtype (as 1 - beta1 and 1 - beta2 too: a Python number in the arithmetic
    # would make numba compute a float32 update in float64).
    i = cuda.grid(1)
    if i < p.size:
        gi = g[i] + l2 * p[i]
        mi = beta1 * m[i] + one_minus_beta1 * gi
        vi = beta2 * v[i] + one_minus_beta2 * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * shrink - step_size * mi / (math.sqrt(vi) / sqrt_bias2 + eps)


def adam_update_cuda(p, g, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """Same contract as :func:`adam_update_reference`, for C-contiguous CuPy arrays: one thread per element
    updating p, m, v in place."""
    check_adam_arguments("adam_update_cuda", p, g, m, v, step, "cuda")
    xp = get_array_module(p)
    t = p.dtype.type
    bias1, sqrt_bias2 = 1.0 - beta1 ** step, (1.0 - beta2 ** step) ** 0.5
    shrink = 1.0 - lr * weight_decay if decoupled else 1.0
    l2 = 0.0 if decoupled else weight_decay
    _adam_gpu[launch(p.size)](p.reshape(-1), xp.ascontiguousarray(g).reshape(-1), m.reshape(-1), v.reshape(-1),
                              t(lr / bias1), t(beta1), t(1.0 - beta1), t(beta2), t(1.0 - beta2), t(eps),
                              t(sqrt_bias2), t(shrink), t(l2))


def compiled_loops_take(p, g, m, v, *hyper_parameters):
    """Whether the flat loops can run: p, g, m, v of one compiled dtype, and p, m, v C-contiguous (the loops
    walk them, and write them, as one flat run of memory; g is copied to one where it is not)."""
    return float_arrays(p, g, m, v) and all(a.flags.c_contiguous for a in (p, m, v))


adam_update = Kernel("adam_update", adam_update_reference, adam_update_numba, adam_update_cuda,
                     fast=compiled_loops_take)
