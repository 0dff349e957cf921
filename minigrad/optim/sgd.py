"""Stochastic gradient descent with momentum and weight decay, as ``torch.optim.SGD``."""

from ..autograd import no_grad
from .optimizer import Optimizer, refuse_unsupported


class SGD(Optimizer):
    """For each parameter p with gradient g (PyTorch's formulation):

        g <- g + weight_decay * p                               (L2 penalty)
        b <- g at the first step, then momentum * b + (1 - dampening) * g
        g <- g + momentum * b if nesterov else b                (when momentum > 0)
        p <- p - lr * g

    PyTorch's keyword-only ``maximize``, ``foreach``, ``differentiable`` and ``fused`` are accepted at
    their "off" values and refused otherwise (see :func:`~minigrad.optim.optimizer.refuse_unsupported`).
    """

    state_keys = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        refuse_unsupported("SGD", maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    @no_grad()
    def step(self):
        """One SGD update of every parameter that has a gradient (all gradients and state checked first)."""
        self.check_step()
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + wd * p._data if wd else p.grad
                if mu:
                    state = self.state.setdefault(p, {})
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = g.copy()
                    else:
                        buf = state["momentum_buffer"]
                        buf *= mu
                        buf += (1 - group["dampening"]) * g
                    buf = state["momentum_buffer"]
                    g = g + mu * buf if group["nesterov"] else buf
                p._data -= lr * g
                p._bump_version()
