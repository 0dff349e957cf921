"""*Medical Blood Cell Image Classification using U-Net Encoder Based Deep Learning Model*: the U-Net encoder
classifier, the two baselines of its Table 2, and its three ablations (Tables 4-6) as switches.

The main model (section 3.1, Figure 1), on BloodMNIST's 3x28x28 images:

    DoubleConv(3 -> 32)    + MaxPool 2      28 -> 14        DoubleConv = 2 x [Conv3x3 -> BatchNorm -> ReLU]
    DoubleConv(32 -> 64)   + MaxPool 2      14 -> 7         BatchNorm: eq. (1)
    DoubleConv(64 -> 128)  + MaxPool 2       7 -> 3
    DoubleConv(128 -> 256) + MaxPool 2       3 -> 1
    DoubleConv(256 -> 512)                   bottleneck
    global average pooling                  eq. (2): a 512-vector
    Dropout 0.5, Linear 512 -> 8            eq. (3): y = W g + b

The paper's images are 256x256, so its stages see 256 ... 16 pixels (its Table 1); at 28x28 the fourth
pooling leaves 1x1 and the bottleneck's 3x3 convolutions see mostly padding. We keep the architecture as
written. Convolutions followed by batch norm have no bias (the norm's beta replaces it, as in the
reference U-Net implementations); without batch norm (the ablation) they have one.

Ablations (``batch_norm``, ``depth``, ``dropout``): without batch norm (Table 4), a shallow encoder without
stage 4 and the bottleneck, ending at 128 channels (Table 5), without dropout (Table 6).

Baselines (Table 2): "Simple CNN", 2 convolution blocks up to 64 channels, 2 poolings, 1 FC layer; "Deep
CNN", 4 blocks up to 256 channels, 4 poolings, 2 FC layers with dropout; both with batch norm. Each block is
Conv3x3 -> BatchNorm -> ReLU -> MaxPool 2 (the paper gives only the counts in its Table 2; the rest are our
choices: 32, 64 (, 128, 256) channels, a 128-unit hidden FC layer and dropout 0.5 in the Deep CNN).

Training (section 3.2), the recipe registered below: Adam lr 1e-3 with weight decay 1e-4, cross-entropy
with label smoothing 0.1, ReduceLROnPlateau halving the lr when the validation loss stops improving,
the best checkpoint by validation accuracy restored at the end, augmentation of the training batches,
batch 32; 60 epochs for the main model and its ablations, 40 for the baselines.
"""

from minigrad import nn

from .registry import register_model

PAPER = "Medical Blood Cell Image Classification using U-Net Encoder Based Deep Learning Model"
RECIPE = {"optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-4, "label_smoothing": 0.1, "batch_size": 32,
          "epochs": 60, "reduce_lr_on_plateau": {"factor": 0.5, "patience": 3},
          "best_checkpoint": "val_accuracy", "augment": True, "normalize": True}
BASELINE_RECIPE = dict(RECIPE, epochs=40)


def conv_bn_relu(in_channels, out_channels, batch_norm=True):
    """Conv3x3 (padding 1) -> BatchNorm -> ReLU; without batch norm the convolution keeps its bias."""
    layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    return layers + [nn.ReLU()]


class DoubleConv(nn.Sequential):
    """2 x [Conv3x3 -> BatchNorm -> ReLU], the block that starts each U-Net encoder stage."""

    def __init__(self, in_channels, out_channels, batch_norm=True):
        super().__init__(*conv_bn_relu(in_channels, out_channels, batch_norm),
                         *conv_bn_relu(out_channels, out_channels, batch_norm))


class UNetEncoderClassifier(nn.Module):
    """The U-Net encoder (``depth`` stages of DoubleConv + MaxPool, then a bottleneck DoubleConv when
    depth is 4), global average pooling, dropout and one linear layer."""

    def __init__(self, num_classes=8, in_channels=3, batch_norm=True, depth=4, dropout=0.5):
        super().__init__()
        if depth not in (3, 4):
            raise ValueError(f"depth must be 4 (the paper's encoder) or 3 (the shallow ablation), got {depth}")
        stages, width = [], in_channels
        for channels in (32, 64, 128, 256)[:depth]:
            stages += [DoubleConv(width, channels, batch_norm), nn.MaxPool2d(2)]
            width = channels
        if depth == 4:
            stages.append(DoubleConv(width, 512, batch_norm))   # the bottleneck
            width = 512
        self.encoder = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)                      # eq. (2)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(width, num_classes))

    def forward(self, x):
        return self.classifier(self.pool(self.encoder(x)))


class BaselineCNN(nn.Module):
    """``blocks`` x [Conv3x3 -> BatchNorm -> ReLU -> MaxPool 2] (32, 64, 128, 256 channels), then one FC layer,
    or two with dropout between (``hidden``)."""

    def __init__(self, num_classes=8, in_channels=3, blocks=2, hidden=None, dropout=0.5, image_size=28):
        super().__init__()
        layers, width, side = [], in_channels, image_size
        for channels in (32, 64, 128, 256)[:blocks]:
            layers += conv_bn_relu(width, channels) + [nn.MaxPool2d(2)]
            width, side = channels, side // 2
        self.features = nn.Sequential(*layers)
        head = [nn.Flatten()]
        if hidden:
            head += [nn.Linear(width * side * side, hidden), nn.ReLU(), nn.Dropout(dropout),
                     nn.Linear(hidden, num_classes)]
        else:
            head.append(nn.Linear(width * side * side, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        return self.classifier(self.features(x))


@register_model("unet_encoder", PAPER, recipe=RECIPE)
def unet_encoder(num_classes=8, **kwargs):
    """The U-Net encoder classifier: DoubleConv 32-64-128-256 + bottleneck 512, GAP, dropout 0.5, FC."""
    return UNetEncoderClassifier(num_classes=num_classes, **kwargs)


@register_model("unet_no_bn", PAPER, recipe=RECIPE)
def unet_no_bn(num_classes=8, **kwargs):
    """Ablation (Table 4): the U-Net encoder classifier without batch normalisation."""
    return UNetEncoderClassifier(num_classes=num_classes, batch_norm=False, **kwargs)


@register_model("unet_shallow", PAPER, recipe=RECIPE)
def unet_shallow(num_classes=8, **kwargs):
    """Ablation (Table 5): the encoder without stage 4 and the bottleneck (ends at 128 channels)."""
    return UNetEncoderClassifier(num_classes=num_classes, depth=3, **kwargs)


@register_model("unet_no_dropout", PAPER, recipe=RECIPE)
def unet_no_dropout(num_classes=8, **kwargs):
    """Ablation (Table 6): the U-Net encoder classifier with dropout 0."""
    return UNetEncoderClassifier(num_classes=num_classes, dropout=0.0, **kwargs)


@register_model("simple_cnn", PAPER, recipe=BASELINE_RECIPE)
def simple_cnn(num_classes=8, **kwargs):
    """Baseline 1 (Table 2): 2 conv blocks (32, 64 channels), batch norm, 1 FC layer."""
    return BaselineCNN(num_classes=num_classes, blocks=2, **kwargs)


@register_model("deep_cnn", PAPER, recipe=BASELINE_RECIPE)
def deep_cnn(num_classes=8, **kwargs):
    """Baseline 2 (Table 2): 4 conv blocks (32 to 256 channels), batch norm, 2 FC layers with dropout."""
    return BaselineCNN(num_classes=num_classes, blocks=4, hidden=128, **kwargs)
