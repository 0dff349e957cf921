"""Optimizer: the base class holding parameter groups and per-parameter state, as ``torch.optim``."""

import numpy as np

from ..backend import to_numpy
from ..tensor import as_array


class Optimizer:
    """Holds ``param_groups`` (lists of parameters with their own hyper-parameters, e.g. ``lr``, which
    learning-rate schedules change) and ``state`` (per-parameter buffers such as Adam's moments)."""

    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = defaults
        self.param_groups = []
        for group in groups:
            group = {**defaults, **group, "params": list(group["params"])}
            for p in group["params"]:
                if not p.requires_grad:
                    raise ValueError(f"{type(self).__name__} was given a tensor of shape {tuple(p.shape)} "
                                     "that does not require grad")
            self.param_groups.append(group)
        self.state = {}  # parameter -> dict of arrays and counters

    def zero_grad(self):
        """Set every parameter's ``.grad`` to None (gradients accumulate otherwise; see ``minigrad.autograd``)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self):
        raise NotImplementedError

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self):
        """Hyper-parameters and per-parameter state (NumPy copies), parameters referred to by position."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[id(p)]: {k: (to_numpy(v).copy() if hasattr(v, "shape") else v) for k, v in s.items()}
                 for p, s in self.state.items()}
        groups = [{**{k: v for k, v in g.items() if k != "params"},
                   "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        params = self._params()
        groups = state_dict["param_groups"]
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError("optimizer state_dict has parameter groups of sizes "
                             f"{[len(g['params']) for g in groups]}, this optimizer has "
                             f"{[len(g['params']) for g in self.param_groups]}")
        for mine, saved in zip(self.param_groups, groups):
            mine.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            self.state[p] = {k: (as_array(np.array(v, dtype=p.dtype), device=p.device)
                                 if hasattr(v, "shape") and np.ndim(v) else v) for k, v in s.items()}
