"""PyTorch twins of minigrad's registered models: the same layers under the same parameter names.

``torch_twin(name, state_dict)`` builds the PyTorch model and loads minigrad's weights into it (strictly:
every name and shape must match), so both engines start from identical parameters. Used by
``compare_torch.py`` and by the parity tests; PyTorch is imported only here, never by minigrad.
"""

import numpy as np
import torch
from torch import nn


def full_float32_precision():
    """Turn off TF32, so PyTorch's float32 matrix products and convolutions round as minigrad's do.

    On Ampere and later GPUs PyTorch may compute float32 convolutions (and, by setting, matmuls) in TF32,
    with a 10-bit mantissa: its results would differ from minigrad's by ~1e-3, not by float32 rounding.
    Returns the settings made."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    return {"cuda.matmul.allow_tf32": False, "cudnn.allow_tf32": False, "float32_matmul_precision": "highest"}


def start_torch(threads, device):
    """PyTorch on ``threads`` CPU threads, for a side-by-side run on ``device`` ("cpu" or "cuda"), in full
    float32 precision (:func:`full_float32_precision`).

    For "cuda", exits saying why when minigrad cannot use the GPU (no CuPy, no device) or this PyTorch
    has no CUDA build, so neither engine runs alone."""
    torch.set_num_threads(threads)
    full_float32_precision()
    if device == "cuda":
        from minigrad.backend import module_for_device
        try:
            module_for_device("cuda")
        except RuntimeError as e:
            raise SystemExit(str(e)) from None
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda needs a CUDA build of PyTorch for the side-by-side run; this one has "
                             f"none ({torch.__version__})")
    return torch


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
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(1600, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                                        nn.Linear(128, num_classes))

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


def conv_bn_relu(in_channels, out_channels, batch_norm=True):
    layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=not batch_norm)]
    return layers + ([nn.BatchNorm2d(out_channels)] if batch_norm else []) + [nn.ReLU()]


class DoubleConv(nn.Sequential):
    def __init__(self, in_channels, out_channels, batch_norm=True):
        super().__init__(*conv_bn_relu(in_channels, out_channels, batch_norm),
                         *conv_bn_relu(out_channels, out_channels, batch_norm))


class UNetEncoderClassifier(nn.Module):
    """The U-Net encoder classifier and its ablations, as ``models.unet.UNetEncoderClassifier``."""

    def __init__(self, num_classes=8, batch_norm=True, depth=4, dropout=0.5):
        super().__init__()
        stages, width = [], 3
        for channels in (32, 64, 128, 256)[:depth]:
            stages += [DoubleConv(width, channels, batch_norm), nn.MaxPool2d(2)]
            width = channels
        if depth == 4:
            stages.append(DoubleConv(width, 512, batch_norm))
            width = 512
        self.encoder = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(width, num_classes))

    def forward(self, x):
        return self.classifier(self.pool(self.encoder(x)))


class BaselineCNN(nn.Module):
    """The U-Net paper's baselines, as ``models.unet.BaselineCNN``."""

    def __init__(self, num_classes=8, blocks=2, hidden=None):
        super().__init__()
        layers, width, side = [], 3, 28
        for channels in (32, 64, 128, 256)[:blocks]:
            layers += conv_bn_relu(width, channels) + [nn.MaxPool2d(2)]
            width, side = channels, side // 2
        self.features = nn.Sequential(*layers)
        head = [nn.Flatten()]
        if hidden:
            head += [nn.Linear(width * side * side, hidden), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden, num_classes)]
        else:
            head.append(nn.Linear(width * side * side, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        return self.classifier(self.features(x))


class CNNRNN(nn.Module):
    """Jane et al.'s CNN-LSTM / CNN-GRU, as ``models.jane.CNNRNN``."""

    def __init__(self, num_classes=4, rnn="lstm"):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn_relu(3, 32), nn.MaxPool2d(2), *conv_bn_relu(32, 64), nn.MaxPool2d(2))
        self.cnn = nn.Sequential(*conv_bn_relu(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        if rnn == "lstm":
            self.rnn, features = nn.LSTM(448, 128, batch_first=True), 128
        else:
            self.rnn, features = nn.GRU(448, 256, batch_first=True, bidirectional=True), 512
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128 + features, num_classes))

    def forward(self, x):
        features = self.stem(x)
        b, c, h, w = features.shape
        rows = features.permute(0, 2, 1, 3).reshape(b, h, c * w)
        h_n = self.rnn(rows)[1]
        h_n = h_n[0] if isinstance(self.rnn, nn.LSTM) else h_n
        return self.head(torch.cat([self.cnn(features)] + [h_n[d] for d in range(h_n.shape[0])], dim=1))


TWINS = {"mlnn": MLNN, "cnn": CNN, "gounder_cnn": GounderCNN, "dclnn": DCLNN,
         "dclnn_avg": lambda num_classes=4: DCLNN(num_classes, pooling="avg"),
         "unet_encoder": UNetEncoderClassifier,
         "unet_no_bn": lambda num_classes=8: UNetEncoderClassifier(num_classes, batch_norm=False),
         "unet_shallow": lambda num_classes=8: UNetEncoderClassifier(num_classes, depth=3),
         "unet_no_dropout": lambda num_classes=8: UNetEncoderClassifier(num_classes, dropout=0.0),
         "simple_cnn": lambda num_classes=8: BaselineCNN(num_classes, blocks=2),
         "deep_cnn": lambda num_classes=8: BaselineCNN(num_classes, blocks=4, hidden=128),
         "cnn_lstm": lambda num_classes=4: CNNRNN(num_classes, rnn="lstm"),
         "cnn_gru": lambda num_classes=4: CNNRNN(num_classes, rnn="gru")}


def torch_twin(name, state_dict, dtype=torch.float32, **kwargs):
    """The PyTorch model ``name`` holding the arrays of minigrad's ``state_dict``."""
    if name not in TWINS:
        raise KeyError(f"no PyTorch twin for model {name!r}; twins exist for {sorted(TWINS)}")
    model = TWINS[name](**kwargs).to(dtype)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state_dict.items()})
    return model
