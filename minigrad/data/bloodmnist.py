"""BloodMNIST: 28x28 RGB images of blood cells in 8 classes (MedMNIST v2, CC BY 4.0).

The whole data set is one NumPy archive, ``bloodmnist.npz`` (35 MB), holding six uint8 arrays:

    train_images (11959, 28, 28, 3)   train_labels (11959, 1)
    val_images    (1712, 28, 28, 3)   val_labels    (1712, 1)
    test_images   (3421, 28, 28, 3)   test_labels   (3421, 1)

We look for it where the ``medmnist`` package caches it, ``~/.medmnist/bloodmnist.npz`` (the environment
variable ``MEDMNIST_ROOT`` names another folder). If it is missing we try to download it; with no network
we raise :class:`DataNotFoundError`, whose message says exactly where to put the file. Every load checks
the file's md5, so a truncated or wrong file fails loudly instead of training on garbage.

    images, labels = load_bloodmnist("train")     # float32 (N, 3, 28, 28) in [0, 1], int64 (N,)
    train = BloodMNIST("train").subset(1000)      # a small, class-balanced slice for quick experiments

Cite: Yang et al., "MedMNIST v2", Scientific Data 10, 41 (2023); Acevedo et al., Data in Brief 30 (2020).
"""

import functools
import hashlib
import http.client
import operator
import os
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import DataError

FILENAME = "bloodmnist.npz"
URL = "https://zenodo.org/records/10519652/files/bloodmnist.npz?download=1"
MD5 = "7053d0359d879ad8a5505303e11de1dc"
SPLITS = ("train", "val", "test")
CLASSES = ("basophil", "eosinophil", "erythroblast", "immature granulocyte",
           "lymphocyte", "monocyte", "neutrophil", "platelet")
# Tasks on subsets of the classes, as the papers pose them: the four white-cell types of the DCLNN paper and
# of Jane et al., and the DCLNN paper's mononuclear (lymphocyte, monocyte) vs polynuclear (eosinophil,
# neutrophil) task. Each new class is a name and the original labels it gathers.
TASKS = {
    "wbc4": (("eosinophil", (1,)), ("lymphocyte", (4,)), ("monocyte", (5,)), ("neutrophil", (6,))),
    "mono_poly": (("mononuclear", (4, 5)), ("polynuclear", (1, 6))),
}
IMAGE_SHAPE = (28, 28, 3)  # as stored: height, width, channels
DOWNLOAD_TIMEOUT_S = 10


class DataNotFoundError(DataError, FileNotFoundError):
    """The data file is not on disk and could not be downloaded."""


class DataCorruptError(DataError, ValueError):
    """The data file exists but is not the file we expect (wrong md5, not an npz, wrong arrays)."""


def default_root():
    """The folder that holds ``bloodmnist.npz``: ``$MEDMNIST_ROOT`` if set, else ``~/.medmnist``."""
    return Path(os.environ.get("MEDMNIST_ROOT") or Path.home() / ".medmnist").expanduser()


@functools.lru_cache(maxsize=None)
def _medmnist_info():
    """MedMNIST's own record for BloodMNIST, or None when the optional ``medmnist`` package is absent."""
    try:
        import medmnist  # optional; it pulls in torch, so we never require it
        info = medmnist.INFO["bloodmnist"]
        return info["url"], info["MD5"]
    except Exception:  # ImportError, or a broken torch install failing at import time
        return None


def official_source():
    """``(url, md5)`` of the official file: the ``medmnist`` package's when installed, else our copies.

    Tests replace this function to make a small synthetic file count as "official".
    """
    return _medmnist_info() or (URL, MD5)


# ----------------------------------------------------------------------------------------------- md5

_md5_cache = {}  # (resolved path, size, mtime_ns) -> md5 hex digest


def _stat_key(path):
    st = os.stat(path)
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def _file_md5(path, chunk_size=1 << 20):
    """md5 of a file, read in 1 MiB chunks so memory use stays flat."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path, expected):
    """Raise :class:`DataCorruptError` unless the file at ``path`` has md5 ``expected``.

    The digest is remembered per (resolved path, size, mtime), so checking the same unchanged file again
    in this process costs nothing; a file that is rewritten gets a new key and is hashed afresh.
    """
    key = _stat_key(path)
    if key not in _md5_cache:
        _md5_cache[key] = _file_md5(path)
    actual = _md5_cache[key]
    if actual != expected.lower():
        raise DataCorruptError(
            f"{path} is not the expected file: md5 should be {expected} but is {actual} "
            f"(size {key[1]} bytes). It is probably truncated or a different file; "
            f"delete it and fetch it again.")


# ------------------------------------------------------------------------------------------ download

def _download(url, target, md5):
    """Fetch ``url`` into ``target`` atomically: stream to a temporary file beside it, check the md5,
    then ``os.replace`` it into place, so ``target`` is either absent or complete, never half written.

    Network failures surface as OSError (URLError and timeouts are OSErrors) or HTTPException.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=target.name) as bar:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() != md5.lower():
            raise DataCorruptError(f"downloaded {url} but its md5 is {digest.hexdigest()}, expected {md5}; "
                                   f"nothing was written to {target}. Try again later.")
        os.replace(tmp, target)
        _md5_cache[_stat_key(target)] = digest.hexdigest()  # no need to hash it again on load
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def find_bloodmnist(path=None, root=None, download=True):
    """Return the path of ``bloodmnist.npz``, downloading it if it is missing.

    An explicit ``path`` wins: the file itself, or a folder holding ``bloodmnist.npz``. Otherwise the file
    is ``root/bloodmnist.npz`` with ``root`` defaulting to :func:`default_root`, and a missing file there is
    downloaded. Raises :class:`DataNotFoundError` when the file is absent and cannot be had; the message (one
    line) says where to put it. An explicit path is never downloaded to: it names a file the user has.
    """
    if path is not None:
        given = Path(path).expanduser()
        target = given / FILENAME if given.is_dir() else given
        if target.is_file():
            return target
        where = f"the folder {given} has no {FILENAME}" if given.is_dir() else f"there is no file {given}"
        raise DataNotFoundError(f"BloodMNIST not found: {where} (--data names the file {FILENAME} itself or "
                                f"the folder holding it; md5 {official_source()[1]})")
    target = Path(root or default_root()).expanduser() / FILENAME
    if target.is_file():
        return target
    url, md5 = official_source()
    if not download:
        why = "download was not attempted (download=False)"
    else:
        try:
            _download(url, target, md5)
            return target
        except (OSError, http.client.HTTPException) as e:
            why = f"downloading {url} failed: {e!r}"
    raise DataNotFoundError(f"BloodMNIST file not found: {target}, and {why}. Put bloodmnist.npz (md5 {md5}) "
                            f"at {target} or set $MEDMNIST_ROOT to the folder that holds it.")


# -------------------------------------------------------------------------------------------- load

def load_bloodmnist(split, path=None, root=None, download=True):
    """Load one split as ``(images, labels)``: float32 ``(N, 3, 28, 28)`` in [0, 1] and int64 ``(N,)``.

    ``split`` is "train", "val" or "test". ``path``/``root``/``download`` are as in
    :func:`find_bloodmnist`. The file's md5 is checked (once per process) before it is read.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    file = find_bloodmnist(path, root, download)
    verify_md5(file, official_source()[1])
    try:
        with np.load(file, allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single .npy array, not an .npz archive")
            missing = {f"{split}_images", f"{split}_labels"} - set(npz.files)
            if missing:
                raise ValueError(f"it lacks the arrays {sorted(missing)} (it has {sorted(npz.files)})")
            images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataCorruptError(f"{file} is not a valid BloodMNIST .npz file: {e}") from e

    n = len(images)
    if images.shape[1:] != IMAGE_SHAPE or labels.reshape(-1).shape != (n,):
        raise DataCorruptError(f"{file}: {split} arrays have shapes {images.shape} and {labels.shape}, "
                               f"expected (N, 28, 28, 3) and (N, 1)")
    labels = labels.reshape(-1).astype(np.int64)
    if n and not (0 <= labels.min() and labels.max() < len(CLASSES)):
        raise DataCorruptError(f"{file}: {split} labels must lie in 0..{len(CLASSES) - 1}")
    # NHWC uint8 -> NCHW float32 in [0, 1]: channels first, as convolution layers expect.
    images = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)
    images /= np.float32(255)
    return images, labels


class BloodMNIST:
    """One split of BloodMNIST held in memory as two NumPy arrays.

    ``ds[i]`` gives ``(image, label)``; ``ds[idx]`` with a slice or an integer array gives a whole batch
    ``(images, labels)`` at once, which is what :class:`minigrad.data.DataLoader` relies on.
    """

    num_classes = len(CLASSES)
    classes = CLASSES

    def __init__(self, split="train", path=None, root=None, download=True):
        self.split = split
        self.images, self.labels = load_bloodmnist(split, path, root, download)

    @classmethod
    def _from_arrays(cls, split, images, labels, classes=CLASSES):
        ds = cls.__new__(cls)  # skip __init__: no file to read
        ds.split, ds.images, ds.labels = split, images, labels
        ds.classes, ds.num_classes = tuple(classes), len(classes)
        return ds

    def select(self, indices, split=None):
        """A new dataset of the examples at ``indices`` (e.g. one fold of a cross-validation)."""
        return BloodMNIST._from_arrays(split or self.split, self.images[indices], self.labels[indices], self.classes)

    @staticmethod
    def concatenate(datasets, split):
        """One dataset holding the examples of several with the same classes, in order (e.g. train + val)."""
        classes = datasets[0].classes
        if any(ds.classes != classes for ds in datasets):
            raise ValueError(f"cannot concatenate datasets with different classes: {[ds.classes for ds in datasets]}")
        return BloodMNIST._from_arrays(split, np.concatenate([ds.images for ds in datasets]),
                                       np.concatenate([ds.labels for ds in datasets]), classes)

    def map_images(self, fn):
        """A new dataset whose images are ``fn(images)`` (e.g. normalised), with the same labels and classes."""
        return BloodMNIST._from_arrays(self.split, fn(self.images), self.labels, self.classes)

    def task(self, name):
        """The examples of one of the :data:`TASKS`, relabelled 0..K-1 in the task's order.

        ``BloodMNIST("train").task("wbc4")`` keeps eosinophils, lymphocytes, monocytes and neutrophils as
        classes 0-3; ``task("mono_poly")`` makes lymphocytes and monocytes class 0, eosinophils and
        neutrophils class 1. Other cell types are left out.
        """
        if name not in TASKS:
            raise ValueError(f"unknown task {name!r}; tasks: {', '.join(TASKS)}")
        new_label = np.full(len(CLASSES), -1)
        for k, (_, originals) in enumerate(TASKS[name]):
            new_label[list(originals)] = k
        keep = new_label[self.labels] >= 0
        return BloodMNIST._from_arrays(self.split, self.images[keep], new_label[self.labels[keep]],
                                       classes=[task_class for task_class, _ in TASKS[name]])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def class_counts(self):
        """Number of examples of each class, in label order."""
        return np.bincount(self.labels, minlength=self.num_classes)

    def subset(self, n, seed=0):
        """A new dataset with ``n`` examples drawn without replacement, stratified by class.

        Each class gets ``n * count / len`` examples rounded so the total is exactly ``n`` (largest
        remainders round up), hence every class count is within 1 of its exact share. The choice depends
        only on ``seed``; the kept examples stay in their original order.
        """
        n = operator.index(n)  # TypeError for 2.5 or "10"
        if not 0 <= n <= len(self):
            raise ValueError(f"subset size must be between 0 and {len(self)}, got {n}")
        counts = self.class_counts()
        share = n * counts / max(len(self), 1)  # exact (fractional) share of each class
        take = np.floor(share).astype(np.int64)
        by_remainder = np.argsort(-(share - take), kind="stable")
        take[by_remainder[: n - take.sum()]] += 1
        rng = np.random.default_rng(seed)
        keep = np.sort(np.concatenate([
            rng.choice(np.flatnonzero(self.labels == c), size=k, replace=False) for c, k in enumerate(take)]))
        return BloodMNIST._from_arrays(self.split, self.images[keep], self.labels[keep], self.classes)

    def __repr__(self):
        lines = [f"BloodMNIST(split={self.split!r}, size={len(self)})"]
        lines += [f"  {c:<2} {name:<21} {k:>6}" for c, (name, k) in enumerate(zip(self.classes, self.class_counts()))]
        return "\n".join(lines)
