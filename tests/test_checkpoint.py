"""Tests for minigrad.checkpoint: round trip, atomic replacement, and clear errors for bad files."""

import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim, random
from minigrad.checkpoint import load_checkpoint, save_checkpoint


def sample_state(epoch=1):
    mg.manual_seed(epoch)
    model = mg.nn.Sequential(mg.nn.Linear(4, 3), mg.nn.ReLU(), mg.nn.Linear(3, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": random.get_state(),
            "epoch": epoch, "history": [{"epoch": e, "loss": 1.0 / e} for e in range(1, epoch + 1)],
            "settings": {"lr": 0.01, "betas": (0.9, 0.999)}}


def assert_same_state(a, b):
    assert set(a) == set(b)
    assert list(a["model"]) == list(b["model"])
    for k in a["model"]:
        assert a["model"][k].dtype == b["model"][k].dtype
        np.testing.assert_array_equal(a["model"][k], b["model"][k])
    for i, s in a["optimizer"]["state"].items():
        assert s["step"] == b["optimizer"]["state"][i]["step"]
        np.testing.assert_array_equal(s["exp_avg"], b["optimizer"]["state"][i]["exp_avg"])
        np.testing.assert_array_equal(s["exp_avg_sq"], b["optimizer"]["state"][i]["exp_avg_sq"])
    assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
    assert a["rng"] == b["rng"]
    assert a["epoch"] == b["epoch"] and a["history"] == b["history"] and a["settings"] == b["settings"]


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_round_trip(tmp_path):
    state = sample_state()
    path = tmp_path / "nested" / "dir" / "ckpt.pkl"       # missing folders are created
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert_same_state(loaded, state)
    assert isinstance(loaded["model"], OrderedDict)
    assert leftovers(path.parent) == []
    # str paths work too, and the loaded state restores a model exactly.
    save_checkpoint(str(path), state)
    model = mg.nn.Sequential(mg.nn.Linear(4, 3), mg.nn.ReLU(), mg.nn.Linear(3, 2))
    model.load_state_dict(load_checkpoint(str(path))["model"])
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, state["model"][k])


def test_rng_state_round_trip_repeats_draws(tmp_path):
    mg.manual_seed(7)
    save_checkpoint(tmp_path / "c.pkl", {"model": {}, "rng": random.get_state()})
    first = random.get_rng().random(5)
    random.set_state(load_checkpoint(tmp_path / "c.pkl")["rng"])
    np.testing.assert_array_equal(random.get_rng().random(5), first)


def test_overwrite_replaces_the_previous_checkpoint(tmp_path):
    path = tmp_path / "c.pkl"
    save_checkpoint(path, sample_state(1))
    save_checkpoint(path, sample_state(2))
    assert_same_state(load_checkpoint(path), sample_state(2))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_crash_while_writing_keeps_the_old_checkpoint(tmp_path, monkeypatch, error):
    path = tmp_path / "c.pkl"
    old = sample_state(1)
    save_checkpoint(path, old)
    old_bytes = path.read_bytes()
    real_dump = pickle.dump

    def dump_half_then_crash(obj, f, *args, **kwargs):
        data = pickle.dumps(obj, *args, **kwargs)
        f.write(data[: len(data) // 2])             # half a pickle is on disk when the crash comes
        f.flush()
        raise error

    monkeypatch.setattr(pickle, "dump", dump_half_then_crash)
    with pytest.raises(type(error)):
        save_checkpoint(path, sample_state(2))
    monkeypatch.setattr(pickle, "dump", real_dump)

    assert path.read_bytes() == old_bytes
    assert_same_state(load_checkpoint(path), old)
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pkl"]


def test_crash_at_rename_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.pkl"
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
    assert_same_state(load_checkpoint(path), old)
    assert leftovers(tmp_path) == []


def test_crash_on_first_save_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("no space left")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "c.pkl", sample_state())
    assert list(tmp_path.iterdir()) == []


def test_unpicklable_state_leaves_the_old_checkpoint(tmp_path):
    path = tmp_path / "c.pkl"
    save_checkpoint(path, sample_state(1))
    with pytest.raises(Exception):
        save_checkpoint(path, {"model": {}, "bad": lambda: None})    # lambdas cannot be pickled
    assert_same_state(load_checkpoint(path), sample_state(1))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.5, 0.9, 0.999])
def test_truncated_file_raises_value_error_naming_it(tmp_path, fraction):
    path = tmp_path / "c.pkl"
    save_checkpoint(path, sample_state())
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ValueError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert "damaged" in str(info.value)


def test_every_truncation_raises_value_error(tmp_path):
    path = tmp_path / "c.pkl"
    save_checkpoint(path, sample_state())
    data = path.read_bytes()
    for cut in range(0, len(data), 7):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="damaged"):
            load_checkpoint(path)


@pytest.mark.parametrize("content", [
    b"not a pickle at all",
    b"\x80\x05\x95\xff\xff\xff\xff",                     # a frame that claims more bytes than there are
    pickle.dumps({"model": {"w": np.zeros(2)}}).replace(b"numpy", b"nympy"),   # a damaged module name
    pickle.dumps({"model": {"w": np.zeros(2)}}).replace(b"\x8c\x02f8", b"\x8c\x02f!"),   # a damaged dtype
    pickle.dumps(OrderedDict(model={})).replace(b"collections", b"c0llections"),
], ids=["text", "short-frame", "module-name", "dtype", "class-module"])
def test_damaged_file_raises_value_error_naming_it(tmp_path, content):
    path = tmp_path / "damaged.pkl"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("obj", [[1, 2, 3], {"epoch": 3}, np.zeros(3)])
def test_pickle_that_is_not_a_training_state_raises(tmp_path, obj):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps(obj))
    with pytest.raises(ValueError, match="'model'") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_missing_file_raises_file_not_found_naming_it(tmp_path):
    path = tmp_path / "nowhere" / "ckpt.pkl"
    with pytest.raises(FileNotFoundError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path)                        # a folder is not a checkpoint
