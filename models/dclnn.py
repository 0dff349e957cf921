"""The double convolution layer neural network (DCLNN) of "Blood cell classification with a double
convolution layer neural network" (section 4.2 and Figure 3 of the paper):

    Conv2d(C -> 32, 3x3, stride 1) + ReLU           Glorot-uniform weights
    Conv2d(32 -> 64, 3x3, stride 1) + ReLU          Glorot-uniform weights
    MaxPool 2x2 (or AvgPool 2x2: the paper's Table 2 compares the two)
    Dropout 0.25
    Flatten, Linear(., hidden) + ReLU               "one hidden layer"
    Linear(hidden, num_classes)                     softmax in the cross-entropy loss

The paper's input is 60x80; BloodMNIST's is 28x28: 28 -> 26 -> 24 -> 12, so 64*12*12 = 9216 features. Its
hidden layer size is left blank in the paper ("Number of nodes:"); we use 128, the size of the Keras MNIST
example this architecture follows. Convolutions have no padding (Keras' 'valid' default) and zero biases.
"""

from minigrad import nn

from .gounder import glorot_init
from .registry import register_model

PAPER = "Blood cell classification with a double convolution layer neural network (DCLNN)"
# The paper trains for about 25 epochs (its Figure 7) and does not name an optimizer; Adam lr 1e-3 and
# batch 128 are our choices.
RECIPE = {"optimizer": "adam", "lr": 1e-3, "epochs": 25, "batch_size": 128}


class DCLNN(nn.Module):
    """Two 3x3 convolutions (32, 64 filters), one 2x2 pooling layer, dropout 0.25, one hidden FC layer."""

    def __init__(self, num_classes=4, pooling="max", in_channels=3, image_size=28, hidden=128):
        super().__init__()
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        self.pooling = pooling
        pool = nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3), nn.ReLU(),
            nn.Conv2d(32, 64, 3), nn.ReLU(),
            pool, nn.Dropout(0.25))
        side = (image_size - 4) // 2                      # 28 -> 26 -> 24 -> 12
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * side * side, hidden), nn.ReLU(),
                                        nn.Linear(hidden, num_classes))
        glorot_init(self)

    def forward(self, x):
        return self.classifier(self.features(x))


@register_model("dclnn", PAPER, recipe=RECIPE)
def dclnn(num_classes=4, **kwargs):
    """DCLNN with max pooling: conv 32, conv 64, maxpool 2x2, dropout 0.25, FC 128, any number of classes."""
    return DCLNN(num_classes=num_classes, pooling="max", **kwargs)


@register_model("dclnn_avg", PAPER, recipe=RECIPE)
def dclnn_avg(num_classes=4, **kwargs):
    """DCLNN with average pooling (the paper's Table 2 variant)."""
    return DCLNN(num_classes=num_classes, pooling="avg", **kwargs)
