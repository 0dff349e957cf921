"""A convolution layer's gradient, drawn: what dL/dW and dL/dx look like for one image and four kernels.

    python examples/teach_conv_gradient.py                      # writes results/teach/conv_gradient.png
    python examples/teach_conv_gradient.py --out /tmp/teach --size 20

The image is a synthetic blood cell (one channel, 28x28 like BloodMNIST's, drawn here: no dataset
needed), as stain density: 0 on the background (so it agrees with the convolution's zero padding, as a
normalised image would), more in the cell, most in its two-lobed nucleus. A Conv2d(1 -> 4, 3x3,
padding 1), in float64, has four hand-picked kernels: a vertical-edge and a horizontal-edge detector
(Sobel), a spot detector (a Laplacian) and a blur. The loss is L = 1/2 sum y^2 over the four feature
maps y = conv(x), so the gradient arriving at the layer is dL/dy = y (any loss would do: only dL/dy
changes).

What you will see, in the PNG (one row per kernel) and printed:

* dL/dW_k[i, j] = sum over output pixels p of dL/dy_k[p] * x[p + (i, j) - 1]: the input correlated with
  the upstream gradient, one number per kernel tap. A gradient step W <- W - lr dL/dW moves each kernel
  by the image patches weighted by how much their responses should change (DCLNN eq. (12)). With this
  loss each dL/dW_k looks like its own kernel: L grows fastest by making every kernel stronger;
* dL/db_k = sum over p of dL/dy_k[p] (DCLNN eq. (13));
* dL/dx[u, v] = sum over k, i, j of dL/dy_k[u - i + 1, v - j + 1] * W_k[i, j]: every kernel sends the
  upstream gradient back through its own (flipped) taps, a "full" convolution (what carries the
  gradient on to the layer before; the paper stops at the weights). It is large at the cell's edges,
  because that is where the responses depend on the pixels.

Each is computed three ways: by minigrad's autograd (``loss.backward()``, the im2col/col2im backward of
``minigrad.ops.conv.Conv2d``), by the sums above written as NumPy loops, and for a few elements by central
differences. Exits with status 1 if they disagree. Read alongside: ``docs/ops/convolution.md`` and
``minigrad/ops/conv.py``.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone without installing

import minigrad  # noqa: E402  (before NumPy: see minigrad/threads.py)
import numpy as np  # noqa: E402
from minigrad import nn  # noqa: E402
from minigrad.gradcheck import numeric_gradient  # noqa: E402
from models.console import run  # noqa: E402

TOLERANCE = 1e-6

KERNELS = {
    "vertical edges (Sobel x)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges (Sobel y)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "spots (Laplacian)": [[0, -1, 0], [-1, 4, -1], [0, -1, 0]],
    "blur (mean)": [[1 / 9] * 3] * 3,
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="results/teach", help="folder for conv_gradient.png (default results/teach)")
    p.add_argument("--size", type=int, default=28, help="image side in pixels (default 28, BloodMNIST's)")
    p.add_argument("--checks", type=int, default=4, help="elements of dL/dW and of dL/dx checked numerically")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def blood_cell(size, seed=0):
    """A (size, size) stain-density image in [0, 1]: 0 on the background, 0.35 in a round cell, 0.9 in its
    two-lobed nucleus, plus a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)             # coordinates in [0, 1]
    image = np.zeros((size, size))
    image[(xx - 0.5) ** 2 + (yy - 0.52) ** 2 < 0.33 ** 2] = 0.35                 # the cell
    for cx, cy in ((0.42, 0.45), (0.58, 0.58)):                                   # the nucleus' two lobes
        image[(xx - cx) ** 2 + (yy - cy) ** 2 < 0.14 ** 2] = 0.9
    return np.clip(image + 0.02 * rng.standard_normal(image.shape), 0, 1)


def by_formula(x, w, dy):
    """dL/dW, dL/db and dL/dx of y = conv(x, W) + b (3x3 kernels, padding 1, stride 1) as explicit sums.

    x (H, W), w (K, 3, 3), dy (K, H, W) = dL/dy. Zero padding makes x[p + (i, j) - 1] zero outside."""
    k, h, wd = dy.shape
    xp = np.pad(x, 1)                                           # x_pad[u + 1, v + 1] = x[u, v]
    dw = np.zeros_like(w)
    for i in range(3):
        for j in range(3):                                      # tap (i, j) sees x shifted by (i - 1, j - 1)
            dw[:, i, j] = (dy * xp[i:i + h, j:j + wd]).sum(axis=(1, 2))
    db = dy.sum(axis=(1, 2))
    dx_pad = np.zeros((h + 2, wd + 2))
    for i in range(3):
        for j in range(3):                                      # y[p] used x_pad[p + (i, j)] with weight w[i, j]
            dx_pad[i:i + h, j:j + wd] += np.einsum("k,kuv->uv", w[:, i, j], dy)
    return dw, db, dx_pad[1:-1, 1:-1]                           # the padding's gradient is dropped


def plot(path, image, w, y, dw, dx, names):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(w)
    fig, axes = plt.subplots(k + 1, 3, figsize=(9, 3 * (k + 1)))

    def show(ax, a, title, cmap="RdBu_r", numbers=False):
        limit = np.abs(a).max() or 1.0
        kwargs = {"cmap": "gray_r", "vmin": 0, "vmax": 1} if cmap == "gray" else \
            {"cmap": cmap, "vmin": -limit, "vmax": limit}            # white is zero, red > 0, blue < 0
        im = ax.imshow(a, **kwargs)
        if numbers:
            for (r, c), v in np.ndenumerate(a):
                v = 0.0 if abs(v) < 1e-9 * limit else v              # rounding noise shown as 0
                ax.text(c, r, f"{v:.3g}", ha="center", va="center", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)

    show(axes[0, 0], image, "input x: a synthetic blood cell", cmap="gray")
    show(axes[0, 1], dx, "dL/dx, sent back to the image")
    axes[0, 2].axis("off")
    axes[0, 2].text(0, 0.5, "y = conv(x, W), L = 1/2 sum y^2,\nso dL/dy = y\n\n"
                    "dL/dW_k[i, j] =\n  sum_p dL/dy_k[p] x[p+(i,j)-1]\n\n"
                    "dL/dx = sum_k of dL/dy_k\n    convolved with W_k flipped\n\n"
                    "red > 0, blue < 0, white = 0", fontsize=8.5, va="center", family="monospace")
    for r in range(k):
        show(axes[r + 1, 0], w[r], f"W_{r}: {names[r]}", numbers=True)
        show(axes[r + 1, 1], y[r], f"feature map y_{r} = dL/dy_{r}")
        show(axes[r + 1, 2], dw[r], f"dL/dW_{r}", numbers=True)
    fig.suptitle("Conv2d(1 -> 4, 3x3, padding 1): the gradients of one image", fontsize=12)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    if args.size < 3:
        raise SystemExit(f"--size must be at least 3, got {args.size}")
    image = blood_cell(args.size, args.seed)
    names = list(KERNELS)
    conv = nn.Conv2d(1, len(names), 3, padding=1, dtype="float64")
    conv.weight.data[:] = np.array(list(KERNELS.values()))[:, None]    # (K, 1, 3, 3)
    conv.bias.data[:] = 0.0
    x = minigrad.Tensor(image[None, None].copy(), requires_grad=True)   # (1, 1, H, W)

    def loss_of(x):
        y = conv(x)
        return 0.5 * (y * y).sum(), y

    loss, y = loss_of(x)
    loss.backward()
    w = conv.weight.data[:, 0]
    dy = y.data[0]                                             # dL/dy = y for L = 1/2 sum y^2
    dw_formula, db_formula, dx_formula = by_formula(image, w, dy)
    dw, db, dx = conv.weight.grad[:, 0], conv.bias.grad, x.grad[0, 0]

    print(f"Conv2d(1 -> {len(names)}, 3x3, padding 1) on a {args.size}x{args.size} synthetic blood cell, float64; "
          f"L = 1/2 sum y^2 = {loss.item():.6f}")
    diffs = {"dL/dW": np.abs(dw - dw_formula).max(), "dL/db": np.abs(db - db_formula).max(),
             "dL/dx": np.abs(dx - dx_formula).max()}
    print(f"dL/db = {np.array2string(db, precision=4)} (the sum of each feature map)")
    print("\nautograd against the sums written out (every element):")
    for name, d in diffs.items():
        print(f"  max |autograd - formula| of {name:<6} = {d:.2e}")

    rng = np.random.default_rng(args.seed)
    with minigrad.no_grad():
        value = lambda: loss_of(x)[0].item()                   # noqa: E731
        picks = [("W", conv.weight.data, (int(kk), 0, int(i), int(j)), dw_formula[kk, i, j])
                 for kk, i, j in zip(rng.integers(0, len(names), args.checks), rng.integers(0, 3, args.checks),
                                     rng.integers(0, 3, args.checks))]
        centre = args.size // 2
        picks += [("x", x.data, (0, 0, int(u), int(v)), dx_formula[u, v])
                  for u, v in zip(rng.integers(centre - 6, centre + 6, args.checks) % args.size,
                                  rng.integers(centre - 6, centre + 6, args.checks) % args.size)]
        print(f"\ncentral differences (eps = 1e-6) for {len(picks)} elements:")
        print(f"  {'element':<22}{'autograd':>14}{'formula':>14}{'numeric':>14}{'|diff|':>11}")
        worst_numeric = 0.0
        for name, array, index, formula in picks:
            auto = (conv.weight.grad if name == "W" else x.grad)[index]
            num = numeric_gradient(value, array, indices=[index])[index]
            worst_numeric = max(worst_numeric, abs(auto - num) / max(1.0, abs(num)))   # relative when large
            print(f"  dL/d{name}{str(index):<17}{auto:>14.8f}{formula:>14.8f}{num:>14.8f}{abs(auto - num):>11.2e}")

    path = Path(args.out) / "conv_gradient.png"
    plot(path, image, w, dy, dw, dx, names)
    print(f"\nwrote {path}")
    worst = max(max(diffs.values()), worst_numeric)
    ok = worst <= TOLERANCE
    print(f"max difference {worst:.2e} (relative where the gradient exceeds 1): "
          + ("ALL AGREE" if ok else f"DISAGREEMENT above {TOLERANCE:g}"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run(main, resumable=False))
