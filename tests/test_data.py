"""Tests for minigrad.data. None of them touches the network: downloads are faked with monkeypatch."""

import hashlib
import io
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import minigrad.data.bloodmnist as bm
from minigrad.data import (CLASSES, ArrayDataset, BloodMNIST, DataCorruptError, DataLoader,
                           DataNotFoundError, default_root, find_bloodmnist, load_bloodmnist)
from minigrad.errors import MinigradError

SIZES = {"train": 40, "val": 16, "test": 24}
TRAIN_LABELS = np.repeat(np.arange(8), [2, 9, 4, 8, 3, 4, 6, 4])  # imbalanced, 40 in all


def md5_of(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def write_npz(path):
    """A small file shaped like bloodmnist.npz, with random pixels."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in SIZES.items():
        labels = TRAIN_LABELS if split == "train" else np.arange(n) % 8
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28, 3), dtype=np.uint8)
        arrays[f"{split}_labels"] = labels.astype(np.uint8).reshape(n, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def trust(monkeypatch, path):
    """Make the file at ``path`` count as the official one (its md5 becomes the expected md5)."""
    monkeypatch.setattr(bm, "official_source", lambda: (bm.URL, md5_of(path)))


@pytest.fixture
def npz(tmp_path, monkeypatch):
    path = write_npz(tmp_path / "root" / "bloodmnist.npz")
    trust(monkeypatch, path)
    return path


@pytest.fixture
def no_network(monkeypatch):
    def urlopen(*args, **kwargs):
        raise urllib.error.URLError("no network in tests")
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


class FakeResponse(io.BytesIO):
    """Stands in for urlopen's HTTP response: readable bytes plus a Content-Length header."""

    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


# ------------------------------------------------------------------------------- finding the file

def test_missing_file_error_says_where_to_put_it(tmp_path, no_network):
    with pytest.raises(DataNotFoundError) as info:
        find_bloodmnist(root=tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "bloodmnist.npz") in msg
    assert "failed" in msg and "no network in tests" in msg
    assert bm.MD5 in msg and "$MEDMNIST_ROOT" in msg
    assert isinstance(info.value, FileNotFoundError)
    assert list(tmp_path.iterdir()) == []  # no partial download left behind


def test_download_false_does_not_try(tmp_path, monkeypatch):
    def urlopen(*args, **kwargs):
        raise AssertionError("must not download")
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    with pytest.raises(DataNotFoundError, match="download=False") as info:
        load_bloodmnist("train", root=tmp_path, download=False)
    assert str(tmp_path / "bloodmnist.npz") in str(info.value)


def test_download_writes_file_atomically(tmp_path, monkeypatch):
    data = write_npz(tmp_path / "source.npz").read_bytes()
    monkeypatch.setattr(bm, "official_source", lambda: ("http://example.invalid/x", hashlib.md5(data).hexdigest()))
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(data))
    path = find_bloodmnist(root=tmp_path / "cache")
    assert path == tmp_path / "cache" / "bloodmnist.npz"
    assert path.read_bytes() == data
    assert os.listdir(path.parent) == ["bloodmnist.npz"]  # the temporary file is gone
    assert len(load_bloodmnist("val", root=tmp_path / "cache")[1]) == SIZES["val"]


def test_download_with_wrong_md5_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(b"not the data"))
    with pytest.raises(DataCorruptError, match="md5"):
        find_bloodmnist(root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_medmnist_root_is_respected(npz, monkeypatch):
    monkeypatch.setenv("MEDMNIST_ROOT", str(npz.parent))
    assert default_root() == npz.parent
    assert find_bloodmnist() == npz
    monkeypatch.delenv("MEDMNIST_ROOT")
    assert default_root() == Path.home() / ".medmnist"


def test_explicit_path_wins(npz, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDMNIST_ROOT", str(tmp_path / "empty"))
    assert find_bloodmnist(path=npz, root=tmp_path / "elsewhere") == npz
    assert load_bloodmnist("test", path=npz)[0].shape == (SIZES["test"], 3, 28, 28)


def test_explicit_folder_means_the_file_inside_it(npz, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDMNIST_ROOT", str(tmp_path / "empty"))
    assert find_bloodmnist(path=npz.parent) == npz


@pytest.mark.parametrize("given", ["folder", "file"])
def test_explicit_path_that_is_missing_names_it_without_downloading(tmp_path, monkeypatch, given):
    def urlopen(*args, **kwargs):
        raise AssertionError("must not download to a path the user named")
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    path = tmp_path if given == "folder" else tmp_path / "nope.npz"
    with pytest.raises(DataNotFoundError) as info:
        find_bloodmnist(path=path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    assert ("has no bloodmnist.npz" if given == "folder" else "there is no file") in msg
    assert isinstance(info.value, MinigradError)


# ------------------------------------------------------------------------------- bad files

def test_wrong_md5_is_reported(npz, monkeypatch):
    monkeypatch.setattr(bm, "official_source", lambda: (bm.URL, bm.MD5))  # the real md5, not this file's
    with pytest.raises(DataCorruptError) as info:
        load_bloodmnist("train", path=npz)
    msg = str(info.value)
    assert str(npz) in msg and bm.MD5 in msg and md5_of(npz) in msg
    assert str(npz.stat().st_size) in msg and "delete" in msg


def test_not_an_npz_is_reported(tmp_path, monkeypatch):
    path = tmp_path / "bloodmnist.npz"
    path.write_bytes(b"this is not a zip archive" * 10)
    trust(monkeypatch, path)
    with pytest.raises(DataCorruptError, match="not a valid") as info:
        load_bloodmnist("train", path=path)
    assert str(path) in str(info.value)


def test_missing_arrays_are_reported(tmp_path, monkeypatch):
    path = tmp_path / "bloodmnist.npz"
    np.savez(path, train_images=np.zeros((2, 28, 28, 3), np.uint8))
    trust(monkeypatch, path)
    with pytest.raises(DataCorruptError, match="train_labels"):
        load_bloodmnist("train", path=path)


def test_md5_is_computed_once_per_unchanged_file(npz, monkeypatch):
    calls = []
    real = bm._file_md5
    monkeypatch.setattr(bm, "_file_md5", lambda p: calls.append(p) or real(p))
    load_bloodmnist("train", path=npz)
    load_bloodmnist("val", path=npz)
    assert len(calls) == 1
    os.utime(npz, ns=(0, 0))  # a changed mtime means a possibly changed file: hash again
    load_bloodmnist("val", path=npz)
    assert len(calls) == 2


# ------------------------------------------------------------------------------- loading

def test_bad_split(npz):
    with pytest.raises(ValueError, match="'train', 'val', 'test'.*'validation'"):
        load_bloodmnist("validation", path=npz)


def test_load_shapes_dtypes_range(npz):
    raw = np.load(npz)
    for split, n in SIZES.items():
        images, labels = load_bloodmnist(split, path=npz)
        assert images.shape == (n, 3, 28, 28) and images.dtype == np.float32
        assert images.flags.c_contiguous
        assert labels.shape == (n,) and labels.dtype == np.int64
        assert 0.0 <= images.min() and images.max() <= 1.0
        # NHWC -> NCHW and /255: pixel (row 5, col 7, channel 2) of image 3.
        assert images[3, 2, 5, 7] == np.float32(raw[f"{split}_images"][3, 5, 7, 2]) / np.float32(255)
        np.testing.assert_array_equal(labels, raw[f"{split}_labels"].ravel())


def test_dataset_indexing_and_repr(npz):
    ds = BloodMNIST("train", path=npz)
    assert len(ds) == 40 and ds.num_classes == 8 and ds.classes == CLASSES and ds.split == "train"
    x, y = ds[0]
    assert x.shape == (3, 28, 28) and y == TRAIN_LABELS[0]
    x, y = ds[2:5]
    assert x.shape == (3, 3, 28, 28)
    x, y = ds[np.array([7, 0, 7])]
    np.testing.assert_array_equal(y, TRAIN_LABELS[[7, 0, 7]])
    text = repr(ds)
    assert "split='train'" in text and "size=40" in text and "eosinophil" in text and "9" in text


def test_subset_is_stratified_and_deterministic(npz):
    ds = BloodMNIST("train", path=npz)
    counts = ds.class_counts()
    for n in (0, 7, 13, 20, 40):
        sub = ds.subset(n, seed=1)
        assert len(sub) == n and isinstance(sub, BloodMNIST)
        assert np.all(np.abs(sub.class_counts() - n * counts / len(ds)) < 1)
    a, b, c = ds.subset(20, seed=3), ds.subset(20, seed=3), ds.subset(20, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    with pytest.raises(ValueError, match="between 0 and 40"):
        ds.subset(41)


@pytest.mark.parametrize("task,counts", [("wbc4", [9, 3, 4, 6]), ("mono_poly", [3 + 4, 9 + 6])])
def test_tasks_keep_their_classes_and_relabel_them(npz, task, counts):
    ds = BloodMNIST("train", path=npz)
    sub = ds.task(task)
    assert sub.num_classes == len(counts) and sub.class_counts().tolist() == counts
    assert sub.classes == tuple(name for name, _ in bm.TASKS[task])
    originals = [c for _, group in bm.TASKS[task] for c in group]
    keep = np.isin(ds.labels, originals)
    np.testing.assert_array_equal(sub.images, ds.images[keep])     # the same images, in the same order
    for k, (_, group) in enumerate(bm.TASKS[task]):
        np.testing.assert_array_equal(np.isin(ds.labels[keep], group), sub.labels == k)
    assert sub.subset(8).classes == sub.classes and all(name in repr(sub) for name in sub.classes)
    with pytest.raises(ValueError, match="unknown task 'wbc5'"):
        ds.task("wbc5")


# ------------------------------------------------------------------------------- DataLoader

def epoch_indices(loader):
    """Run one epoch over an ArrayDataset of np.arange and return the indices seen, batch by batch."""
    return [idx for (idx,) in loader]


def test_array_dataset():
    ds = ArrayDataset(np.arange(5), np.arange(5) * 10)
    assert len(ds) == 5
    _, b = ds[np.array([4, 1])]
    np.testing.assert_array_equal(b, [40, 10])
    with pytest.raises(ValueError, match=r"\[5, 4\]"):
        ArrayDataset(np.arange(5), np.arange(4))


def test_every_index_once_per_epoch():
    loader = DataLoader(ArrayDataset(np.arange(103)), batch_size=10, shuffle=True, seed=0)
    for _ in range(3):
        batches = epoch_indices(loader)
        assert [len(b) for b in batches] == [10] * 10 + [3]
        assert sorted(np.concatenate(batches)) == list(range(103))
        np.testing.assert_array_equal(np.concatenate(batches), loader.last_order)


def test_batch_count_and_drop_last():
    ds = ArrayDataset(np.arange(103))
    assert len(DataLoader(ds, batch_size=10)) == 11 == len(epoch_indices(DataLoader(ds, batch_size=10)))
    dropped = DataLoader(ds, batch_size=10, drop_last=True)
    assert len(dropped) == 10 and all(len(b) == 10 for b in epoch_indices(dropped))
    assert len(DataLoader(ArrayDataset(np.arange(100)), batch_size=10, drop_last=True)) == 10
    np.testing.assert_array_equal(np.concatenate(epoch_indices(DataLoader(ds, batch_size=10))), np.arange(103))


def test_seeded_orders_repeat_across_loaders_and_change_across_epochs():
    ds = ArrayDataset(np.arange(50))
    a, b = (DataLoader(ds, batch_size=8, shuffle=True, seed=42) for _ in range(2))
    a1, a2 = np.concatenate(epoch_indices(a)), np.concatenate(epoch_indices(a))
    b1, b2 = np.concatenate(epoch_indices(b)), np.concatenate(epoch_indices(b))
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)


def test_progress_bar_does_not_change_the_order():
    """tqdm.auto makes an iterator in its constructor and another when looped over; the unused one must
    not draw a permutation, or a run with a progress bar would see other batches than one without."""
    from tqdm.auto import tqdm
    ds = ArrayDataset(np.arange(50))
    plain, wrapped = (DataLoader(ds, batch_size=8, shuffle=True, seed=3) for _ in range(2))
    for _ in range(2):
        expected = np.concatenate(epoch_indices(plain))
        np.testing.assert_array_equal(np.concatenate([idx for (idx,) in tqdm(wrapped, disable=True)]), expected)
    iter(wrapped)  # an iterator never consumed draws nothing
    np.testing.assert_array_equal(np.concatenate(epoch_indices(wrapped)), np.concatenate(epoch_indices(plain)))


def test_state_dict_resumes_the_same_order():
    ds = ArrayDataset(np.arange(50))
    loader = DataLoader(ds, batch_size=8, shuffle=True, seed=7)
    epoch_indices(loader)
    state = loader.state_dict()
    expected = np.concatenate(epoch_indices(loader))  # epoch 2 of the original run
    resumed = DataLoader(ds, batch_size=8, shuffle=True, seed=999)
    resumed.load_state_dict(state)
    np.testing.assert_array_equal(np.concatenate(epoch_indices(resumed)), expected)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8", True, None])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(ArrayDataset(np.arange(4)), batch_size=bad)


def test_loader_over_bloodmnist(npz):
    loader = DataLoader(BloodMNIST("val", path=npz), batch_size=5, shuffle=True, seed=0)
    x, y = next(iter(loader))
    assert x.shape == (5, 3, 28, 28) and x.dtype == np.float32 and y.shape == (5,) and y.dtype == np.int64


# ------------------------------------------------------------------------------- the real file

REAL_CANDIDATES = [Path.home() / ".medmnist" / "bloodmnist.npz", Path("/work/shared/data/bloodmnist.npz")]


def test_real_file():
    path = next((p for p in REAL_CANDIDATES if p.is_file()), None)
    if path is None:
        pytest.skip(f"real bloodmnist.npz not found at any of {[str(p) for p in REAL_CANDIDATES]}")
    assert path.stat().st_size == 35461855
    bm.verify_md5(path, bm.MD5)
    expected = {"train": [852, 2181, 1085, 2026, 849, 993, 2330, 1643],
                "val": [122, 312, 155, 290, 122, 143, 333, 235],
                "test": [244, 624, 311, 579, 243, 284, 666, 470]}
    for split, counts in expected.items():
        ds = BloodMNIST(split, path=path, download=False)
        assert len(ds) == sum(counts) == {"train": 11959, "val": 1712, "test": 3421}[split]
        assert ds.class_counts().tolist() == counts
        assert ds.images.shape == (len(ds), 3, 28, 28) and 0 <= ds.images.min() and ds.images.max() <= 1


def test_select_and_concatenate_keep_classes(npz):
    train, val = BloodMNIST("train", path=npz).task("wbc4"), BloodMNIST("val", path=npz).task("wbc4")
    both = BloodMNIST.concatenate([train, val], split="train+val")
    assert len(both) == len(train) + len(val) and both.classes == train.classes and both.split == "train+val"
    np.testing.assert_array_equal(both.labels[len(train):], val.labels)
    picked = both.select(np.array([0, 2]), split="fold")
    np.testing.assert_array_equal(picked.images, both.images[[0, 2]])
    assert picked.split == "fold" and picked.classes == train.classes
    with pytest.raises(ValueError, match="different classes"):
        BloodMNIST.concatenate([train, BloodMNIST("val", path=npz)], split="x")
