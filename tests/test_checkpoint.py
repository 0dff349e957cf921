"""Tests for minigrad.checkpoint: exact round trip, atomic replacement, no code run on load, one clear error
for every bad file, and the opt-in converter of old pickle checkpoints."""

import io
import json
import os
import pickle
import re
import stat
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim, random
from minigrad.checkpoint import is_pickle_file, load_checkpoint, remove_temp_files, save_checkpoint
from minigrad.errors import CheckpointError


def small_model():
    return mg.nn.Sequential(mg.nn.Linear(4, 3), mg.nn.BatchNorm1d(3), mg.nn.ReLU(), mg.nn.Linear(3, 2))


def sample_state(epoch=1):
    """A real training state: weights, Adam after one step, generator states, history and settings."""
    mg.manual_seed(epoch)
    model = small_model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    for p in model.parameters():
        p.grad = np.ones_like(p._data)
    opt.step()
    loader_rng = np.random.default_rng(epoch)
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": random.get_state(),
            "loader": {"rng_state": loader_rng.bit_generator.state}, "epoch": epoch,
            "history": [{"epoch": e, "loss": 1.0 / e} for e in range(1, epoch + 1)],
            "settings": {"lr": 0.01, "betas": (0.9, 0.999)}}


def assert_identical(a, b, where="state"):
    """``b`` is ``a`` exactly: same types (OrderedDict read as dict), dtypes, shapes, bits, key order."""
    if isinstance(a, np.ndarray):
        assert type(b) is np.ndarray, where
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), where
    elif isinstance(a, np.generic):
        assert type(b) is type(a) and a.dtype == b.dtype and a.tobytes() == b.tobytes(), where
    elif isinstance(a, dict):
        assert type(b) is dict and list(a) == list(b), where
        for k in a:
            assert_identical(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(b) is type(a) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert type(b) is float and np.float64(a).tobytes() == np.float64(b).tobytes(), where
    else:
        assert type(b) is type(a) and b == a, where


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def assert_one_line_error(info, path):
    message = str(info.value)
    assert isinstance(info.value, CheckpointError)
    assert "\n" not in message and str(path) in message, message
    return message


# ----- round trip -------------------------------------------------------------------------------------------

def test_round_trip_of_a_training_state(tmp_path):
    state = sample_state()
    path = tmp_path / "nested" / "dir" / "ckpt.npz"       # missing folders are created
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert_identical(state, loaded)
    assert list(loaded["model"]) == list(state["model"])  # an OrderedDict comes back as a dict, same order
    assert leftovers(path.parent) == []
    # str paths work too, and the loaded state restores a model and an optimizer exactly.
    save_checkpoint(str(path), state)
    model = small_model()
    model.load_state_dict(load_checkpoint(str(path))["model"])
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, state["model"][k])
    opt = optim.Adam(model.parameters(), lr=1.0)
    opt.load_state_dict(load_checkpoint(path)["optimizer"])
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["betas"] == (0.9, 0.999)


NAN_WITH_PAYLOAD = np.frombuffer(b"\x01\x00\x00\x00\x00\x00\xf8\x7f", np.float64)[0].item()


def test_exact_round_trip_of_every_storable_type(tmp_path):
    strided = np.arange(24, dtype=np.int16).reshape(4, 6)[::2, 1::2]
    state = OrderedDict(model=OrderedDict(w=np.float32([[1.5, -0.0]])), values={
        "none": None, "true": True, "false": False, "str": "é ✓ \x00 \ud800", "int": -7,
        "big": 2 ** 128 - 1, "negbig": -(2 ** 200), "float": 0.1, "negzero": -0.0, "inf": float("inf"),
        "-inf": float("-inf"), "nan": float("nan"), "nan with a payload": NAN_WITH_PAYLOAD,
        "tuple": (0.9, 0.999), "nested": ((), [()], ([1], {"a": (2,)})), "empty": [[], {}, ()],
        7: "int key", -1: {0: {1: "deep"}}, "0": "str key next to int key 0", 0: "int key 0",
        "scalars": [np.float32(1.25), np.float64("nan"), np.int64(-3), np.uint8(255), np.bool_(True),
                    np.float16(0.5), np.complex64(1 - 2j), np.int8(-128)],
        "arrays": [np.zeros(0), np.zeros((2, 0, 3), np.float32), np.array(3.5), np.array(True),
                   np.arange(6, dtype=">i4").reshape(2, 3), np.asfortranarray(np.ones((3, 2))), strided,
                   np.array([np.nan, -np.inf, 1e-310]), np.array([1 + 1j], np.complex128),
                   np.array([[True, False]]), np.uint64([2 ** 64 - 1]), np.float16([65504])],
        "pcg64": np.random.default_rng(3).bit_generator.state})
    path = tmp_path / "c.npz"
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert_identical(state, loaded)
    assert type(loaded["values"]["nan"]) is float and np.isnan(loaded["values"]["nan"])
    rng = np.random.default_rng()
    rng.bit_generator.state = loaded["values"]["pcg64"]          # 128-bit ints restore the generator
    np.testing.assert_array_equal(rng.random(3), np.random.default_rng(3).random(3))


def test_rng_state_round_trip_repeats_draws(tmp_path):
    mg.manual_seed(7)
    save_checkpoint(tmp_path / "c.npz", {"model": {}, "rng": random.get_state()})
    first = random.get_rng().random(5)
    random.set_state(load_checkpoint(tmp_path / "c.npz")["rng"])
    np.testing.assert_array_equal(random.get_rng().random(5), first)


def test_the_file_is_an_npz_that_numpy_reads_without_pickle(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, sample_state())
    with np.load(path, allow_pickle=False) as npz:
        metadata = json.loads(npz["metadata"].tobytes().decode("utf-8"))
        assert npz["sha256"].shape == (32,) and npz["sha256"].dtype == np.uint8
        assert sorted(n for n in npz.files if n.startswith("array_")) == sorted(
            f"array_{i}" for i in range(len(npz.files) - 2))
    assert metadata["format"] == "minigrad-checkpoint" and metadata["version"] == 1
    key, model = metadata["state"]["dict"][0]
    assert key == "model" and model["dict"][:2] == [["0.weight", {"array": "array_0"}],
                                                    ["0.bias", {"array": "array_1"}]]
    with zipfile.ZipFile(path) as z:                             # stored, not compressed: saving stays fast
        assert {info.compress_type for info in z.infolist()} == {zipfile.ZIP_STORED}


@pytest.mark.parametrize("value,where,what", [
    (lambda: None, "state['callbacks'][0]['fn']", "a function"),
    (print, "state['callbacks'][0]['fn']", "a function"),
    (object(), "state['callbacks'][0]['fn']", "builtins.object"),
    ({1, 2}, "state['callbacks'][0]['fn']", "builtins.set"),
    (b"bytes", "state['callbacks'][0]['fn']", "builtins.bytes"),
    (np.array(["a"]), "state['callbacks'][0]['fn']", "dtype <U1"),
    (np.array([None], dtype=object), "state['callbacks'][0]['fn']", "dtype object"),
    (np.ma.masked_array([1.0]), "state['callbacks'][0]['fn']", "MaskedArray"),
    ({(1, 2): 3}, "state['callbacks'][0]['fn']", "dict key (1, 2)"),
    ({True: 3}, "state['callbacks'][0]['fn']", "dict key True"),
    ({np.int64(1): 3}, "state['callbacks'][0]['fn']", "dict key"),
    (1 + 2j, "state['callbacks'][0]['fn']", "builtins.complex"),
])
def test_unstorable_values_raise_type_error_naming_their_place(tmp_path, value, where, what):
    path = tmp_path / "c.npz"
    with pytest.raises(TypeError) as info:
        save_checkpoint(path, {"model": {}, "callbacks": [{"epoch": 1, "fn": value}]})
    assert str(info.value).startswith(f"{where}: cannot store") and what in str(info.value)
    assert list(tmp_path.iterdir()) == []                       # nothing was written


def test_a_state_that_contains_itself_raises_type_error(tmp_path):
    history = [1]
    history.append(history)
    with pytest.raises(TypeError, match=r"state\['history'\]\[1\]: cannot store a structure that contains itself"):
        save_checkpoint(tmp_path / "c.npz", {"model": {}, "history": history})
    shared = [1.0]                                               # the same list twice is no cycle
    save_checkpoint(tmp_path / "c.npz", {"model": {}, "a": shared, "b": shared})
    assert load_checkpoint(tmp_path / "c.npz")["b"] == [1.0]


def test_a_state_must_be_a_dict_with_a_model_entry(tmp_path):
    with pytest.raises(TypeError, match="training state"):
        save_checkpoint(tmp_path / "c.npz", [1, 2])
    with pytest.raises(ValueError, match="'model' entry"):
        save_checkpoint(tmp_path / "c.npz", {"epoch": 3})
    assert list(tmp_path.iterdir()) == []


# ----- atomic writes ----------------------------------------------------------------------------------------

def test_overwrite_replaces_the_previous_checkpoint(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, sample_state(1))
    save_checkpoint(path, sample_state(2))
    assert_identical(sample_state(2), load_checkpoint(path))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_crash_while_writing_keeps_the_old_checkpoint(tmp_path, monkeypatch, error):
    path = tmp_path / "c.npz"
    old = sample_state(1)
    save_checkpoint(path, old)
    old_bytes = path.read_bytes()
    real_savez = np.savez

    def savez_half_then_crash(f, *args, **kwargs):
        buffer = io.BytesIO()
        real_savez(buffer, *args, **kwargs)
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])   # half a file is on disk when the crash comes
        f.flush()
        raise error

    monkeypatch.setattr(np, "savez", savez_half_then_crash)
    with pytest.raises(type(error)):
        save_checkpoint(path, sample_state(2))
    monkeypatch.undo()

    assert path.read_bytes() == old_bytes
    assert_identical(old, load_checkpoint(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]


def test_crash_at_rename_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    old = sample_state(1)
    save_checkpoint(path, old)
    calls = []

    def failing_replace(src, dst):
        calls.append((src, dst))
        assert os.path.getsize(src) > 0               # the new file was fully written first
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        save_checkpoint(path, sample_state(2))
    monkeypatch.undo()

    assert len(calls) == 1 and str(calls[0][1]) == str(path)
    assert os.path.dirname(calls[0][0]) == str(tmp_path)   # the temporary file sits beside the target
    assert_identical(old, load_checkpoint(path))
    assert leftovers(tmp_path) == []


def test_the_file_is_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    save_checkpoint(tmp_path / "c.npz", sample_state())
    expected = ["fsync file", "replace"] + (["fsync folder"] if os.name == "posix" else [])
    assert events == expected


def test_crash_on_first_save_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("no space left")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "c.npz", sample_state())
    assert list(tmp_path.iterdir()) == []


def test_unstorable_state_leaves_the_old_checkpoint(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, sample_state(1))
    with pytest.raises(TypeError, match=r"state\['bad'\]: cannot store a function"):
        save_checkpoint(path, {"model": {}, "bad": lambda: None})
    assert_identical(sample_state(1), load_checkpoint(path))
    assert leftovers(tmp_path) == []


KILLED_WRITER = """
import os, signal, sys
import numpy as np
from minigrad.checkpoint import save_checkpoint

def savez_then_killed(f, *args, **kwargs):
    f.write(b"PK\\x03\\x04 half a checkpoint")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)        # kill -9: no cleanup runs

np.savez = savez_then_killed
save_checkpoint(sys.argv[1], {"model": {"w": np.zeros(3)}})
"""


@pytest.mark.skipif(not hasattr(os, "kill") or os.name != "posix", reason="needs SIGKILL")
def test_remove_temp_files_removes_exactly_the_stale_temp_files_of_that_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, sample_state(1))
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)], capture_output=True, timeout=120)
    assert killed.returncode == -9, killed.stderr.decode()
    stale = [p.name for p in tmp_path.iterdir() if p.name != "ckpt.npz"]
    assert len(stale) == 1 and stale[0].startswith("ckpt.npz.") and stale[0].endswith(".tmp")
    (tmp_path / "ckpt.npz.0123abcd.tmp").write_bytes(b"left by an earlier kill")
    stale.append("ckpt.npz.0123abcd.tmp")

    others = ["ckpt.npz.tmp", "ckpt.npz.1234567.tmp", "ckpt.npz.ABCDEF12.tmp", "ckpt.npz.0123abcd.tmp.keep",
              "other.npz.0123abcd.tmp", "xckpt.npz.0123abcd.tmp", "ckpt.npz.0123abcd.tm", "ckpt.npz.0123abcde.tmp"]
    for name in others:
        (tmp_path / name).write_bytes(b"not a temporary file of ckpt.npz")
    (tmp_path / "ckpt.npz.deadbeef.tmp").mkdir()               # a folder is never removed
    others.append("ckpt.npz.deadbeef.tmp")

    removed = remove_temp_files(path)
    assert sorted(p.name for p in removed) == sorted(stale) and all(p.parent == tmp_path for p in removed)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ckpt.npz", *others])
    assert_identical(sample_state(1), load_checkpoint(path))
    assert remove_temp_files(path) == [] and remove_temp_files(tmp_path / "absent" / "c.npz") == []


# ----- files that are not checkpoints, or damaged ones ------------------------------------------------------

def test_missing_file_or_folder_raises_checkpoint_error_naming_it(tmp_path):
    path = tmp_path / "nowhere" / "ckpt.npz"
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "no checkpoint at" in assert_one_line_error(info, path)
    with pytest.raises(CheckpointError, match="is a folder") as info:
        load_checkpoint(tmp_path)
    assert_one_line_error(info, tmp_path)


def test_every_tenth_truncation_raises_checkpoint_error(tmp_path):
    path, cut_path = tmp_path / "c.npz", tmp_path / "cut.npz"
    save_checkpoint(path, sample_state())
    data = path.read_bytes()
    for cut in range(0, len(data), 10):
        cut_path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(cut_path)
        assert_one_line_error(info, cut_path)


@pytest.mark.parametrize("content,expected", [
    (b"", "is empty"),
    (b"not a checkpoint at all", "not an .npz file"),
    (b"PK", "not an .npz file"),
    (b"PK\x03\x04" + b"\x00" * 40, "damaged"),
    (b"\x93NUMPY\x01\x00", "a single .npy array"),
], ids=["empty", "text", "two-bytes", "zip-header-only", "npy"])
def test_files_that_are_not_npz_raise_checkpoint_error(tmp_path, content, expected):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=expected) as info:
        load_checkpoint(path)
    assert_one_line_error(info, path)


def test_an_npz_that_is_not_ours_says_so(tmp_path):
    path = tmp_path / "bloodmnist.npz"                           # what passing the data file by mistake gives
    np.savez(path, train_images=np.zeros((2, 28, 28, 3), np.uint8), train_labels=np.zeros((2, 1), np.uint8))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "is an .npz file but not a minigrad checkpoint (no metadata)" in assert_one_line_error(info, path)


def rewrite_npz(src, dst, change):
    """Copy the members of the checkpoint ``src`` into a new, valid zip ``dst``, after ``change(members)``."""
    with np.load(src, allow_pickle=False) as npz:
        members = {name: npz[name] for name in npz.files}
    change(members)
    np.savez(dst, **members)


def metadata_of(members):
    return json.loads(members["metadata"].tobytes())


def with_metadata(members, document):
    members["metadata"] = np.frombuffer(json.dumps(document).encode(), np.uint8)


def change_one_weight(m):
    m["array_0"] = m["array_0"].copy()
    m["array_0"].flat[0] = np.nextafter(m["array_0"].flat[0], np.float32(np.inf))


@pytest.mark.parametrize("change,expected", [
    (change_one_weight, "SHA-256 does not match"),                               # zip CRCs valid, content not
    (lambda m: m.update(array_0=m["array_0"].astype(np.float64)), "SHA-256 does not match"),
    (lambda m: m.update(array_0=m["array_0"].T.copy()), "SHA-256 does not match"),
    (lambda m: m.update(array_0=np.asfortranarray(m["array_0"].T).T), None),     # same content: loads
    (lambda m: m.update(array_0=m["array_1"], array_1=m["array_0"]), "SHA-256 does not match"),
    (lambda m: m.update(metadata=np.frombuffer(m["metadata"].tobytes().replace(b"0.01", b"0.02"), np.uint8)),
     "SHA-256 does not match"),
    (lambda m: m.update(sha256=np.zeros(32, np.uint8)), "SHA-256 does not match"),
    (lambda m: m.pop("sha256"), "sha256 member is missing"),
    (lambda m: m.pop("array_3"), "SHA-256 does not match"),
    (lambda m: m.update(array_999=np.zeros(2)), "SHA-256 does not match"),
    (lambda m: m.update(extra=np.zeros(2)), "unexpected members"),
    (lambda m: m.update(sha256=np.zeros(31, np.uint8)), "sha256 member"),
    (lambda m: m.update(metadata=np.frombuffer(b"{not json", np.uint8)), "JSONDecodeError"),
    (lambda m: m.update(metadata=np.frombuffer(b"\xff\xfe", np.uint8)), "UnicodeDecodeError"),
    (lambda m: m.update(metadata=np.array([1.0])), "metadata member of dtype float64"),
    (lambda m: with_metadata(m, {**metadata_of(m), "version": "1"}), "version '1'"),
    (lambda m: with_metadata(m, {**metadata_of(m), "version": 2}), "format version 2, newer than this minigrad"),
    (lambda m: with_metadata(m, {**metadata_of(m), "format": "other"}), "not a minigrad checkpoint"),
    (lambda m: with_metadata(m, [1, 2]), "not a minigrad checkpoint"),
], ids=["weight", "dtype", "shape", "layout", "swapped", "metadata", "digest", "no-digest", "missing-array",
        "extra-array", "extra-member", "short-digest", "json", "utf8", "metadata-dtype", "version-type",
        "newer-version", "format", "not-a-dict"])
def test_damage_that_the_zip_cannot_see_raises_checkpoint_error(tmp_path, change, expected):
    path, changed = tmp_path / "c.npz", tmp_path / "changed.npz"
    state = sample_state()
    save_checkpoint(path, state)
    rewrite_npz(path, changed, change)
    if expected is None:
        assert_identical(state, load_checkpoint(changed))
        return
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(changed)
    assert expected in assert_one_line_error(info, changed)


def test_a_consistent_digest_over_a_foreign_structure_is_still_refused(tmp_path):
    from minigrad.checkpoint import content_digest                # someone wrote the digest right: the
    path = tmp_path / "c.npz"                                      # structure is checked all the same
    cases = [({"dict": [["model", {"array": "array_0"}], ["x", {"array": "array_0"}]]}, "used twice"),
             ({"dict": [["model", {"dict": []}]]}, "not part of the state"),
             ({"dict": [["model", {"set": []}]]}, "unexpected 'set'"),
             ({"dict": [["model", None], ["model", None]]}, "not a [key, value] pair with a new"),
             ({"dict": [["model", {"scalar": "array_0"}]]}, "scalar array_0 has shape (2,)"),
             ({"tuple": [{"array": "array_0"}]}, "no 'model' entry")]
    for structure, expected in cases:
        metadata = json.dumps({"format": "minigrad-checkpoint", "version": 1, "state": structure}).encode()
        arrays = {"array_0": np.zeros(2)}
        np.savez(path, metadata=np.frombuffer(metadata, np.uint8),
                 sha256=np.frombuffer(content_digest(metadata, arrays), np.uint8), **arrays)
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        assert expected in assert_one_line_error(info, path), structure


# ----- no code runs on load; old pickle checkpoints ---------------------------------------------------------

class Payload:
    """Unpickling this creates the marker file (as os.system(...) would run a command)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def unpickle_in_subprocess(path):
    subprocess.run([sys.executable, "-c", "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))", str(path)],
                   check=True, capture_output=True, timeout=60)


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_payload_is_refused_and_runs_nothing(tmp_path, protocol):
    marker, path = tmp_path / "marker", tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"model": {}, "x": Payload(marker)}, protocol=protocol))
    unpickle_in_subprocess(path)                                # the payload is live: unpickling runs it
    assert marker.exists()
    marker.unlink()

    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert_one_line_error(info, path)
    assert not marker.exists()


def test_a_pickled_object_array_inside_the_npz_is_refused_and_runs_nothing(tmp_path):
    marker, path = tmp_path / "marker", tmp_path / "evil.npz"
    good = tmp_path / "good.npz"
    save_checkpoint(good, {"model": {"w": np.zeros(2)}})
    payload = np.empty(1, dtype=object)
    payload[0] = Payload(marker)
    rewrite_npz(good, path, lambda m: m.update(array_0=payload))   # np.savez pickles the object array
    with pytest.raises(CheckpointError, match="Object arrays cannot be loaded") as info:
        load_checkpoint(path)
    assert_one_line_error(info, path)
    assert not marker.exists()


def old_pickle_checkpoint(path, state):
    """What minigrad wrote before this format: the state, pickled with the highest protocol."""
    path.write_bytes(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def test_an_old_pickle_checkpoint_is_refused_without_being_unpickled(tmp_path):
    path = tmp_path / "checkpoint_cnn.pkl"
    old_pickle_checkpoint(path, sample_state())
    assert is_pickle_file(path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = assert_one_line_error(info, path)
    assert message == (f"{path} is a pickle checkpoint of an older minigrad; it is not loaded because unpickling "
                       f"can run code. Train the run again with this minigrad")


def test_is_pickle_file_reads_only_the_header(tmp_path):
    save_checkpoint(tmp_path / "new.npz", sample_state())
    (tmp_path / "text").write_bytes(b"\x80")
    assert not is_pickle_file(tmp_path / "new.npz")
    assert not is_pickle_file(tmp_path / "text") and not is_pickle_file(tmp_path / "absent")
    assert not is_pickle_file(tmp_path)
    (tmp_path / "p").write_bytes(pickle.dumps([1], protocol=4))
    assert is_pickle_file(tmp_path / "p") and is_pickle_file(str(tmp_path / "p"))


def test_nothing_in_minigrad_or_models_imports_or_calls_pickle():
    uses = []
    root = Path(mg.__file__).parent.parent
    for file in sorted([*(root / "minigrad").rglob("*.py"), *(root / "models").rglob("*.py")]):
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(r"\bimport pickle\b|\bfrom pickle\b|\bpickle\.load", line):
                uses.append((file.name, number))
    assert uses == []
