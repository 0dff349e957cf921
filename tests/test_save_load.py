"""minigrad.serialization.save / load: exact round trips of state_dicts (model and Adam) and nested values,
Tensors back as Tensors, TypeError naming the place of what cannot be saved, no pickle on load, and the
same container structure torch.save / torch.load give for the same object."""

import math
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad import optim
from minigrad.checkpoint import save_checkpoint
from minigrad.errors import CheckpointError
from minigrad.serialization import load, save


def small_model():
    return mg.nn.Sequential(mg.nn.Linear(4, 3), mg.nn.BatchNorm1d(3), mg.nn.ReLU(), mg.nn.Linear(3, 2))


def train_steps(model, opt, steps, seed):
    """A few real Adam steps on a fixed batch, so the optimizer has state."""
    rng = np.random.default_rng(seed)
    x = mg.Tensor(rng.standard_normal((8, 4)).astype(np.float32))
    for _ in range(steps):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()


def assert_same(a, b, where="obj"):
    """Equal structure, types, dtypes and values (NaN equal to NaN), recursively."""
    assert type(a) is type(b), f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, mg.Tensor):
        assert a.dtype == b.dtype and a.requires_grad == b.requires_grad, where
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=where)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b), where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def test_model_and_adam_round_trip_and_load_state_dict(tmp_path):
    mg.manual_seed(0)
    model = small_model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    train_steps(model, opt, 3, seed=1)
    obj = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}
    save(obj, tmp_path / "run.npz")
    loaded = load(tmp_path / "run.npz")

    assert list(loaded) == ["model", "optimizer", "epoch"] and loaded["epoch"] == 3
    assert_same(loaded["optimizer"], opt.state_dict())          # int keys, tuples (betas), step counts, arrays
    assert_same(dict(loaded["model"]), dict(model.state_dict()))

    mg.manual_seed(99)                                          # other initial weights: loading must set them
    model2 = small_model()
    opt2 = optim.Adam(model2.parameters(), lr=0.5)
    model2.load_state_dict(loaded["model"])
    opt2.load_state_dict(loaded["optimizer"])
    assert opt2.param_groups[0]["lr"] == 0.01

    train_steps(model, opt, 2, seed=2)                          # the resumed copy continues bit for bit
    train_steps(model2, opt2, 2, seed=2)
    assert_same(dict(model2.state_dict()), dict(model.state_dict()))
    assert_same(opt2.state_dict(), opt.state_dict())


def test_tensors_come_back_as_tensors(tmp_path):
    obj = OrderedDict([
        ("w", mg.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)),
        ("labels", mg.Tensor(np.array([0, 2, 1], dtype=np.int64))),
        ("mask", mg.Tensor(np.array([True, False]))),
        ("double", mg.Tensor(np.array([1.5], dtype=np.float64))),
        ("array", np.arange(4, dtype=np.int16)),
        ("scalar", np.float32(2.5)),
        ("nested", [mg.Tensor(np.ones(2, dtype=np.float32)), (1, mg.Tensor(np.zeros((0, 3), dtype=np.float32)))]),
        (7, {"inner": mg.Tensor(np.float32(3.0))}),          # an int key and a 0-d tensor
    ])
    save(obj, tmp_path / "t.npz")
    loaded = load(tmp_path / "t.npz")
    expected = dict(obj)                                     # an OrderedDict comes back as a dict, same order
    assert_same(loaded, expected)
    assert loaded["w"].requires_grad and loaded["w"].grad is None and loaded["w"].is_leaf
    assert not loaded["labels"].requires_grad


def test_json_values_round_trip(tmp_path):
    obj = {"none": None, "flags": [True, False], "text": "épochs ✓", "int": 2 ** 70, "neg": -3,
           "floats": [0.1, -0.0, float("inf"), float("-inf"), float("nan")], "tuple": (1, "a", None),
           "empty": {}, "empty_list": [], "deep": {"a": [{"b": [[1, 2], {"c": 3.25}]}]}}
    save(obj, tmp_path / "j.npz")
    loaded = load(tmp_path / "j.npz")
    assert_same(loaded, obj)
    assert math.copysign(1.0, loaded["floats"][1]) == -1.0           # -0.0 kept, bit for bit


@pytest.mark.parametrize("obj", [mg.Tensor(np.arange(3, dtype=np.float32)), [1, 2.0], 5, None, "text", {}])
def test_any_root_value(tmp_path, obj):
    save(obj, tmp_path / "root.npz")
    assert_same(load(tmp_path / "root.npz"), obj)


def test_structure_like_torch_save(tmp_path):
    """torch.save / torch.load of the same object give the same containers, keys and tensor places."""
    def make(tensor):
        return {"model": OrderedDict([("fc.weight", tensor(np.ones((2, 2), dtype=np.float32)))]),
                "optimizer": {"state": {0: {"step": 1, "exp_avg": tensor(np.zeros(2, dtype=np.float32))}},
                              "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0]}]},
                "epoch": 3, "note": None}

    torch.save(make(torch.from_numpy), tmp_path / "theirs.pt")
    theirs = torch.load(tmp_path / "theirs.pt", weights_only=True)
    save(make(mg.Tensor), tmp_path / "ours.npz")
    ours = load(tmp_path / "ours.npz")

    def shape_of(value):
        if isinstance(value, (mg.Tensor, torch.Tensor)):
            return ("tensor", str(value.dtype).replace("torch.", ""), tuple(value.shape))
        if isinstance(value, dict):
            return {k: shape_of(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(shape_of(v) for v in value)
        return value

    assert shape_of(ours) == shape_of(theirs)


@pytest.mark.parametrize("obj, place, kind", [
    ({"fn": print}, r"obj\['fn'\]", "a function"),
    ({"model": {"layers": [1, {"act": object()}]}}, r"obj\['model'\]\['layers'\]\[1\]\['act'\]", "builtins.object"),
    ({"a": {1, 2}}, r"obj\['a'\]", "builtins.set"),
    ({"a": np.array(["x"])}, r"obj\['a'\]", "dtype <U1"),
    ({"a": np.array([None], dtype=object)}, r"obj\['a'\]", "dtype object"),
    ({"a": {(1, 2): 3}}, r"obj\['a'\]", "dict key \\(1, 2\\) of type builtins.tuple"),
    ({"a": [mg.Tensor([1.0]), mg.nn.Linear(2, 2)]}, r"obj\['a'\]\[1\]", "minigrad.nn.*Linear"),
    (np.ma.masked_array([1, 2]), "obj", "subclass of np.ndarray"),
])
def test_unsavable_values_raise_type_error_naming_place_and_type(tmp_path, obj, place, kind):
    path = tmp_path / "bad.npz"
    with pytest.raises(TypeError, match=f"^{place}: .*{kind}"):
        save(obj, path)
    assert not path.exists() and list(tmp_path.iterdir()) == []       # nothing written, no temporary file


def test_self_containing_structure_raises(tmp_path):
    loop = {"a": []}
    loop["a"].append(loop)
    with pytest.raises(TypeError, match=r"obj\['a'\]\[0\]: cannot save a structure that contains itself"):
        save(loop, tmp_path / "loop.npz")


def test_failed_save_leaves_the_old_file(tmp_path):
    path = tmp_path / "keep.npz"
    save({"epoch": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save({"epoch": 2, "fn": len}, path)
    assert path.read_bytes() == before and load(path) == {"epoch": 1}


def test_load_never_unpickles(tmp_path, monkeypatch):
    save({"w": mg.Tensor(np.ones(3, dtype=np.float32)), "epoch": 1}, tmp_path / "a.npz")
    real_load, calls = np.load, []

    def spy_load(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    def no_pickle(*args, **kwargs):
        raise AssertionError("pickle used while loading")

    monkeypatch.setattr(np, "load", spy_load)
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, no_pickle)
    assert load(tmp_path / "a.npz")["epoch"] == 1
    assert calls == [False]


def test_foreign_and_damaged_files_raise_checkpoint_error(tmp_path):
    (tmp_path / "p.pkl").write_bytes(pickle.dumps({"epoch": 1}))
    with pytest.raises(CheckpointError, match="pickle"):
        load(tmp_path / "p.pkl")
    torch.save({"w": torch.ones(2)}, tmp_path / "torch.pt")          # a zip holding a pickle: not opened as one
    with pytest.raises(CheckpointError, match="not a minigrad checkpoint"):
        load(tmp_path / "torch.pt")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load(tmp_path / "missing.npz")

    path = tmp_path / "d.npz"
    save({"w": np.arange(1000, dtype=np.float64)}, path)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("array_0.npy")
    raw[info.header_offset + 200] ^= 0xFF                             # a flipped bit inside the array's data
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="damaged"):
        load(path)


def test_reads_a_training_checkpoint(tmp_path):
    state = {"model": {"w": np.ones(2, dtype=np.float32)}, "epoch": 4}
    save_checkpoint(tmp_path / "ckpt.npz", state)
    assert_same(load(tmp_path / "ckpt.npz"), state)


def test_path_must_be_a_file_name(tmp_path):
    with open(tmp_path / "f.npz", "wb") as f, pytest.raises(TypeError, match="file name .* got a value of type"):
        save({"a": 1}, f)
    save({"a": 1}, str(tmp_path / "s.npz"))                          # a str works like a Path
    assert load(str(tmp_path / "s.npz")) == {"a": 1}
