"""Batch normalisation (Ioffe & Szegedy, 2015): each channel standardised by statistics over the batch.

For input (N, C), (N, C, L) or (N, C, H, W), channel c's statistics are taken over the n = N*L values
x[:, c, ...] (L = H*W for images, 1 for (N, C) input); the op works on the input viewed as (N, C, L).
An image batch laid out channels-last in memory, as ``conv2d`` leaves it, is viewed as (N*H*W, C, 1)
instead: the same values without a copy, and the output keeps that layout for the next convolution.
The passes over the data run in ``minigrad.kernels.batchnorm`` (a NumPy reference, numba's loops on the CPU
and numba.cuda kernels on a GPU), through its Kernel entries batch_stats, scale_shift and batch_norm_backward.
"""

import math

from ..autograd import Function
from ..backend import get_array_module
from ..kernels import channels_last
from ..kernels.batchnorm import batch_norm_backward, batch_stats, scale_shift


class BatchNorm(Function):
    """y = batch_norm(x) with per-channel scale gamma (weight) and shift beta (bias).

    Forward, the U-Net paper's eq. (1), for every channel c:
        x_hat = (x - mu_c) / sqrt(sigma_c^2 + eps),      y = gamma_c x_hat + beta_c
    In training mu_c and sigma_c^2 are the mean and the biased variance (divided by n) of the channel's n
    values in this batch; in evaluation they are the running estimates, so y is a fixed per-channel affine
    map. Either way it is computed as one multiply-add per element, y = x s_c + t_c with
    s_c = gamma_c / sqrt(sigma_c^2 + eps) and t_c = beta_c - mu_c s_c.

    Backward in training. Take one channel and drop the index c: values x_1..x_n, upstream g_i = dL/dy_i,
        mu = (1/n) sum_i x_i,    var = (1/n) sum_i (x_i - mu)^2,
        r = (var + eps)^(-1/2),  x_hat_i = (x_i - mu) r.
    1. y_i = gamma x_hat_i + beta, so
           dL/dbeta = sum_i g_i,   dL/dgamma = sum_i g_i x_hat_i,   dL/dx_hat_i = gamma g_i.
    2. Every x_hat_i depends on every x_j, through x_i itself, mu and var:
           dmu/dx_j  = 1/n
           dvar/dx_j = (2/n) sum_i (x_i - mu)(delta_ij - 1/n) = (2/n)(x_j - mu)      (as sum_i (x_i - mu) = 0)
           dr/dx_j   = -(1/2)(var + eps)^(-3/2) dvar/dx_j = -r^3 (x_j - mu)/n = -r^2 x_hat_j / n
    3. Product rule on x_hat_i = (x_i - mu) r:
           dx_hat_i/dx_j = r (delta_ij - 1/n) + (x_i - mu) dr/dx_j = (r/n) (n delta_ij - 1 - x_hat_i x_hat_j)
    4. Chain rule, summing over i:
           dL/dx_j = sum_i gamma g_i dx_hat_i/dx_j
                   = (gamma r / n) (n g_j - sum_i g_i - x_hat_j sum_i g_i x_hat_i)
    so, with means over the n = N*H*W values of a channel,
        dL/dx = (gamma / sqrt(var + eps)) * (g - mean(g) - x_hat * mean(g * x_hat))
        dL/dgamma = sum g * x_hat,        dL/dbeta = sum g.
    Reading it: shifting a channel's x leaves x_hat unchanged, so dL/dx has no component along the constant
    direction (sum dL/dx = 0 over a channel); scaling x changes x_hat only through eps, and the last term
    removes g's component along x_hat (entirely when eps = 0, as then mean(x_hat^2) = 1).

    Why an all-ones upstream gradient hides errors here: with g = 1 (checking sum(y)), sum_i y_i = n beta
    does not depend on x at all, so the true dL/dx is exactly 0: g - mean(g) = 0 and mean(g x_hat) =
    mean(x_hat) = 0. A backward that drops the x_hat * mean(g x_hat) term, or has its sign or factor wrong,
    returns 0 as well and passes. The same holds for any g constant within a channel; only a random g (as
    ``gradcheck`` uses) exercises the whole formula.

    Backward in evaluation: mu and var are constants, so dL/dx = g * gamma / sqrt(running_var + eps), and
    dL/dgamma = sum g * x_hat, dL/dbeta = sum g as above (x_hat from the running statistics).

    Called through ``minigrad.functional.batch_norm``, which checks the arguments; weight and bias are always
    Tensors here.
    In training the batch statistics are blended into running_mean and running_var (arrays) in place.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean=None, running_var=None, training=False, momentum=0.1,
                eps=1e-5):
        xp = get_array_module(x)
        ctx.channels_last = is_channels_last(x)
        x3 = channel_view(x, ctx.channels_last)              # (N, C, L), or (N*H*W, C, 1)
        if training:
            mean, var = batch_stats(x3)
            update_running_stats(running_mean, running_var, mean, var, x3.shape[0] * x3.shape[2], momentum)
        else:
            mean, var = running_mean.astype(xp.float64), running_var.astype(xp.float64)
        invstd = 1.0 / xp.sqrt(var + eps)                      # per-channel statistics stay in float64
        gamma = weight.astype(xp.float64)
        scale = gamma * invstd                                 # s = gamma / sqrt(var + eps)
        shift = bias.astype(xp.float64) - mean * scale         # t = beta - mu s
        y = scale_shift(x3, scale, shift)
        ctx.save_for_backward(x3, mean, invstd, gamma)
        ctx.training, ctx.shape = training, x.shape
        return from_channel_view(y, x.shape, ctx.channels_last)

    @staticmethod
    def backward(ctx, g):
        x3, mean, invstd, gamma = ctx.saved
        need_x, need_weight, need_bias = ctx.needs_input_grad
        g3 = channel_view(g.astype(x3.dtype, copy=False), ctx.channels_last)
        dx, sum_g, sum_g_xhat = batch_norm_backward(g3, x3, mean, invstd, gamma, ctx.training, need_x)
        weight, bias = ctx.inputs[1], ctx.inputs[2]
        return (from_channel_view(dx, ctx.shape, ctx.channels_last) if need_x else None,
                sum_g_xhat.astype(weight.dtype) if need_weight else None,   # dL/dgamma = sum g x_hat
                sum_g.astype(bias.dtype) if need_bias else None)            # dL/dbeta = sum g


def is_channels_last(x):
    """Whether x (N, C, H, W) is laid out (N, H, W, C) in memory, as conv2d's outputs are."""
    return x.ndim == 4 and x.transpose(0, 2, 3, 1).flags.c_contiguous and not x.flags.c_contiguous


def channel_view(x, channels_last_layout):
    """x as (N, C, L), or, for a channels-last image batch, as (N*H*W, C, 1): either way channel c is [:, c, :]."""
    if channels_last_layout:
        return channels_last(x).reshape(-1, x.shape[1], 1)
    return x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))


def from_channel_view(a3, shape, channels_last_layout):
    """The inverse of :func:`channel_view`: back to ``shape`` (a view, in the layout ``a3``'s memory has)."""
    if channels_last_layout:
        n, c, h, w = shape
        return a3.reshape(n, h, w, c).transpose(0, 3, 1, 2)
    return a3.reshape(shape)


def update_running_stats(running_mean, running_var, mean, var, n, momentum):
    """PyTorch's rule, in place: running = (1 - momentum) running + momentum batch_stat.

    running_var takes the unbiased variance var * n / (n - 1), the estimate of the population's variance,
    while the batch itself is normalised with the biased one. Either array may be None (not tracked).
    """
    if running_mean is not None:
        running_mean[...] = (1 - momentum) * running_mean + momentum * mean
    if running_var is not None:
        running_var[...] = (1 - momentum) * running_var + momentum * var * (n / (n - 1))
