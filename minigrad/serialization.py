"""``minigrad.save`` and ``minigrad.load``, as ``torch.save`` / ``torch.load``, without pickle.

    minigrad.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, "run.npz")
    state = minigrad.load("run.npz")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])

What can be saved: Tensors, NumPy arrays and scalars (numeric or bool dtypes), None, bool, int, float, str,
and lists, tuples and dicts (keys str or int) of these, nested to any depth. That covers every state_dict
of minigrad (modules, optimizers, schedulers). Anything else (a function, a module, an object array, a
structure that contains itself) raises TypeError naming its place, e.g. ``obj['optimizer']['fn']``, and its
type, before any file is touched.

The file is a minigrad checkpoint (see :mod:`minigrad.checkpoint`): one ``.npz`` with the structure as JSON,
every array as an ``.npy`` member and a SHA-256 of the whole content. It is written to a temporary file and
renamed over ``path``, so a crash leaves the old file or the new one, never half of one. Loading reads only
with ``np.load(allow_pickle=False)`` and ``json``: a file can make loading fail, but never run code. A
damaged, truncated or foreign file raises :class:`~minigrad.errors.CheckpointError` (a ValueError) naming
the file.

How it differs from PyTorch:

- ``torch.save`` pickles arbitrary objects; here only the types above (no pickle, ever).
- A Tensor comes back as a Tensor on the CPU, with its dtype, values and ``requires_grad`` (its ``.grad``
  and graph are not saved, as in PyTorch). Tensors on a GPU are copied to the host when saved; move them
  back with ``.to("cuda")`` (there is no ``map_location``).
- Two references to one tensor or array are saved as two copies and come back as two objects.
- ``path`` must be a file name (str or os.PathLike); file objects are not accepted, because the atomic
  write needs a folder to put the temporary file in.
- An OrderedDict comes back as a dict (in the same order).

Files written by the training code's :func:`~minigrad.checkpoint.save_checkpoint` load here as well.
"""

import json
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from . import checkpoint
from .backend import to_numpy
from .errors import CheckpointError
from .tensor import Tensor

__all__ = ["save", "load"]

ROOT = "obj"                 # how error messages name the saved object: obj['model']['fc.weight']


def save(obj, path):
    """Write ``obj`` (a state_dict, or nested dicts/lists/tuples of Tensors, arrays and JSON values) to ``path``.

    The write is atomic and verified on load by SHA-256; see the module docstring for what can be saved.
    Raises TypeError naming the key path and type of the first value that cannot be saved (nothing is
    written then), and TypeError if ``path`` is not a file name.
    """
    path = _as_path(path, "save")
    tensors = []
    plain = _without_tensors(obj, [], tensors, set())
    arrays = {}
    state = checkpoint.encode(plain, ROOT, arrays, set())       # TypeError naming obj[...] for the rest
    document = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "state": state,
                "saved_by": "minigrad.save", "tensors": tensors}
    metadata = json.dumps(document, allow_nan=False).encode("utf-8")
    digest = checkpoint.content_digest(metadata, arrays)
    members = {"metadata": np.frombuffer(metadata, dtype=np.uint8),
               "sha256": np.frombuffer(digest, dtype=np.uint8), **arrays}
    checkpoint.write_atomically(path, lambda f: np.savez(f, allow_pickle=False, **members))


def load(path):
    """The object :func:`save` wrote to ``path``, its Tensors Tensors again (on the CPU).

    Reads with ``np.load(allow_pickle=False)`` only. Raises CheckpointError (naming the file) if it is
    missing, empty, damaged, a pickle, another program's file or of a newer format version.
    """
    path = _as_path(path, "load")
    document, state = _read(path)
    tensors = document.get("tensors", [])
    try:
        return _with_tensors(state, tensors)
    except (TypeError, ValueError, KeyError, IndexError) as e:
        raise checkpoint.damaged(path, f"its tensor list does not fit its content ({e})") from None


# ----- saving ------------------------------------------------------------------------------------------------

def _as_path(path, caller):
    """``path`` as a Path; TypeError for anything but a str or os.PathLike (a file object, say)."""
    if isinstance(path, (str, os.PathLike)):
        return Path(path)
    raise TypeError(f"minigrad.{caller}() expects a file name (str or os.PathLike), got a value of type "
                    f"{type(path).__module__}.{type(path).__qualname__}")


def _where(keys):
    """The place of a value in error messages: ``obj['model'][0]``."""
    return ROOT + "".join(f"[{k!r}]" for k in keys)


def _without_tensors(value, keys, tensors, open_containers):
    """A copy of ``value``'s structure with every Tensor replaced by a NumPy copy of its values.

    Appends ``[keys, requires_grad]`` to ``tensors`` for each Tensor found (``keys`` the dict keys and list
    or tuple positions that lead to it), so :func:`load` can make them Tensors again. Other values are
    returned as they are and checked by :func:`minigrad.checkpoint.encode` afterwards.
    """
    if isinstance(value, Tensor):
        tensors.append([list(keys), bool(value.requires_grad)])
        return np.array(to_numpy(value._data))          # a copy in host memory, a plain ndarray
    if type(value) not in (list, tuple, dict, OrderedDict):
        return value
    if id(value) in open_containers:
        raise TypeError(f"{_where(keys)}: cannot save a structure that contains itself")
    open_containers.add(id(value))
    if isinstance(value, dict):
        for key in value:
            if type(key) not in (str, int):
                raise TypeError(f"{_where(keys)}: cannot save the dict key {key!r} of type "
                                f"{type(key).__module__}.{type(key).__qualname__} (keys must be str or int)")
        result = type(value)((k, _without_tensors(v, keys + [k], tensors, open_containers))
                             for k, v in value.items())
    else:
        result = type(value)(_without_tensors(v, keys + [i], tensors, open_containers)
                             for i, v in enumerate(value))
    open_containers.discard(id(value))
    return result


# ----- loading -----------------------------------------------------------------------------------------------

def _read(path):
    """(metadata document, decoded state) of the checkpoint at ``path``, verified against its SHA-256.

    The same steps as :func:`minigrad.checkpoint.load_checkpoint`, which also insists on a training state
    (a 'model' entry); here any saved object is fine.
    """
    checkpoint.check_file_kind(path, checkpoint.read_head(path))
    try:
        with np.load(path, allow_pickle=False) as npz:
            metadata = checkpoint.read_metadata(path, npz)
            document = checkpoint.parse_metadata(path, metadata)
            arrays, digest = checkpoint.read_arrays(path, npz)
        if checkpoint.content_digest(metadata, arrays) != digest:
            raise checkpoint.damaged(path, "its SHA-256 does not match its content")
        used = set()
        state = checkpoint.decode(document["state"], arrays, used)
        if used != set(arrays):
            raise checkpoint.damaged(path, f"arrays {sorted(set(arrays) - used)} are not part of the state")
    except CheckpointError:
        raise
    except checkpoint.DAMAGE_ERRORS as e:
        raise checkpoint.damaged(path, checkpoint.describe_error(e)) from None
    return document, state


def _with_tensors(state, tensors):
    """``state`` with the array at each recorded key path made a Tensor again (ValueError if one is not there)."""
    if type(tensors) is not list:
        raise ValueError(f"expected a list of tensor entries, got {type(tensors).__name__}")
    places = {}
    for entry in tensors:
        if (type(entry) is not list or len(entry) != 2 or type(entry[0]) is not list
                or type(entry[1]) is not bool or not all(type(k) in (str, int) for k in entry[0])):
            raise ValueError(f"a tensor entry is not [key path, requires_grad]: {str(entry)[:80]}")
        places[tuple(entry[0])] = entry[1]
    found = []
    result = _rebuild(state, (), places, found)
    if len(found) != len(places):
        missing = sorted(set(places) - set(found), key=str)
        raise ValueError(f"no array at {_where(list(missing[0]))}")
    return result


def _rebuild(value, keys, places, found):
    """A copy of ``value`` whose arrays at the key paths in ``places`` are Tensors (requires_grad as recorded)."""
    if keys in places:
        if type(value) is not np.ndarray:
            raise ValueError(f"{_where(list(keys))} should be an array, is {type(value).__name__}")
        found.append(keys)
        return Tensor(value, requires_grad=places[keys])
    if type(value) is dict:
        return {k: _rebuild(v, keys + (k,), places, found) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_rebuild(v, keys + (i,), places, found) for i, v in enumerate(value))
    return value
