"""Data augmentation and normalisation for image batches, in NumPy.

Augmentations change each training image a little and at random, so the network sees a new variant of
every image each epoch and cannot memorise pixels. Each transform below takes a batch x (N, C, H, W) and
a NumPy Generator and returns a new batch, drawing its own parameters for every image:

    RandomFlip          mirror left-right (and, with vertical=True, also up-down) with probability 1/2
    RandomRotation90    rotate by 0, 90, 180 or 270 degrees (square images; cells have no "up")
    RandomShift         move the image by up to ``max_shift`` pixels in each direction
    RandomRotation      rotate by a small angle in [-degrees, degrees] (bilinear interpolation)

Pixels that a shift or rotation brings in from outside the image repeat the nearest edge pixel, so no
black corners appear. ``Augment([...], seed)`` chains transforms with one seeded generator; its
``state_dict`` goes into training checkpoints, so a resumed run draws the same variants it would have.
Augmentation is for training batches only; validation and test images are left as they are.

Normalisation (``channel_stats`` and ``normalize``) rescales each colour channel to mean 0 and standard
deviation 1, with statistics of the training images. It is applied to every split alike.
"""

import numpy as np


class RandomFlip:
    """Mirror each image left-right with probability 1/2 (and up-down too when ``vertical``)."""

    def __init__(self, vertical=True):
        self.vertical = vertical

    def __call__(self, x, rng):
        x = x.copy()
        flip = rng.random(len(x)) < 0.5
        x[flip] = x[flip, :, :, ::-1]
        if self.vertical:
            flip = rng.random(len(x)) < 0.5
            x[flip] = x[flip, :, ::-1, :]
        return x


class RandomRotation90:
    """Rotate each image by k * 90 degrees, k drawn uniformly from 0..3 (images must be square)."""

    def __call__(self, x, rng):
        if x.shape[2] != x.shape[3]:
            raise ValueError(f"RandomRotation90 needs square images, got shape {x.shape}")
        k = rng.integers(0, 4, len(x))
        x = x.copy()
        for turns in (1, 2, 3):
            chosen = k == turns
            x[chosen] = np.rot90(x[chosen], turns, axes=(2, 3))
        return x


def sample_bilinear(x, rows, cols):
    """x (N, C, H, W) read at real-valued positions rows, cols (N, H, W), bilinearly, edges repeated."""
    n, c, h, w = x.shape
    rows, cols = np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)
    r0, c0 = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    fr, fc = (rows - r0)[:, None], (cols - c0)[:, None]          # (N, 1, H, W): broadcast over channels
    image = np.arange(n)[:, None, None]

    def at(r, col):
        return x[image, :, r, col].transpose(0, 3, 1, 2)           # (N, C, H, W)
    top = at(r0, c0) * (1 - fc) + at(r0, c1) * fc
    bottom = at(r1, c0) * (1 - fc) + at(r1, c1) * fc
    return (top * (1 - fr) + bottom * fr).astype(x.dtype)


class RandomShift:
    """Translate each image by whole pixels, up to ``max_shift`` in each direction."""

    def __init__(self, max_shift=2):
        self.max_shift = max_shift

    def __call__(self, x, rng):
        n, _, h, w = x.shape
        dy, dx = (rng.integers(-self.max_shift, self.max_shift + 1, n) for _ in range(2))
        rows = np.arange(h)[None, :, None] - dy[:, None, None] + np.zeros((1, 1, w))
        cols = np.arange(w)[None, None, :] - dx[:, None, None] + np.zeros((1, h, 1))
        return sample_bilinear(x, rows, cols)                      # integer positions: an exact copy


class RandomRotation:
    """Rotate each image about its centre by an angle drawn uniformly from [-degrees, degrees]."""

    def __init__(self, degrees=15.0):
        self.degrees = degrees

    def __call__(self, x, rng):
        n, _, h, w = x.shape
        angle = np.deg2rad(rng.uniform(-self.degrees, self.degrees, n))[:, None, None]
        cy, cx = (h - 1) / 2, (w - 1) / 2
        y, xx = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
        # Output pixel (y, x) takes the input at the point rotated back by the angle.
        rows = cy + np.cos(angle) * y - np.sin(angle) * xx
        cols = cx + np.sin(angle) * y + np.cos(angle) * xx
        return sample_bilinear(x, rows, cols)


class Augment:
    """Apply ``transforms`` in order to each batch, with one generator seeded by ``seed``.

    >>> augment = Augment([RandomFlip(), RandomRotation90(), RandomShift(2), RandomRotation(15)], seed=0)
    >>> x_augmented = augment(x)          # x: a float (N, C, H, W) NumPy batch
    """

    def __init__(self, transforms, seed=None):
        self.transforms = list(transforms)
        self.rng = np.random.default_rng(seed)

    def __call__(self, x):
        x = np.asarray(x)
        if x.ndim != 4 or x.dtype.kind != "f":
            raise ValueError(f"augmentation expects a float batch of shape (N, C, H, W), got {x.dtype} {x.shape}")
        for transform in self.transforms:
            x = transform(x, self.rng)
        return x

    def state_dict(self):
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        self.rng.bit_generator.state = state["rng"]

    def __repr__(self):
        return f"Augment({', '.join(type(t).__name__ for t in self.transforms)})"


def default_augmentation(seed=None):
    """Flips, 90-degree turns, shifts of up to 2 pixels and rotations of up to 15 degrees."""
    return Augment([RandomFlip(), RandomRotation90(), RandomShift(2), RandomRotation(15)], seed)


def channel_stats(images):
    """Per-channel mean and standard deviation of (N, C, H, W) images, in float64."""
    images = np.asarray(images, dtype=np.float64)
    return images.mean(axis=(0, 2, 3)), images.std(axis=(0, 2, 3))


def normalize(images, mean, std):
    """(x - mean_c) / std_c for each channel c, in the images' dtype."""
    mean, std = np.asarray(mean), np.asarray(std)
    if mean.shape != (images.shape[1],) or std.shape != (images.shape[1],) or not np.all(std > 0):
        raise ValueError(f"normalize needs a positive mean/std pair of {images.shape[1]} values for images of "
                         f"shape {images.shape}, got {mean.shape} and {std.shape}")
    scale = (1 / std).astype(images.dtype)[:, None, None]
    return (images - mean.astype(images.dtype)[:, None, None]) * scale

