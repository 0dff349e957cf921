"""Checkpoints that cannot run code when loaded, that detect damage, and that a crash cannot leave half-written.

A checkpoint is one ``.npz`` file (a zip of ``.npy`` arrays, as ``np.savez`` writes it, uncompressed):

    metadata            uint8 (n,): UTF-8 JSON {"format": "minigrad-checkpoint", "version": 1, "state": ...}
    sha256              uint8 (32,): SHA-256 of the content (see :func:`content_digest`)
    array_0, array_1..  every NumPy array and NumPy scalar of the state, numbered in the order they are met

In the JSON, the state's structure is written with a few tagged objects, so that what comes back is exactly
what went in (types, dtypes, shapes, values, bit for bit):

    None, bool, str, int, finite float   themselves (ints of any size)
    list                                 a JSON array
    tuple                                {"tuple": [...]}
    dict (and OrderedDict)               {"dict": [[key, value], ...]}     keys str or int, order kept
    NaN, +-inf                           {"float": "7ff8000000000000"}     the float's 64 bits, in hex
    np.ndarray / NumPy scalar            {"array": "array_3"} / {"scalar": "array_4"}

Loading reads only with ``np.load(allow_pickle=False)`` and ``json``, so a file can make loading fail but
never run code; every failure is one :class:`CheckpointError` line naming the file. Saving writes a
temporary file beside the target, fsyncs it and renames it over the target (atomic), so a reader sees the
old complete file or the new complete file, never half of one. See docs/checkpoints.md.
"""

import contextlib
import hashlib
import json
import lzma
import math
import os
import re
import secrets
import struct
import tokenize
import types
import warnings
import zipfile
import zlib
from collections import OrderedDict
from functools import partial
from pathlib import Path

import numpy as np

from .errors import CheckpointError

FORMAT, VERSION = "minigrad-checkpoint", 1
ARRAY_DTYPE_KINDS = "biufc"                    # bool, signed and unsigned int, float, complex
ARRAY_NAME = re.compile(r"array_(0|[1-9][0-9]*)")
PICKLE_PROTOCOLS = (2, 3, 4, 5)                 # a pickle of protocol >= 2 starts with 0x80 and the protocol
ZIP_MAGIC, NPY_MAGIC = (b"PK\x03\x04", b"PK\x05\x06"), b"\x93NUMPY"

# What np.load, zipfile and json raise on damaged bytes (each type was met flipping bits of real checkpoints):
# zipfile: BadZipFile (CRC, directory), NotImplementedError (version or compression field), RuntimeError
# (encryption flag), zlib.error / lzma.LZMAError / OSError (bzip2) on a "compressed" stream that is not one,
# EOFError (cut short); numpy's .npy header parser: ValueError, SyntaxError, tokenize.TokenError, TypeError,
# MemoryError and OverflowError (a huge shape); UTF-8 and JSON: ValueError, RecursionError (a RuntimeError).
DAMAGE_ERRORS = (zipfile.BadZipFile, NotImplementedError, RuntimeError, zlib.error, lzma.LZMAError, OSError,
                 EOFError, ValueError, SyntaxError, tokenize.TokenError, TypeError, KeyError, IndexError,
                 struct.error, MemoryError, OverflowError)


# ----- the state as JSON + arrays ----------------------------------------------------------------------------

def encode_state(state):
    """(metadata bytes, {member name: array}) of ``state``; TypeError naming the place of what cannot be stored."""
    arrays = {}
    document = {"format": FORMAT, "version": VERSION, "state": encode(state, "state", arrays, set())}
    return json.dumps(document, allow_nan=False).encode("utf-8"), arrays


def encode(value, where, arrays, open_containers):
    """The JSON form of ``value`` (found at ``where``); arrays and NumPy scalars go into ``arrays``."""
    kind = type(value)
    if isinstance(value, (np.ndarray, np.generic)):
        return encode_numpy(value, where, arrays)
    if value is None or kind in (bool, str, int):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"float": struct.pack(">d", value).hex()}
    if kind in (list, tuple, dict, OrderedDict):
        if id(value) in open_containers:
            raise TypeError(f"{where}: cannot store a structure that contains itself")
        open_containers.add(id(value))
        encoded = encode_container(value, where, arrays, open_containers)
        open_containers.discard(id(value))
        return encoded
    raise TypeError(f"{where}: cannot store {describe_type(value)} (a checkpoint holds dicts, lists, tuples, "
                    "str, int, float, bool, None, and NumPy arrays and scalars of numeric or bool dtype)")


def encode_container(value, where, arrays, open_containers):
    """The JSON form of a list, tuple or dict, its items encoded one by one."""
    if isinstance(value, dict):
        for key in value:
            if type(key) not in (str, int):
                raise TypeError(f"{where}: cannot store the dict key {key!r} of type {type(key).__name__} "
                                "(keys must be str or int)")
        return {"dict": [[key, encode(item, f"{where}[{key!r}]", arrays, open_containers)]
                         for key, item in value.items()]}
    items = [encode(item, f"{where}[{i}]", arrays, open_containers) for i, item in enumerate(value)]
    return items if isinstance(value, list) else {"tuple": items}


def encode_numpy(value, where, arrays):
    """{"array": name} or {"scalar": name} for an ndarray or a NumPy scalar, kept in ``arrays`` under name."""
    if type(value) is not np.ndarray and not isinstance(value, np.generic):
        raise TypeError(f"{where}: cannot store {describe_type(value)} (a subclass of np.ndarray); "
                        "pass np.asarray(...) of it")
    if value.dtype.kind not in ARRAY_DTYPE_KINDS:
        raise TypeError(f"{where}: cannot store a NumPy value of dtype {value.dtype} "
                        "(only numeric and bool dtypes)")
    name = f"array_{len(arrays)}"
    arrays[name] = value if isinstance(value, np.ndarray) else np.asarray(value)
    return {"array" if isinstance(value, np.ndarray) else "scalar": name}


def describe_type(value):
    """'a function' for anything callable like one, else 'a value of type module.Name'."""
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, partial)):
        return "a function"
    kind = type(value)
    return f"a value of type {kind.__module__}.{kind.__qualname__}"


def decode(value, arrays, used):
    """The Python value of the JSON form ``value``; ``arrays`` maps member names to the loaded arrays.

    Adds every member it refers to to ``used``. Raises ValueError on a form :func:`encode` never writes.
    """
    if value is None or type(value) in (bool, str, int, float):
        return value
    if type(value) is list:
        return [decode(item, arrays, used) for item in value]
    if type(value) is not dict or len(value) != 1:
        raise ValueError(f"unexpected {type(value).__name__} in the metadata")
    (tag, payload), = value.items()
    if tag == "tuple" and type(payload) is list:
        return tuple(decode(item, arrays, used) for item in payload)
    if tag == "dict" and type(payload) is list:
        return decode_dict(payload, arrays, used)
    if tag == "float" and type(payload) is str and re.fullmatch(r"[0-9a-f]{16}", payload):
        return struct.unpack(">d", bytes.fromhex(payload))[0]
    if tag in ("array", "scalar") and type(payload) is str and payload in arrays and payload not in used:
        used.add(payload)
        array = arrays[payload]
        if tag == "scalar" and array.ndim != 0:
            raise ValueError(f"scalar {payload} has shape {array.shape}")
        return array if tag == "array" else array[()]
    raise ValueError(f"unexpected {tag!r} entry in the metadata (or an array missing or used twice)")


def decode_dict(pairs, arrays, used):
    """A dict from the [[key, value], ...] pairs of its JSON form."""
    result = {}
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2 or type(pair[0]) not in (str, int) or pair[0] in result:
            raise ValueError("a dict entry of the metadata is not a [key, value] pair with a new str/int key")
        result[pair[0]] = decode(pair[1], arrays, used)
    return result


def content_digest(metadata, arrays):
    """SHA-256 (32 bytes) of the metadata bytes, then of each array in index order: name, dtype, shape, bytes.

    ``arrays`` maps member names ``array_<i>`` to arrays. Lengths and headers are hashed too, so no two
    different contents hash the same bytes. The array bytes are hashed in C order whatever the memory layout.
    """
    digest = hashlib.sha256(len(metadata).to_bytes(8, "little") + metadata)
    for name in sorted(arrays, key=lambda n: int(n.split("_")[1])):
        array = arrays[name]
        header = json.dumps([name, array.dtype.str, list(array.shape)]).encode("ascii")
        digest.update(len(header).to_bytes(8, "little") + header)
        digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
    return digest.digest()


# ----- writing -----------------------------------------------------------------------------------------------

def save_checkpoint(path, state):
    """Atomically write ``state`` (a dict with a "model" entry, of the types in the module doc) to ``path``.

    TypeError (naming the place, e.g. ``state['callbacks'][0]['fn']``) for a value that cannot be stored,
    before any file is touched; on any failure during the write the old checkpoint at ``path`` is untouched.
    """
    path = Path(path)
    if not isinstance(state, dict):
        raise TypeError(f"a checkpoint holds a training state (a dict with a 'model' entry), not "
                        f"{describe_type(state)}")
    if "model" not in state:
        raise ValueError(f"a checkpoint holds a training state (a dict with a 'model' entry); this dict has "
                         f"keys {list(state)}")
    metadata, arrays = encode_state(state)
    digest = content_digest(metadata, arrays)
    members = {"metadata": np.frombuffer(metadata, dtype=np.uint8),
               "sha256": np.frombuffer(digest, dtype=np.uint8), **arrays}
    write_atomically(path, lambda f: np.savez(f, allow_pickle=False, **members))


def write_atomically(path, write):
    """Call ``write(file)`` on a fresh temporary file beside ``path``, fsync it, rename it onto ``path``.

    On any exception (KeyboardInterrupt too) the temporary file is removed and ``path`` is as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp_file(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_folder(path.parent)              # makes the rename itself survive a power cut
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def temp_name_pattern(path):
    """The names of ``path``'s temporary files: ``<name>.<8 hex digits>.tmp`` beside it."""
    return re.compile(re.escape(Path(path).name) + r"\.[0-9a-f]{8}\.tmp")


def create_temp_file(path):
    """(file descriptor, Path) of a new, empty file named by :func:`temp_name_pattern`, opened for writing."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {path}: 100 names were taken")


def fsync_folder(folder):
    """Flush a folder's entries (a rename) to disk; only POSIX systems can open a folder for this."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_temp_files(path):
    """Delete the temporary files a killed :func:`save_checkpoint` of ``path`` left beside it; returns them.

    Only files whose whole name matches :func:`temp_name_pattern` of ``path`` are removed. Call it when no
    other process can be saving to ``path`` (a run's lock held), or it deletes a write in progress.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    pattern = temp_name_pattern(path)
    stale = sorted(p for p in path.parent.iterdir() if pattern.fullmatch(p.name) and p.is_file())
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


# ----- reading -----------------------------------------------------------------------------------------------

def load_checkpoint(path):
    """The state saved by :func:`save_checkpoint` at ``path``, verified against its SHA-256.

    Raises :class:`CheckpointError` (one line, naming the file) if the file is missing, empty, truncated,
    damaged, not a minigrad checkpoint, of a newer format version, or a pickle of an older minigrad.
    """
    path = Path(path)
    check_file_kind(path, read_head(path))
    try:
        with np.load(path, allow_pickle=False) as npz:
            metadata = read_metadata(path, npz)
            document = parse_metadata(path, metadata)        # a newer version may store its arrays otherwise
            arrays, digest = read_arrays(path, npz)
        if content_digest(metadata, arrays) != digest:
            raise damaged(path, "its SHA-256 does not match its content")
        used = set()
        state = decode(document["state"], arrays, used)
        if used != set(arrays):
            raise damaged(path, f"arrays {sorted(set(arrays) - used)} are not part of the state")
    except CheckpointError:
        raise
    except DAMAGE_ERRORS as e:
        raise damaged(path, describe_error(e)) from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"checkpoint {path} does not hold a minigrad training state (no 'model' entry)")
    return state


@contextlib.contextmanager
def fitting(path, what="this model"):
    """Load a checkpoint's state into a model or trainer inside ``with fitting(path):``, so that a state that
    does not fit (load_state_dict's KeyError for other names, ValueError for other shapes) is one
    CheckpointError naming the file, not a traceback."""
    try:
        yield
    except CheckpointError:
        raise
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit {what}: {describe_error(e)}") from None


def damaged(path, what):
    """The CheckpointError of a damaged file: one line, at most a few hundred characters."""
    what = " ".join(str(what).split())
    return CheckpointError(f"checkpoint {path} is damaged or unreadable ({what[:300]})")


def describe_error(error):
    """'TypeName: message' of an exception, or its type's name alone when it has no message."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def read_head(path):
    """The first 8 bytes of the file at ``path``; CheckpointError if it is missing, a folder or unreadable."""
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with open(path, "rb") as f:
            return f.read(8)
    except OSError as e:
        raise CheckpointError(f"checkpoint {path} cannot be read: {e.strerror or e}") from None


def looks_like_pickle(head):
    """Whether bytes start as a pickle of protocol 2 or later does (0x80, then the protocol number)."""
    return len(head) >= 2 and head[0] == 0x80 and head[1] in PICKLE_PROTOCOLS


def is_pickle_file(path):
    """Whether the file at ``path`` starts like a pickle (the format of older minigrad checkpoints).

    Only the first bytes are read; nothing is unpickled. False for a missing file or a folder.
    """
    path = Path(path)
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        return looks_like_pickle(f.read(2))


def check_file_kind(path, head):
    """CheckpointError unless ``head`` (the first bytes) starts like a zip: empty, a pickle, a .npy, other."""
    if not head:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes)")
    if looks_like_pickle(head):
        raise CheckpointError(f"{path} is a pickle checkpoint of an older minigrad; it is not loaded because "
                              "unpickling can run code. Train the run again with this minigrad")
    if head.startswith(NPY_MAGIC):
        raise CheckpointError(f"{path} is a single .npy array, not a minigrad checkpoint (an .npz file)")
    if not head.startswith(ZIP_MAGIC):
        raise CheckpointError(f"{path} is not a minigrad checkpoint (not an .npz file: damaged, or another "
                              "kind of file)")


def read_metadata(path, npz):
    """The metadata bytes of an open NpzFile; CheckpointError if it has none (another program's .npz)."""
    if "metadata" not in npz.files:
        raise CheckpointError(f"{path} is an .npz file but not a minigrad checkpoint (no metadata)")
    metadata = read_member(path, npz, "metadata")
    if metadata.dtype != np.uint8 or metadata.ndim != 1:
        raise damaged(path, f"metadata member of dtype {metadata.dtype} and shape {metadata.shape}")
    return metadata.tobytes()


def read_arrays(path, npz):
    """({name: array} of the array_<i> members, the stored digest) of an open NpzFile, its members checked."""
    names = npz.files
    unexpected = [n for n in names if n not in ("metadata", "sha256") and not ARRAY_NAME.fullmatch(n)]
    if unexpected:
        raise damaged(path, f"unexpected members {unexpected[:3]}")
    if len(set(names)) != len(names) or "sha256" not in names:
        raise damaged(path, "a member is duplicated, or the sha256 member is missing")
    digest = read_member(path, npz, "sha256")
    if digest.dtype != np.uint8 or digest.shape != (32,):
        raise damaged(path, f"sha256 member of dtype {digest.dtype} and shape {digest.shape}")
    return {n: read_member(path, npz, n) for n in names if ARRAY_NAME.fullmatch(n)}, digest.tobytes()


def read_member(path, npz, name):
    """The array stored as ``name`` in the open NpzFile ``npz``; raises one of DAMAGE_ERRORS if it is damaged."""
    with warnings.catch_warnings():           # a damaged header can look like Python 2's, which numpy warns of
        warnings.simplefilter("ignore", UserWarning)
        value = npz[name]
    if not isinstance(value, np.ndarray):         # numpy returns the raw bytes of a member without .npy magic
        raise damaged(path, f"member {name} is not a .npy array")
    return value


def parse_metadata(path, metadata):
    """The JSON document of the metadata bytes; CheckpointError if it is not ours or of a newer version."""
    document = json.loads(metadata.decode("utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{path} is an .npz file but not a minigrad checkpoint (its metadata does not say "
                              f"format {FORMAT!r})")
    version = document.get("version")
    if type(version) is not int or version < 1 or "state" not in document:
        raise damaged(path, f"metadata version {version!r} or state missing")
    if version > VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {version}, newer than this minigrad reads "
                              f"(version {VERSION}); load it with a newer minigrad")
    return document
