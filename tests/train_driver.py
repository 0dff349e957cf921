"""Run `minigrad train` on a small synthetic BloodMNIST file, for the tests that need a real second process.

    python tests/train_driver.py DATA [--slow-fsync SECONDS] -- train MODEL --out OUT ...

DATA is a file written by :func:`write_data`; it is made to count as the official file (its md5 becomes the
expected one), as tests/test_data.py does in-process. With ``--slow-fsync`` every fsync of a regular file
(the checkpoint writer's, before its rename) first prints the line ``FSYNC`` and sleeps, so that a test can
kill the process while a checkpoint is being written. Nothing in minigrad knows about this script.
"""

import argparse
import hashlib
import os
import stat
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FSYNC_MARKER = "FSYNC"


def write_data(path, train=40, val=16, test=16, seed=0, learnable=False):
    """A small file shaped like bloodmnist.npz, every class present in every split: random pixels, or with
    ``learnable`` random pixels whose brightness tells the class (so a model improves epoch after epoch)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", train), ("val", val), ("test", test)):
        labels = np.arange(n) % 8
        high = 128 if learnable else 256
        images = rng.integers(0, high, (n, 28, 28, 3)) + (16 * labels[:, None, None, None] if learnable else 0)
        arrays[f"{split}_images"] = images.astype(np.uint8)
        arrays[f"{split}_labels"] = labels.astype(np.uint8).reshape(n, 1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return Path(path)


def md5_of(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def trust(bloodmnist_module, path):
    """Make the file at ``path`` count as the official BloodMNIST file in this process."""
    md5 = md5_of(path)
    bloodmnist_module.official_source = lambda: (bloodmnist_module.URL, md5)


def slow_fsync(seconds):
    """Replace os.fsync: on a regular file, print FSYNC_MARKER and sleep ``seconds`` first."""
    real_fsync = os.fsync

    def fsync(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):
            print(FSYNC_MARKER, flush=True)
            time.sleep(seconds)
        real_fsync(fd)
    os.fsync = fsync


def main(argv):
    """Parse this script's arguments (those before ``--``), then run ``minigrad`` with the rest."""
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("--slow-fsync", type=float)
    args = parser.parse_args(argv[:split])
    sys.path.insert(0, str(ROOT))
    import minigrad.data.bloodmnist as bm
    from models import cli
    trust(bm, args.data)
    if args.slow_fsync:
        slow_fsync(args.slow_fsync)
    return cli.entry(argv[split + 1:] + ["--data", args.data])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
