"""PyTorch's container and Module idioms on minigrad.nn, each checked against torch 2.13 (CPU).

Most tests build the same model twice, once with ``torch.nn`` and once with ``minigrad.nn``, through one
function that takes the library as an argument, do the same things to both and compare names, order and
dtypes. ``describe`` reduces a model to its (name, shape) pairs, which both libraries can be compared on.
"""

import re
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.backend import cupy_available
from minigrad.tensor import Tensor

torch = pytest.importorskip("torch")


def describe(module):
    """[(name, shape)] of every parameter, in order."""
    return [(name, tuple(p.shape)) for name, p in module.named_parameters()]


def state_names(module):
    return list(module.state_dict())


def linears(lib, *sizes):
    """Linear(sizes[0], sizes[1]), Linear(sizes[1], sizes[2]), ...: distinct shapes make the order visible."""
    return [lib.Linear(a, b) for a, b in zip(sizes, sizes[1:])]


def copy_weights(ours, theirs):
    """Load minigrad's weights into the torch twin (same names), as float64."""
    theirs.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in ours.state_dict().items()})


# ----------------------------------------------------------------------------- ModuleList

def test_module_list_registers_its_modules_under_torch_names():
    def build(lib):
        class Net(lib.Module):
            def __init__(self):
                super().__init__()
                self.blocks = lib.ModuleList(linears(lib, 2, 3, 4))
                self.head = lib.Linear(4, 1)

        return Net()

    ours, theirs = build(nn), build(torch.nn)
    assert describe(ours) == describe(theirs)
    assert describe(ours)[0] == ("blocks.0.weight", (3, 2))
    assert state_names(ours) == state_names(theirs)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


def test_module_list_append_extend_insert_pop_and_del_as_torch():
    def edit(lib):
        ml = lib.ModuleList()
        assert ml.append(lib.Linear(1, 2)) is ml
        assert ml.extend(linears(lib, 2, 3, 4)) is ml
        ml.insert(0, lib.Linear(9, 1))
        ml.insert(len(ml), lib.Linear(4, 5))
        ml.insert(2, lib.Linear(7, 7))
        ml += [lib.Linear(5, 6)]
        popped = ml.pop(1)
        del ml[0]
        return ml, popped

    ours, popped = edit(nn)
    theirs, t_popped = edit(torch.nn)
    assert describe(ours) == describe(theirs)
    assert tuple(popped.weight.shape) == tuple(t_popped.weight.shape)
    assert len(ours) == len(theirs) == 5
    assert [n for n, _ in ours.named_children()] == ["0", "1", "2", "3", "4"]
    assert [m.in_features for m in ours] == [m.in_features for m in theirs]


def test_module_list_indexing_slices_and_negative_indices():
    mods = linears(nn, 1, 2, 3, 4, 5)
    ml = nn.ModuleList(mods)
    t_ml = torch.nn.ModuleList(linears(torch.nn, 1, 2, 3, 4, 5))
    assert ml[0] is mods[0] and ml[-1] is mods[-1] and ml[-4] is mods[0]
    assert list(ml) == mods and len(ml) == 4

    part, t_part = ml[1:3], t_ml[1:3]
    assert type(part) is nn.ModuleList and list(part) == mods[1:3]
    assert describe(part) == describe(t_part)            # renumbered from 0, as torch
    assert describe(ml[::-2]) == describe(t_ml[::-2])
    assert len(ml[10:]) == 0

    ml[-1] = nn.Linear(4, 9)
    t_ml[-1] = torch.nn.Linear(4, 9)
    assert describe(ml) == describe(t_ml)
    del ml[1::2]
    del t_ml[1::2]
    assert describe(ml) == describe(t_ml)

    for index in (2, -3):
        with pytest.raises(IndexError, match=f"index {index} is out of range"):
            ml[index]
        with pytest.raises(IndexError, match=f"index {index} is out of range"):
            t_ml[index]
    with pytest.raises(TypeError):
        ml["0"]


def test_module_list_concatenation_and_errors():
    a, b = nn.ModuleList(linears(nn, 1, 2)), nn.ModuleList(linears(nn, 2, 3, 4))
    both = a + b
    t_both = torch.nn.ModuleList(linears(torch.nn, 1, 2)) + torch.nn.ModuleList(linears(torch.nn, 2, 3, 4))
    assert type(both) is nn.ModuleList and describe(both) == describe(t_both)
    assert len(a) == 1                                      # + makes a new list
    a.extend(a)                                             # extending by itself doubles it once
    assert len(a) == 2 and a[0] is a[1]
    assert [n for n, _ in a.named_parameters()] == ["0.weight", "0.bias"]    # the shared module counts once

    with pytest.raises(TypeError, match="iterable, but got int"):
        nn.ModuleList(3)
    with pytest.raises(TypeError, match="function is not a Module subclass"):
        nn.ModuleList([nn.Linear(1, 1), lambda x: x])
    with pytest.raises(TypeError, match="expected a Module, got str"):
        a.insert(0, "relu")
    with pytest.raises(IndexError, match=r"index 5 is out of range for 2 modules \(expected -2 <= index <= 2\)"):
        nn.ModuleList(linears(nn, 1, 2, 3)).insert(5, nn.ReLU())
    with pytest.raises(NotImplementedError, match="ModuleList must define forward"):
        a(Tensor(np.ones((1, 1), dtype=np.float32)))


def test_module_list_insert_with_negative_index_is_list_insert():
    mods = linears(nn, 1, 2, 3, 4)
    ml = nn.ModuleList(mods)
    new = nn.ReLU()
    ml.insert(-1, new)                      # torch's ModuleList.insert breaks here; list.insert's meaning
    expected = list(mods)
    expected.insert(-1, new)
    assert list(ml) == expected
    assert [n for n, _ in ml.named_children()] == ["0", "1", "2", "3"]


# ----------------------------------------------------------------------------- ModuleDict

def test_module_dict_interface_as_torch():
    def build(lib):
        md = lib.ModuleDict({"encoder": lib.Linear(2, 3), "act": lib.ReLU()})
        md["decoder"] = lib.Linear(3, 2)
        md.update([("extra", lib.Linear(2, 7)), ("encoder", lib.Linear(2, 5))])   # replaced in place
        md.update(OrderedDict([("z", lib.Linear(1, 1))]))
        md.update(lib.ModuleDict({"y": lib.Linear(1, 2)}))
        popped = md.pop("extra")
        del md["z"]
        return md, popped

    ours, popped = build(nn)
    theirs, _ = build(torch.nn)
    assert list(ours.keys()) == list(theirs.keys()) == ["encoder", "act", "decoder", "y"]
    assert list(ours) == list(theirs)
    assert describe(ours) == describe(theirs)
    assert describe(ours)[0] == ("encoder.weight", (5, 2))
    assert [k for k, _ in ours.items()] == list(ours.keys())
    assert list(ours.values()) == [ours[k] for k in ours.keys()]
    assert "act" in ours and "extra" not in ours and isinstance(popped, nn.Linear)
    assert len(ours) == len(theirs) == 4
    ours.clear()
    assert len(ours) == 0 and list(ours.parameters()) == []

    # Inside a model, its keys are part of the parameter names.
    def owner(lib):
        class Heads(lib.Module):
            def __init__(self):
                super().__init__()
                self.heads = lib.ModuleDict({"digit": lib.Linear(4, 10), "parity": lib.Linear(4, 2)})

        return Heads()

    assert describe(owner(nn)) == describe(owner(torch.nn))
    assert state_names(owner(nn)) == ["heads.digit.weight", "heads.digit.bias", "heads.parity.weight",
                                      "heads.parity.bias"]


@pytest.mark.parametrize("key, error, message", [
    ("keys", KeyError, "attribute 'keys' already exists"),     # a method's name, refused as in torch
    ("training", KeyError, "attribute 'training' already exists"),
    ("a.b", KeyError, 'must not contain "." or be empty'),
    ("", KeyError, 'must not contain "." or be empty'),
    (3, TypeError, "module name should be a string. Got int"),
])
def test_module_dict_rejects_the_keys_torch_rejects(key, error, message):
    with pytest.raises(error):
        torch.nn.ModuleDict({key: torch.nn.ReLU()})
    with pytest.raises(error, match=re.escape(message)):
        nn.ModuleDict({key: nn.ReLU()})


def test_module_dict_update_errors_and_missing_keys():
    md = nn.ModuleDict()
    with pytest.raises(TypeError, match="iterable of key/value pairs, but got int"):
        md.update(3)
    with pytest.raises(TypeError, match="element #0 should be a \\(key, module\\) pair; is int"):
        md.update([1])
    with pytest.raises(ValueError, match="element #1 has length 3; 2 is required"):
        md.update([("a", nn.ReLU()), ("b", nn.ReLU(), "c")])
    with pytest.raises(TypeError, match="dict is not a Module subclass"):
        md["x"] = {}
    with pytest.raises(KeyError, match=r"'missing' is not a key of this ModuleDict \(keys: \['a'\]\)"):
        md["missing"]
    with pytest.raises(KeyError, match="'missing'"):
        del md["missing"]
    assert list(md) == ["a"]                  # the good pair before the bad one was kept, as in torch


# ----------------------------------------------------------------------------- Sequential

def test_sequential_slice_is_a_sequential_keeping_names_as_torch():
    mg.manual_seed(0)
    seq = nn.Sequential(*linears(nn, 2, 3, 4, 5))
    t_seq = torch.nn.Sequential(*linears(torch.nn, 2, 3, 4, 5)).double()
    copy_weights(seq, t_seq)
    tail, t_tail = seq[1:], t_seq[1:]
    assert type(tail) is nn.Sequential
    assert describe(tail) == describe(t_tail) == [("1.weight", (4, 3)), ("1.bias", (4,)),
                                                  ("2.weight", (5, 4)), ("2.bias", (5,))]
    assert list(tail) == list(seq)[1:] and tail[0] is seq[1]          # the same modules, not copies
    assert describe(seq[::2]) == describe(t_seq[::2])
    assert describe(seq[-1:]) == describe(t_seq[-1:])

    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(tail.to(np.float64)(Tensor(x)).numpy(), t_tail(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12)


def test_sequential_append_insert_extend_and_del_as_torch():
    def edit(lib):
        seq = lib.Sequential(lib.Linear(2, 3))
        assert seq.append(lib.Linear(3, 4)) is seq
        assert seq.insert(0, lib.Linear(8, 2)) is seq
        assert seq.insert(-1, lib.Linear(3, 3)) is seq
        assert seq.insert(len(seq), lib.Linear(4, 6)) is seq
        assert seq.extend(linears(lib, 6, 7, 1)) is seq
        seq[1] = lib.Linear(8, 8)                       # replaced in place: the order is kept
        del seq[0]
        del seq[-2:]
        popped = seq.pop(0)
        seq += lib.Sequential(lib.Linear(1, 9))
        return seq, popped

    ours, popped = edit(nn)
    theirs, t_popped = edit(torch.nn)
    assert describe(ours) == describe(theirs)
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert tuple(popped.weight.shape) == tuple(t_popped.weight.shape)
    joined, t_joined = ours + ours[:1], theirs + theirs[:1]
    assert type(joined) is nn.Sequential and describe(joined) == describe(t_joined)

    with pytest.raises(ValueError, match="only objects of Sequential class, but list is given"):
        ours + [nn.ReLU()]
    with pytest.raises(IndexError, match="out of range"):
        ours.insert(len(ours) + 1, nn.ReLU())
    with pytest.raises(TypeError, match="expected a Module, got function"):
        ours.insert(0, lambda x: x)
    with pytest.raises(TypeError, match="expected an iterable of Modules, got ReLU"):
        ours.extend(nn.ReLU())


def test_sequential_from_an_ordered_dict_and_its_renumbering():
    def build(lib):
        return lib.Sequential(OrderedDict([("fc", lib.Linear(2, 3)), ("act", lib.ReLU()), ("out", lib.Linear(3, 1))]))

    ours, theirs = build(nn), build(torch.nn)
    assert describe(ours) == describe(theirs) and ours[0] is ours.fc
    assert describe(ours[1:]) == describe(theirs[1:]) == [("out.weight", (1, 3)), ("out.bias", (1,))]
    ours.append(nn.Linear(1, 4))
    theirs.append(torch.nn.Linear(1, 4))
    assert describe(ours) == describe(theirs)          # appended as '3' after the named ones
    # insert moves names up by one, so it needs numbered names: both refuse with a KeyError
    with pytest.raises(KeyError):
        theirs.insert(0, torch.nn.ReLU())
    with pytest.raises(KeyError, match=r"named '0'..'3'.*\['fc', 'act', 'out', '3'\]"):
        ours.insert(0, nn.ReLU())
    del ours[1]                                        # deleting renumbers every module, as torch
    del theirs[1]
    assert describe(ours) == describe(theirs) == [("0.weight", (3, 2)), ("0.bias", (3,)),
                                                  ("1.weight", (1, 3)), ("1.bias", (1,)),
                                                  ("2.weight", (4, 1)), ("2.bias", (4,))]
    assert ours.get_submodule("0") is list(ours)[0] and not hasattr(ours, "fc")


# ----------------------------------------------------------------------------- walking the tree

def nested(lib):
    """A model with a shared module, a container inside a container and a module assigned late."""

    class Block(lib.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.Linear(3, 3)
            self.act = lib.ReLU()

    class Model(lib.Module):
        def __init__(self):
            super().__init__()
            self.stem = lib.Linear(2, 3)
            self.blocks = lib.ModuleList([Block(), Block()])
            self.shared = self.stem                      # the same module under a second name
            self.head = lib.Sequential(lib.Linear(3, 4), lib.Sequential(lib.Tanh(), lib.Linear(4, 1)))

    return Model()


@pytest.mark.parametrize("kwargs", [{}, {"prefix": "model"}, {"remove_duplicate": False},
                                    {"prefix": "m", "remove_duplicate": False}])
def test_named_modules_order_names_and_prefix_as_torch(kwargs):
    ours, theirs = nested(nn), nested(torch.nn)
    names = [n for n, _ in ours.named_modules(**kwargs)]
    assert names == [n for n, _ in theirs.named_modules(**kwargs)]
    assert any(n.endswith("shared") for n in names) == (kwargs.get("remove_duplicate") is False)
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in theirs.modules()]


def test_children_named_children_and_get_submodule_as_torch():
    ours, theirs = nested(nn), nested(torch.nn)
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()] == ["stem", "blocks",
                                                                                                "head"]
    assert [type(m).__name__ for m in ours.children()] == [type(m).__name__ for m in theirs.children()]
    assert ours.get_submodule("") is ours
    assert ours.get_submodule("blocks.1.fc") is ours.blocks[1].fc
    assert ours.get_submodule("head.1.0") is ours.head[1][0]
    assert ours.get_submodule("shared") is ours.stem
    for target in ("blocks.5", "head.nothing", "stem.weight", "blocks.0.training"):
        with pytest.raises(AttributeError) as theirs_error:
            theirs.get_submodule(target)
        with pytest.raises(AttributeError) as ours_error:
            ours.get_submodule(target)
        assert str(ours_error.value) == str(theirs_error.value)     # e.g. "`weight` is not an nn.Module"
    with pytest.raises(TypeError, match="dotted name \\(str\\), got int"):
        ours.get_submodule(0)


@pytest.mark.parametrize("kwargs", [{}, {"prefix": "model"}, {"recurse": False}, {"remove_duplicate": False}])
def test_named_parameters_prefix_recurse_and_duplicates_as_torch(kwargs):
    ours, theirs = nested(nn), nested(torch.nn)
    assert describe_with(ours, kwargs) == describe_with(theirs, kwargs)
    assert len(list(ours.parameters(recurse=kwargs.get("recurse", True)))) == \
        len(list(theirs.parameters(recurse=kwargs.get("recurse", True))))


def describe_with(module, kwargs):
    return [(n, tuple(p.shape)) for n, p in module.named_parameters(**kwargs)]


def test_reassigning_a_registered_name_keeps_its_place_and_del_unregisters():
    def edit(lib):
        model = nested(lib)
        model.stem = lib.Linear(2, 3)        # replaced: stays first, as in torch
        model.head[0] = lib.Linear(3, 4)
        del model.shared
        del model.blocks
        return model

    ours, theirs = edit(nn), edit(torch.nn)
    assert describe(ours) == describe(theirs)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert not hasattr(ours, "blocks")


# ----------------------------------------------------------------------------- apply, requires_grad_

def test_apply_visits_children_first_then_self_and_returns_self():
    ours, theirs = nested(nn), nested(torch.nn)
    for model in (ours, theirs):
        names = {id(m): n for n, m in model.named_modules()}
        visited = []
        assert model.apply(lambda m, names=names, visited=visited: visited.append(names[id(m)])) is model
        model.visited = visited
    assert ours.visited == theirs.visited
    assert ours.visited[-1] == "" and ours.visited.index("blocks.0.fc") < ours.visited.index("blocks.0")
    with pytest.raises(TypeError, match="a function of a module, got int"):
        ours.apply(3)


def test_apply_initialises_as_the_pytorch_recipe():
    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)

    model = nested(nn).apply(init_weights)
    assert all(np.all(m.bias.data == 0) for m in model.modules() if isinstance(m, nn.Linear))


def test_requires_grad_freezes_and_unfreezes_as_torch():
    ours, theirs = nested(nn), nested(torch.nn)
    for model in (ours, theirs):
        assert model.requires_grad_(False) is model
        model.head.requires_grad_()
    flags = [(n, p.requires_grad) for n, p in ours.named_parameters()]
    assert flags == [(n, p.requires_grad) for n, p in theirs.named_parameters()]
    assert not ours.stem.weight.requires_grad and ours.head[0].weight.requires_grad

    # A frozen parameter gets no gradient; the trainable ones do.
    x = Tensor(np.ones((2, 2), dtype=np.float32))
    out = ours.head(ours.blocks[0].fc(ours.stem(x)))
    out.sum().backward()
    assert ours.stem.weight.grad is None and ours.head[0].weight.grad is not None
    with pytest.raises(TypeError, match="must be True or False, got 1"):
        ours.requires_grad_(1)


# ----------------------------------------------------------------------------- dtype casts

def with_batch_norm(lib):
    return lib.Sequential(lib.Linear(3, 4), lib.BatchNorm1d(4), lib.ReLU(), lib.Linear(4, 2))


@pytest.mark.parametrize("cast", [
    lambda m: m.double(),
    lambda m: m.to(mg.float64),
    lambda m: m.to(np.float64),
    lambda m: m.to(np.dtype("float64")),
    lambda m: m.to("float64"),
    lambda m: m.to("cpu", np.float64),
    lambda m: m.to(dtype=np.float64),
    lambda m: m.to(device="cpu", dtype="float64"),
], ids=["double", "mg.float64", "np.float64", "np.dtype", "string", "cpu+dtype", "dtype=", "device=+dtype="])
def test_casting_to_float64_as_torch_double(cast):
    ours = with_batch_norm(nn)
    ours(Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))).sum().backward()
    assert cast(ours) is ours
    theirs = with_batch_norm(torch.nn).double()
    state, t_state = ours.state_dict(), theirs.state_dict()
    assert list(state) == list(t_state)                 # params and buffers module by module, as torch
    assert [v.dtype.name for v in state.values()] == [str(v.dtype).replace("torch.", "") for v in t_state.values()]
    assert state["1.running_mean"].dtype == np.float64 and state["1.num_batches_tracked"].dtype == np.int64
    assert all(p.grad.dtype == np.float64 for p in ours.parameters())    # the gradients follow

    copy_weights(ours, theirs)
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(1).standard_normal((6, 3))
    y = ours(Tensor(x))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_float_and_to_float32_go_back():
    model = with_batch_norm(nn).double()
    for cast in (lambda m: m.float(), lambda m: m.to("float32"), lambda m: m.to(np.float32)):
        model.double()
        assert cast(model) is model
        assert all(v.dtype == (np.int64 if k.endswith("num_batches_tracked") else np.float32)
                   for k, v in model.state_dict().items())


def test_to_a_device_stays_a_device_and_bad_arguments_raise():
    model = with_batch_norm(nn)
    weight = model[0].weight
    assert model.to("cpu") is model and model[0].weight is weight and weight.dtype == np.float32
    if not cupy_available():
        with pytest.raises(RuntimeError, match="device 'cuda' needs CuPy"):    # read as a device, not a dtype
            model.to("cuda")
    with pytest.raises(TypeError, match="only accepts floating point dtypes.*int32"):
        model.to(np.int32)
    with pytest.raises(TypeError, match="expected a device .*got 'float65'"):
        model.to("float65")
    with pytest.raises(TypeError, match="got dtype twice"):
        model.to(np.float64, "float32")
    with pytest.raises(TypeError, match="at most a device and a dtype, got 3"):
        model.to("cpu", np.float64, "cpu")
    with pytest.raises(TypeError, match="non_blocking"):
        model.to("cpu", non_blocking=True)
    assert all(p.dtype == np.float32 for p in model.parameters())     # a refused call changed nothing


# ----------------------------------------------------------------------------- buffers

def with_buffers(lib, zeros):
    """A buffer registered before a parameter, a non-persistent one and a None placeholder."""

    class Stats(lib.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", zeros(1))
            self.scale = lib.Parameter(zeros(2))
            self.register_buffer("cache", zeros(3), persistent=False)
            self.register_buffer("later", None)
            self.fc = lib.Linear(2, 2)

    return lib.Sequential(Stats(), lib.BatchNorm1d(2))


def test_register_buffer_order_names_and_persistence_as_torch():
    ours = with_buffers(nn, lambda n: np.zeros(n, dtype=np.float32))
    theirs = with_buffers(torch.nn, torch.zeros)
    assert state_names(ours) == state_names(theirs)
    assert state_names(ours)[:4] == ["0.scale", "0.count", "0.fc.weight", "0.fc.bias"]
    assert "0.cache" not in state_names(ours) and "0.later" not in state_names(ours)
    names = [n for n, _ in ours.named_buffers()]
    assert names == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_buffers(prefix="m", recurse=False)] == []
    assert len(list(ours.buffers())) == len(list(theirs.buffers()))

    # The non-persistent buffer is still cast; the placeholder becomes a buffer once a Tensor is assigned.
    ours.double()
    assert ours[0].cache.dtype == np.float64
    ours[0].later = Tensor(np.ones(2))
    theirs[0].later = torch.ones(2)
    assert state_names(ours) == state_names(theirs)
    ours.load_state_dict(ours.state_dict())
    ours[0].later = None
    assert "0.later" not in state_names(ours) and "later" in ours[0]._buffers


def test_register_buffer_rejects_what_torch_rejects():
    def attempts(lib, zeros):
        model = lib.Linear(2, 2)
        return [lambda: model.register_buffer("a.b", zeros(1)),
                lambda: model.register_buffer("", zeros(1)),
                lambda: model.register_buffer("weight", zeros(1)),     # already a parameter
                lambda: model.register_buffer("forward", zeros(1)),    # already a method
                lambda: model.register_buffer(3, zeros(1)),
                lambda: model.register_buffer("x", "not a tensor")]

    expected = [KeyError, KeyError, KeyError, KeyError, TypeError, TypeError]
    for ours, theirs, error in zip(attempts(nn, np.zeros), attempts(torch.nn, torch.zeros), expected):
        with pytest.raises(error):
            theirs()
        with pytest.raises(error):
            ours()
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        nn.Linear(2, 2).register_buffer("weight", np.zeros(1))
    with pytest.raises(TypeError, match="cannot assign 'str' object to buffer 'x'"):
        nn.Linear(2, 2).register_buffer("x", "zeros")
    with pytest.raises(TypeError, match="persistent must be True or False, got 'no'"):
        nn.Linear(2, 2).register_buffer("x", np.zeros(1), persistent="no")


# ----------------------------------------------------------------------------- nn.utils

def test_nn_utils_is_reachable_from_the_package_and_clips_as_torch():
    script = "import minigrad.nn as nn; print(nn.utils.clip_grad_norm_.__module__, 'utils' in nn.__all__)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["minigrad.nn.utils", "True"]

    rng = np.random.default_rng(0)
    ours, theirs = nn.Linear(4, 3), torch.nn.Linear(4, 3)
    grads = [rng.standard_normal(p.shape).astype(np.float32) * 5 for p in ours.parameters()]
    for p, t, g in zip(ours.parameters(), theirs.parameters(), grads):
        p.grad, t.grad = g, torch.from_numpy(g.copy())
    total = nn.utils.clip_grad_norm_(ours.parameters(), max_norm=1.0)
    t_total = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm=1.0)
    np.testing.assert_allclose(total, float(t_total), rtol=1e-5)
    for p, t in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-5)
