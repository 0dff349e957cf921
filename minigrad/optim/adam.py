"""Adam and AdamW."""

from ..autograd import no_grad
from ..backend import get_array_module
from ..kernels.adam import adam_update
from .optimizer import Optimizer, check_hyper_parameters


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), Algorithm 1, with PyTorch's L2 weight decay.

    For each parameter theta with gradient g_t at step t = 1, 2, ...:

        g_t <- g_t + weight_decay * theta_{t-1}              (L2 penalty, as torch.optim.Adam)
        m_t = beta1 m_{t-1} + (1 - beta1) g_t                (first moment: running mean of gradients)
        v_t = beta2 v_{t-1} + (1 - beta2) g_t^2              (second moment: running mean of squares)
        m_hat_t = m_t / (1 - beta1^t)                        (bias correction: m_0 = v_0 = 0 bias the
        v_hat_t = v_t / (1 - beta2^t)                         early averages toward zero)
        theta_t = theta_{t-1} - lr m_hat_t / (sqrt(v_hat_t) + eps)

    Pinto & Silva use beta1 = 0.9, beta2 = 0.999, eps = 1e-8 (the defaults). The update runs as one fused
    loop, numba's on the CPU and a numba.cuda kernel on a GPU (``minigrad.kernels.adam``); its array-code
    reference is the lines above, which run instead for parameters that are not C-contiguous.
    """

    decoupled = False
    state_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        check_hyper_parameters(dict(betas=betas))          # a pair, before tuple() would take it apart
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @no_grad()
    def step(self):
        """One Adam update of every parameter that has a gradient (all gradients and state checked first)."""
        self.check_step()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                array = p._data
                xp = get_array_module(array)
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {"step": 0, "exp_avg": xp.zeros_like(array),
                                             "exp_avg_sq": xp.zeros_like(array)}
                state["step"] += 1
                adam_update(array, p.grad, state["exp_avg"], state["exp_avg_sq"], group["lr"], beta1, beta2,
                            group["eps"], state["step"], group["weight_decay"], self.decoupled)
                p._bump_version()


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``:

        theta <- theta (1 - lr * weight_decay)     before the Adam step, instead of adding an L2 term to g

    so the decay is not rescaled by the adaptive denominator. Default weight_decay = 0.01 as PyTorch.
    """

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
