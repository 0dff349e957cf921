"""PyTorch twins of minigrad's registered models: the same layers under the same parameter names.

``torch_twin(name, state_dict)`` builds the PyTorch model and loads minigrad's weights into it (strictly:
every name and shape must match), so both engines start from identical parameters. Used by
``compare_torch.py`` and by the parity tests; PyTorch is imported only here, never by minigrad.
"""

import numpy as np
import torch
from torch import nn


class MLNN(nn.Module):
    """Pinto & Silva's Algorithm 2, as ``models.pinto_silva.MLNN``."""

    def __init__(self, num_classes=8, hidden=1180):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(2352, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.net(x)


TWINS = {"mlnn": MLNN}


def torch_twin(name, state_dict, dtype=torch.float32, **kwargs):
    """The PyTorch model ``name`` holding the arrays of minigrad's ``state_dict``."""
    if name not in TWINS:
        raise KeyError(f"no PyTorch twin for model {name!r}; twins exist for {sorted(TWINS)}")
    model = TWINS[name](**kwargs).to(dtype)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state_dict.items()})
    return model
