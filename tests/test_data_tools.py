"""Augmentation, normalisation and stratified splits (minigrad.data.augment, minigrad.data.split)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigrad.data import (Augment, channel_stats, default_augmentation, normalize, stratified_kfold,
                           stratified_split)
from minigrad.data.augment import RandomFlip, RandomRotation, RandomRotation90, RandomShift


def batch(n=16, c=3, h=8, w=8, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


def test_flip_mirrors_some_images_and_leaves_the_rest():
    x = batch(64)
    y = RandomFlip(vertical=False)(x, np.random.default_rng(0))
    mirrored = [np.array_equal(y[i], x[i, :, :, ::-1]) for i in range(64)]
    kept = [np.array_equal(y[i], x[i]) for i in range(64)]
    assert all(m or k for m, k in zip(mirrored, kept)) and 10 < sum(mirrored) < 54
    assert y.dtype == np.float32 and not np.shares_memory(x, y)


def test_rotation90_gives_one_of_the_four_rotations():
    x = batch(64)
    y = RandomRotation90()(x, np.random.default_rng(1))
    turns = [next(k for k in range(4) if np.array_equal(y[i], np.rot90(x[i], k, axes=(1, 2)))) for i in range(64)]
    assert set(turns) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="square images"):
        RandomRotation90()(batch(2, h=6, w=8), np.random.default_rng(0))


def test_shift_moves_whole_images_by_whole_pixels_repeating_the_edge():
    x = batch(32, h=10, w=10)
    rng = np.random.default_rng(2)
    y = RandomShift(max_shift=2)(x, rng)
    for i in range(32):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if np.array_equal(y[i][:, max(dy, 0):10 + min(dy, 0), max(dx, 0):10 + min(dx, 0)],
                                   x[i][:, max(-dy, 0):10 + min(-dy, 0), max(-dx, 0):10 + min(-dx, 0)])]
        assert found, i                                       # the interior is an exact copy, shifted
    assert y.min() >= x.min() and y.max() <= x.max()          # edges repeated: no new values, no black


def test_rotation_by_zero_is_the_identity_and_a_disk_stays_a_disk():
    x = batch(4)
    np.testing.assert_allclose(RandomRotation(0)(x, np.random.default_rng(0)), x, atol=1e-6)
    yy, xx = np.mgrid[:21, :21] - 10
    disk = (np.hypot(yy, xx) < 6).astype(np.float32)[None, None].repeat(8, axis=0)
    turned = RandomRotation(40)(disk, np.random.default_rng(3))
    rim = np.abs(np.hypot(yy, xx) - 6) < 1.5
    assert np.abs(turned - disk)[:, :, ~rim].max() < 1e-5        # only pixels at the rim change ...
    np.testing.assert_allclose(turned.sum(axis=(1, 2, 3)), disk[0].sum(), rtol=0.03)   # ... and the area stays


def test_augment_is_seeded_and_resumable():
    x = batch(8)
    a, b = default_augmentation(seed=5), default_augmentation(seed=5)
    np.testing.assert_array_equal(a(x), b(x))
    state = a.state_dict()
    expected = a(x)
    c = default_augmentation(seed=99)
    c.load_state_dict(state)
    np.testing.assert_array_equal(c(x), expected)
    assert not np.array_equal(a(x), expected)                  # a new draw each batch
    assert "RandomFlip" in repr(a)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got int64 \(3, 4\)"):
        Augment([RandomFlip()])(np.zeros((3, 4), dtype=np.int64))


def test_normalize_uses_training_statistics():
    x = batch(50) * np.array([1.0, 2.0, 3.0], np.float32)[:, None, None] + 5
    mean, std = channel_stats(x)
    z = normalize(x, mean, std)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, rtol=1e-4)
    with pytest.raises(ValueError, match="positive mean/std pair of 3 values"):
        normalize(x, mean, np.array([1.0, 0.0, 1.0]))


@settings(max_examples=30, deadline=None)
@given(counts=st.lists(st.integers(10, 60), min_size=2, max_size=6), k=st.integers(2, 10), seed=st.integers(0, 99))
def test_stratified_kfold_partitions_and_keeps_proportions(counts, k, seed):
    labels = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    folds = stratified_kfold(labels, k, seed)
    assert len(folds) == k
    seen = np.concatenate([val for _, val in folds])
    np.testing.assert_array_equal(np.sort(seen), np.arange(len(labels)))     # each index validates once
    for train, val in folds:
        assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == len(labels)
        per_class = np.bincount(labels[val], minlength=len(counts))
        assert np.all(np.abs(per_class - np.array(counts) / k) < 1)
    sizes = [len(val) for _, val in folds]
    assert max(sizes) - min(sizes) <= 1
    again = stratified_kfold(labels, k, seed)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))


def test_stratified_split_keeps_every_class_share():
    labels = np.repeat(np.arange(4), [100, 50, 31, 7])
    train, val = stratified_split(labels, 0.2, seed=1)
    assert np.bincount(labels[val]).tolist() == [20, 10, 6, 1]
    assert len(np.union1d(train, val)) == len(labels) and len(np.intersect1d(train, val)) == 0


@pytest.mark.parametrize("call,message", [
    (lambda: stratified_kfold(np.array([0, 0, 1, 1, 1]), 3), "at least 3 examples of every class"),
    (lambda: stratified_kfold(np.arange(10) % 2, 1), "k must be an integer >= 2"),
    (lambda: stratified_split(np.arange(10) % 2, 1.5), "between 0 and 1"),
    (lambda: stratified_split(np.zeros((2, 2), int)), "1-D array of integer class labels"),
])
def test_bad_split_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
