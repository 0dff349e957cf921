"""Gounder, "CNN Classification of Blood Cell Types" (DS 224 final project report, 2025).

The report's Keras model on BloodMNIST 28x28x3, 8 classes: "two convolutional layers with ReLU activation
functions followed by max pooling layers ..., a flattening layer ..., dense layers ..., a softmax output";
Adam, categorical cross-entropy, 15 epochs with early stopping on the validation loss and
``restore_best_weights=True``. The report gives no filter counts, kernel sizes or dense widths. We fill
them with the Keras defaults and the usual choices for such a model, and say so:

    Conv2D(32, 3x3, 'valid') + ReLU + MaxPool(2)     28 -> 26 -> 13
    Conv2D(64, 3x3, 'valid') + ReLU + MaxPool(2)     13 -> 11 -> 5
    Flatten 64*5*5 = 1600, Dense 128 + ReLU, Dense 8 (softmax in the loss)

Weights start as Keras starts them: Glorot-uniform kernels, zero biases. Training (the recipe below):
Keras' Adam defaults (lr 1e-3, betas 0.9/0.999, eps 1e-7), Keras' default batch size 32, 15 epochs,
early stopping on validation loss with patience 3 (the report stopped improving at epoch 13 of 15).
Batch normalisation was tried in the report and dropped; it is not here either.
"""

from minigrad import nn
from minigrad.nn import init

from .registry import register_model

PAPER = "Gounder, CNN Classification of Blood Cell Types (DS 224 report, 2025)"


def glorot_init(model):
    """Keras' defaults: Glorot (Xavier) uniform weights and zero biases in every Conv2d and Linear."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
    return model


class GounderCNN(nn.Module):
    """Two Conv3x3 + ReLU + MaxPool(2) blocks (32, 64 filters), dense hidden layers + ReLU, Dense classes.

    ``padding`` is Keras' 'valid' (no padding, the default) or 'same'; ``hidden`` the widths of the hidden
    dense layers.
    """

    def __init__(self, num_classes=8, in_channels=3, image_size=28, hidden=(256, 128), padding="valid"):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=padding), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=padding), nn.ReLU(), nn.MaxPool2d(2))
        shrink = 2 if padding == "valid" else 0
        side = ((image_size - shrink) // 2 - shrink) // 2  # 'valid': 28 -> 26 -> 13 -> 11 -> 5; 'same': 7
        layers, width = [nn.Flatten()], 64 * side * side
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        self.classifier = nn.Sequential(*layers, nn.Linear(width, num_classes))
        glorot_init(self)

    def forward(self, x):
        return self.classifier(self.features(x))


@register_model("gounder_cnn", PAPER, recipe={
    "optimizer": "adam", "lr": 1e-3, "eps": 1e-7, "epochs": 15, "batch_size": 32,
    "early_stopping": {"monitor": "val_loss", "patience": 3, "restore_best_weights": True}})
def gounder_cnn(num_classes=8, **kwargs):
    """Gounder's two-block Keras CNN: conv 32, conv 64, dense 256 and 128, Glorot-uniform init (463,176 parameters)."""
    return GounderCNN(num_classes=num_classes, **kwargs)
