"""Pinto & Silva, "Blood Cell Classification Using Deep Learning: MLNN and CNN Architectures".

The CNN (the paper's Algorithm 1) on BloodMNIST 3x28x28 images, 8 classes:

    Conv1  Conv2d(3 -> 32, 3x3, padding 1) + ReLU + MaxPool(2)      (B, 32, 14, 14)
    Conv2  Conv2d(32 -> 64, 3x3, padding 1) + ReLU + MaxPool(2)     (B, 64, 7, 7)
    Conv3  Conv2d(64 -> 128, 3x3, padding 1) + ReLU + MaxPool(2)    (B, 128, 3, 3)
    Flatten                                                          (B, 1152)
    FC1 1152 -> 256 + ReLU, FC2 256 -> 128 + ReLU, FC3 128 -> 8     logits

422,344 parameters (the paper: "approximately 400K"). Table 1: Adam lr 0.001, batch 128, 15 epochs, He
initialisation.

The MLNN (the paper's Algorithm 2, called DNN in its tables) on BloodMNIST 3x28x28 images, 8 classes:

    Flatten          (B, 3, 28, 28) -> (B, 2352)
    FC1 + ReLU       2352 -> 1180      hidden size from eq. (1): h = (n_input + n_classes) / 2
    Output           1180 -> 8         logits; the loss applies softmax (eq. (2))

Table 1: one hidden layer, He initialisation, Adam lr 0.01, batch 128, 10 epochs. The paper does not say
which variant of He initialisation nor how biases start: we use He-normal (``kaiming_normal_`` with
nonlinearity='relu', fan_in) for every weight and zero biases, the usual reading.
"""

from minigrad import nn
from minigrad.nn import init

from .registry import register_model

PAPER = "Pinto & Silva, Blood Cell Classification Using Deep Learning: MLNN and CNN Architectures"


def hidden_size(n_input, n_classes):
    """Eq. (1): h = (n_input + n_classes) / 2 = (2352 + 8) / 2 = 1180 for BloodMNIST."""
    return (n_input + n_classes) // 2


def he_init(model):
    """He (Kaiming) normal weights, zero biases, for every Linear and Conv2d layer."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                init.zeros_(module.bias)
    return model


class CNN(nn.Module):
    """Algorithm 1: three Conv3x3 + ReLU + MaxPool(2) blocks (32, 64, 128 channels), then FC 256, 128, classes."""

    def __init__(self, num_classes=8, in_channels=3, image_size=28):
        super().__init__()
        blocks, width = [], in_channels
        for channels in (32, 64, 128):
            blocks += [nn.Conv2d(width, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            width = channels
        self.features = nn.Sequential(*blocks)
        side = image_size // 2 // 2 // 2                  # 28 -> 14 -> 7 -> 3
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(128 * side * side, 256), nn.ReLU(),
            nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, num_classes))
        he_init(self)

    def forward(self, x):
        return self.classifier(self.features(x))


class MLNN(nn.Module):
    """Algorithm 2: Flatten, then ``hidden_layers`` x (Linear + ReLU), then a Linear output layer."""

    def __init__(self, in_shape=(3, 28, 28), num_classes=8, hidden_layers=1, hidden=None):
        super().__init__()
        n_input = 1
        for n in in_shape:
            n_input *= n
        hidden = hidden or hidden_size(n_input, num_classes)
        layers, width = [nn.Flatten()], n_input
        for _ in range(hidden_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)
        he_init(self)

    def forward(self, x):
        return self.net(x)


# Table 1 (CNN column); Adam with the default betas (0.9, 0.999) and eps 1e-8.
@register_model("cnn", PAPER, recipe={"optimizer": "adam", "lr": 0.001, "epochs": 15, "batch_size": 128})
def cnn(num_classes=8, **kwargs):
    """Pinto & Silva's CNN (Algorithm 1): three conv blocks 32-64-128, FC 256-128, He init (422,344 parameters)."""
    return CNN(num_classes=num_classes, **kwargs)


# Table 1 (MLNN column); Adam with the default betas (0.9, 0.999) and eps 1e-8.
@register_model("mlnn", PAPER, recipe={"optimizer": "adam", "lr": 0.01, "epochs": 10, "batch_size": 128})
def mlnn(num_classes=8, **kwargs):
    """Pinto & Silva's MLNN (Algorithm 2): 2352 -> 1180 -> 8, ReLU, He init (~2.79M parameters)."""
    return MLNN(num_classes=num_classes, **kwargs)
