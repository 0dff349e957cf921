"""Adam and AdamW, with PyTorch's AMSGrad variant."""

from ..autograd import no_grad
from ..backend import get_array_module
from ..errors import SettingsError
from ..kernels.adam import adam_update
from .optimizer import Optimizer, check_hyper_parameters, refuse_unsupported


def amsgrad_update(p, g, m, v, v_max, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """One AMSGrad step in place on p, m, v, v_max (any array module), as ``torch.optim.Adam(amsgrad=True)``'s
    single-tensor loop; ``decoupled`` selects AdamW's weight decay. The array-code reference of
    :func:`minigrad.kernels.adam.adam_update_reference` with one more line, the running maximum."""
    xp = get_array_module(p)
    if weight_decay and decoupled:
        p *= 1 - lr * weight_decay                  # AdamW: shrink the weights directly
    elif weight_decay:
        g = g + weight_decay * p                    # Adam: L2 penalty folded into the gradient
    m *= beta1
    m += (1 - beta1) * g                            # m_t = b1 m_{t-1} + (1 - b1) g_t
    v *= beta2
    v += (1 - beta2) * (g * g)                      # v_t = b2 v_{t-1} + (1 - b2) g_t^2
    xp.maximum(v_max, v, out=v_max)                 # v_max_t = max(v_max_{t-1}, v_t), element by element
    bias1, bias2 = 1 - beta1 ** step, 1 - beta2 ** step
    denom = xp.sqrt(v_max) / (bias2 ** 0.5) + eps   # sqrt(v_max_t / (1 - b2^t)) + eps
    p -= (lr / bias1) * (m / denom)                 # p_t = p_{t-1} - lr m_hat_t / denom


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), Algorithm 1, with PyTorch's L2 weight decay.

    For each parameter theta with gradient g_t at step t = 1, 2, ...:

        g_t <- g_t + weight_decay * theta_{t-1}              (L2 penalty, as torch.optim.Adam)
        m_t = beta1 m_{t-1} + (1 - beta1) g_t                (first moment: running mean of gradients)
        v_t = beta2 v_{t-1} + (1 - beta2) g_t^2              (second moment: running mean of squares)
        m_hat_t = m_t / (1 - beta1^t)                        (bias correction: m_0 = v_0 = 0 bias the
        v_hat_t = v_t / (1 - beta2^t)                         early averages toward zero)
        theta_t = theta_{t-1} - lr m_hat_t / (sqrt(v_hat_t) + eps)

    With ``amsgrad=True`` (Reddi, Kale & Kumar, 2018, in PyTorch's form) the denominator uses the largest
    second moment seen so far, so that the step size of a parameter never grows back:

        v_max_t = max(v_max_{t-1}, v_t)                      (element by element; v_max_0 = 0; state
                                                              "max_exp_avg_sq")
        theta_t = theta_{t-1} - lr m_hat_t / (sqrt(v_max_t / (1 - beta2^t)) + eps)

    Pinto & Silva use beta1 = 0.9, beta2 = 0.999, eps = 1e-8 (the defaults). The update runs as one fused
    loop, numba's on the CPU and a numba.cuda kernel on a GPU (``minigrad.kernels.adam``); its array-code
    reference is the lines above, which run instead for parameters that are not C-contiguous. AMSGrad
    runs as array code (:func:`amsgrad_update`), on any device.

    amsgrad is a hyper-parameter of each group, as in PyTorch, fixed once a parameter of the group has
    state (a step refuses a group whose amsgrad was changed after that: its state would not fit). PyTorch's
    keyword-only ``foreach``, ``maximize``, ``capturable``, ``differentiable``, ``fused`` and
    ``decoupled_weight_decay`` are accepted at their "off" values and refused otherwise (see
    :func:`~minigrad.optim.optimizer.refuse_unsupported`; AdamW is Adam with decoupled weight decay).
    """

    decoupled = False
    state_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        refuse_unsupported(type(self).__name__, foreach=foreach, maximize=maximize, capturable=capturable,
                           differentiable=differentiable, fused=fused,
                           decoupled_weight_decay=decoupled_weight_decay)
        self._init_adam(params, lr, betas, eps, weight_decay, amsgrad)

    def _init_adam(self, params, lr, betas, eps, weight_decay, amsgrad):
        check_hyper_parameters(dict(betas=betas, amsgrad=amsgrad))    # betas a pair, before tuple() takes it apart
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=bool(amsgrad)))

    def state_keys_of(self, group):
        """step, exp_avg, exp_avg_sq; and max_exp_avg_sq where the group has amsgrad (PyTorch's names)."""
        return self.state_keys + ("max_exp_avg_sq",) if group["amsgrad"] else self.state_keys

    def _loaded_hyper_parameters(self, i, saved):
        # A state dict saved before minigrad had amsgrad has none: it ran without (PyTorch's Adam fills in
        # amsgrad=False the same way, in __setstate__).
        return super()._loaded_hyper_parameters(i, {"amsgrad": False, **saved})

    def check_step(self):
        """The checks of :meth:`Optimizer.check_step`, and each parameter's state entries those its group's
        amsgrad asks for (SettingsError if amsgrad was changed by hand after the group's first step)."""
        super().check_step()
        owner = type(self).__name__
        for g, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                state = self.state.get(p)
                if state is not None and ("max_exp_avg_sq" in state) != bool(group["amsgrad"]):
                    raise SettingsError(
                        f"{owner}.step: amsgrad of group {g} is {bool(group['amsgrad'])}, but parameter {i} has "
                        f"state from steps with amsgrad={not group['amsgrad']}; amsgrad cannot change once a "
                        "parameter has state (make a new optimizer, or load a state dict)")

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
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = xp.zeros_like(array)
                state["step"] += 1
                hyper = (group["lr"], beta1, beta2, group["eps"], state["step"], group["weight_decay"],
                         self.decoupled)
                if group["amsgrad"]:
                    amsgrad_update(array, p.grad, state["exp_avg"], state["exp_avg_sq"], state["max_exp_avg_sq"],
                                   *hyper)
                else:
                    adam_update(array, p.grad, state["exp_avg"], state["exp_avg_sq"], *hyper)
                p._bump_version()


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``:

        theta <- theta (1 - lr * weight_decay)     before the Adam step, instead of adding an L2 term to g

    so the decay is not rescaled by the adaptive denominator. Default weight_decay = 0.01 as PyTorch;
    ``amsgrad`` and the refused keyword-only arguments as :class:`Adam` (PyTorch's AdamW has no
    ``decoupled_weight_decay``: its decay is always decoupled).
    """

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        refuse_unsupported("AdamW", maximize=maximize, foreach=foreach, capturable=capturable,
                           differentiable=differentiable, fused=fused)
        self._init_adam(params, lr, betas, eps, weight_decay, amsgrad)
