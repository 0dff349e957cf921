"""Jane, Sudha & Soundarraaj, "Deep learning approach to identify abnormalities in blood cell images"
(Int. J. Health Sciences 6(S5), 2022): the CNN-LSTM and CNN-GRU hybrids, on the four white-cell classes.

What the paper says (its sections 3.2 and 4), and what we build from it:

- "The model of blood classification is separated into two branches": a CNN branch ("convolutional and
  pooling layers, with the rectified linear unit (Relu) serving as the activation function"; "the inputs for
  each mini-batch are standardised using batch normalisation") and an RNN branch; "a merge layer is used to
  combine the features obtained from CNN with the features collected from RNN", and "a Softmax layer is
  applied to the merged features". We merge by concatenation.
- The RNN branch reads the CNN's feature map as a sequence, after Liang et al. (its ref. [3]): the 7x7 map
  of a shared convolutional stem is read row by row, 7 steps of 64 * 7 = 448 features. CNN-LSTM: an LSTM
  with 128 units; CNN-GRU: "a bi-directional RNN with (GRU) with a state size of 256". The final hidden
  state (of both directions for the GRU) is the branch's feature vector.
- The CNN branch goes on from the same stem with one more Conv + BatchNorm + ReLU block and global average
  pooling (128 features).
- "The network had a 0.3 dropout rate and a 0.01 learning rate", Adam, sparse categorical cross-entropy,
  batch 32, "L2 regularisation": dropout 0.3 on the merged features, and L2 as Adam's weight decay 1e-4.
- The paper's CNN branch starts from ImageNet weights. Nothing can be downloaded here, and ImageNet models
  do not take 28x28 images, so both branches train from scratch, and the report says so.

Layout, for a (B, 3, 28, 28) batch:

    stem    [Conv3x3(3->32) + BN + ReLU + MaxPool2] [Conv3x3(32->64) + BN + ReLU + MaxPool2]   (B, 64, 7, 7)
    CNN     Conv3x3(64->128) + BN + ReLU, global average pooling                              (B, 128)
    RNN     rows as a sequence (B, 7, 448) -> LSTM(128) or bidirectional GRU(256)             (B, 128) / (B, 512)
    head    concatenate, Dropout(0.3), Linear(-> classes)
"""

from minigrad import functional as F
from minigrad import nn

from .registry import register_model
from .unet import conv_bn_relu

PAPER = "Jane, Sudha & Soundarraaj, Deep learning approach to identify abnormalities in blood cell images (2022)"
RECIPE = {"optimizer": "adam", "lr": 0.01, "weight_decay": 1e-4, "epochs": 15, "batch_size": 32}


class CNNRNN(nn.Module):
    """A convolutional stem feeding two branches, a CNN and an RNN over the stem's rows, merged for a softmax."""

    def __init__(self, num_classes=4, rnn="lstm", hidden=None, in_channels=3, image_size=28, dropout=0.3):
        super().__init__()
        if rnn not in ("lstm", "gru"):
            raise ValueError(f"rnn must be 'lstm' or 'gru', got {rnn!r}")
        self.stem = nn.Sequential(*conv_bn_relu(in_channels, 32), nn.MaxPool2d(2),
                                  *conv_bn_relu(32, 64), nn.MaxPool2d(2))
        side = image_size // 4                                              # 28 -> 7
        self.cnn = nn.Sequential(*conv_bn_relu(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        if rnn == "lstm":
            hidden = hidden or 128
            self.rnn = nn.LSTM(64 * side, hidden, batch_first=True)
            rnn_features = hidden
        else:
            hidden = hidden or 256
            self.rnn = nn.GRU(64 * side, hidden, batch_first=True, bidirectional=True)
            rnn_features = 2 * hidden
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(128 + rnn_features, num_classes))

    def forward(self, x):
        features = self.stem(x)                                             # (B, 64, 7, 7)
        b, c, h, w = features.shape
        rows = features.permute(0, 2, 1, 3).reshape(b, h, c * w)            # row r: every channel's row r
        output = self.rnn(rows)
        h_n = output[1][0] if isinstance(self.rnn, nn.LSTM) else output[1]  # (directions, B, hidden)
        rnn_features = F.cat([h_n[d] for d in range(h_n.shape[0])], dim=1)
        return self.head(F.cat([self.cnn(features), rnn_features], dim=1))


@register_model("cnn_lstm", PAPER, recipe=RECIPE)
def cnn_lstm(num_classes=4, **kwargs):
    """CNN-LSTM: a conv stem, a CNN branch and an LSTM(128) over the feature map's rows, concatenated."""
    return CNNRNN(num_classes=num_classes, rnn="lstm", **kwargs)


@register_model("cnn_gru", PAPER, recipe=RECIPE)
def cnn_gru(num_classes=4, **kwargs):
    """CNN-GRU: a conv stem, a CNN branch and a bidirectional GRU(256) over the feature map's rows."""
    return CNNRNN(num_classes=num_classes, rnn="gru", **kwargs)
