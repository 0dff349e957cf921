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


class CNN(nn.Module):
    """Pinto & Silva's Algorithm 1, as ``models.pinto_silva.CNN``."""

    def __init__(self, num_classes=8):
        super().__init__()
        blocks, width = [], 3
        for channels in (32, 64, 128):
            blocks += [nn.Conv2d(width, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            width = channels
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(1152, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                                        nn.Linear(128, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class GounderCNN(nn.Module):
    """Gounder's two-block CNN, as ``models.gounder.GounderCNN``."""

    def __init__(self, num_classes=8):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class DCLNN(nn.Module):
    """The DCLNN, as ``models.dclnn.DCLNN``."""

    def __init__(self, num_classes=4, pooling="max"):
        super().__init__()
        pool = nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2)
        self.features = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), pool,
                                      nn.Dropout(0.25))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


TWINS = {"mlnn": MLNN, "cnn": CNN, "gounder_cnn": GounderCNN, "dclnn": DCLNN,
         "dclnn_avg": lambda num_classes=4: DCLNN(num_classes, pooling="avg")}


def torch_twin(name, state_dict, dtype=torch.float32, **kwargs):
    """The PyTorch model ``name`` holding the arrays of minigrad's ``state_dict``."""
    if name not in TWINS:
        raise KeyError(f"no PyTorch twin for model {name!r}; twins exist for {sorted(TWINS)}")
    model = TWINS[name](**kwargs).to(dtype)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state_dict.items()})
    return model
