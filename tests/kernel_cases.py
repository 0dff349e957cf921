"""Arguments for every kernel of ``minigrad.kernels.REGISTRY``: what test_kernel_registry.py runs each
version of a kernel on (its reference, numba's loops, the numba.cuda kernel), in several layouts.

CASES maps a kernel's name to a function ``(rng, dtype) -> [(label, args), ...]``: small arrays (the CUDA
simulator runs one Python thread per element) in the layouts the ops give, and edge cases (zeros, NaN,
padding). Each ``args`` is a tuple in the kernel's order; a kernel that writes into its arguments (Adam)
is compared on those arguments afterwards.
"""

import numpy as np

from kernel_cases_conv_pool import CASES as CONV_POOL_CASES
from kernel_cases_norm_adam_rnn import CASES as NORM_ADAM_RNN_CASES


def relu_backward_cases(rng, dtype):
    g, y = (rng.standard_normal((2, 3, 4, 5)).astype(dtype) for _ in range(2))
    y[y < 0.3] = 0.0                                             # dead units, and y == 0 exactly
    g[0, 0, 0, 0], y[0, 0, 0, 0] = np.nan, 0.0                   # NaN * 0 stays NaN, as in the reference
    channels_last = tuple(np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) for a in (g, y))
    zero_d = tuple(a[0, 0, 0, 1:2].reshape(()) for a in (g, y))     # 0-d arrays, as a scalar loss gives
    return [("nchw", (g, y)), ("channels_last", channels_last),
            ("transposed_2d", (g.reshape(6, 20).T, y.reshape(6, 20).T)), ("0-d", zero_d)]


CASES = {
    "relu_backward": relu_backward_cases,
    **CONV_POOL_CASES,
    **NORM_ADAM_RNN_CASES,
}
