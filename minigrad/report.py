"""Writing results for people: JSON, Markdown tables and matplotlib figures."""

import json
from pathlib import Path

import numpy as np


def save_json(path, obj):
    """Write ``obj`` as indented JSON (NumPy numbers and arrays converted to plain Python)."""
    def plain(o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        raise TypeError(f"cannot write {type(o).__name__} to JSON")
    Path(path).write_text(json.dumps(obj, indent=2, default=plain) + "\n")


def markdown_table(headers, rows):
    """A GitHub-flavoured Markdown table; numbers are written as given (format them first)."""
    lines = ["| " + " | ".join(map(str, headers)) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_curves(histories, path, title="Training curves"):
    """Loss and accuracy per epoch, training and validation, one line per model.

    ``histories`` maps a model name to a list of per-epoch dicts with train_loss, val_loss, train_accuracy,
    val_accuracy.
    """
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for name, history in histories.items():
        epochs = [h["epoch"] for h in history]
        for split, style in (("train", "-"), ("val", "--")):
            ax_loss.plot(epochs, [h[f"{split}_loss"] for h in history], style, label=f"{name} {split}")
            ax_acc.plot(epochs, [h[f"{split}_accuracy"] for h in history], style, label=f"{name} {split}")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion_matrix(matrix, class_names, path, title="Confusion matrix"):
    """Row-normalised colours with the raw counts written in each cell; rows true, columns predicted."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if rates[i, j] > 0.5 else "black", fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.colorbar(image, ax=ax, label="fraction of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
