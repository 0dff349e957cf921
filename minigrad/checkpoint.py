"""Checkpoints written so that a crash at any moment loses nothing.

A checkpoint is one pickle file holding plain NumPy arrays and Python values: model and optimizer state,
epoch, history, and the random generators' states. It is written to a temporary file in the same folder,
flushed to disk (fsync) and then renamed over the old one; a rename is atomic, so a reader sees either the
old complete file or the new complete file, never half of one.
"""

import os
import pickle
import tempfile
from pathlib import Path


def save_checkpoint(path, state):
    """Atomically write ``state`` (a dict of arrays and plain values) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint`; a clear error if it is missing or damaged."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except Exception as e:  # damaged bytes can make unpickling fail in any way: ImportError, TypeError, ...
        raise ValueError(f"checkpoint {path} is damaged or not a minigrad checkpoint: "
                         f"{type(e).__name__}: {e}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"checkpoint {path} does not hold a minigrad training state (no 'model' entry)")
    return state
