"""Stratified splits: every part keeps the class proportions of the whole.

    train_idx, val_idx = stratified_split(labels, val_fraction=0.2, seed=0)      # the U-Net paper's 80/20
    for train_idx, val_idx in stratified_kfold(labels, k=10, seed=0): ...         # Jane et al.'s 10 folds

Both work class by class: the indices of one class are shuffled with the seeded generator and cut in the
class's share, so each part holds within one example of its exact share of every class. They return
sorted NumPy index arrays into ``labels``.
"""

import numpy as np


def _check_labels(labels):
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) == 0:
        raise ValueError(f"expected a non-empty 1-D array of integer class labels, got {labels.dtype} {labels.shape}")
    return labels


def stratified_kfold(labels, k, seed=0):
    """k (train, validation) index pairs; the validation parts are disjoint and cover every index once.

    Each class's shuffled indices are dealt out to the folds in turn, so a fold's count of any class is
    within one of count / k.
    """
    labels = _check_labels(labels)
    if not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be an integer >= 2, got {k!r}")
    counts = np.bincount(labels)
    if counts[counts > 0].min() < k:
        raise ValueError(f"stratified {k}-fold needs at least {k} examples of every class, "
                         f"but class {int(np.flatnonzero((counts > 0) & (counts < k))[0])} has fewer")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in np.flatnonzero(counts):
        members = rng.permutation(np.flatnonzero(labels == c))
        fold_of[members] = (np.arange(len(members)) + offset) % k
        offset += len(members)          # the next class starts where this one stopped: fold sizes stay even
    everything = np.arange(len(labels))
    return [(everything[fold_of != f], everything[fold_of == f]) for f in range(k)]


def stratified_split(labels, val_fraction=0.2, seed=0):
    """(train, validation) indices with ``val_fraction`` of every class (rounded) in validation."""
    labels = _check_labels(labels)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        val.append(members[:int(round(val_fraction * len(members)))])
    val = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(len(labels)), val), val
