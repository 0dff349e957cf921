"""minigrad.utils.data against torch.utils.data (PyTorch 2.13, CPU): datasets, random_split, default_collate
and DataLoader give the same lengths, values, dtypes and container types; randomness is minigrad's own."""

import collections
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import minigrad as mg
from minigrad.utils import data as mud


def as_numpy(value):
    """Nested containers of minigrad or torch tensors -> the same containers of NumPy arrays (for comparing)."""
    if isinstance(value, mg.Tensor):
        return value.numpy()
    if isinstance(value, torch.Tensor):
        return value.numpy()
    if isinstance(value, dict):
        return {k: as_numpy(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(as_numpy(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(as_numpy(v) for v in value)
    return value


def assert_same_batch(ours, theirs):
    """Same container types, keys, shapes, dtypes and values; a minigrad Tensor where torch has a tensor."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, mg.Tensor), f"expected a minigrad Tensor, got {type(ours)}"
        expected = theirs.numpy()
        assert ours.dtype == expected.dtype, (ours.dtype, expected.dtype)
        np.testing.assert_array_equal(ours.numpy(), expected)
        return
    assert type(ours) is type(theirs), (type(ours), type(theirs))
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs)
        for k in theirs:
            assert_same_batch(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same_batch(a, b)
    else:
        assert ours == theirs


def pair_datasets(n=7):
    """The same TensorDataset in minigrad and in torch: float32 features (n, 3) and int64 labels (n,)."""
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64) % 3
    return (mud.TensorDataset(mg.Tensor(x), mg.Tensor(y)),
            tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)))


# ----- datasets ----------------------------------------------------------------------------------------------

def test_tensor_dataset_indexes_like_torch():
    ours, theirs = pair_datasets()
    assert len(ours) == len(theirs) == 7
    for i in (0, 3, -1):
        assert_same_batch(list(ours[i]), list(theirs[i]))
    assert isinstance(ours[2], tuple) and isinstance(theirs[2], tuple)


def test_tensor_dataset_size_mismatch_names_the_sizes():
    with pytest.raises(AssertionError, match="Size mismatch"):
        tud.TensorDataset(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"Size mismatch.*sizes \[3, 4\]"):
        mud.TensorDataset(mg.zeros(3), mg.zeros(4))


def test_tensor_dataset_rejects_what_is_not_a_tensor():
    with pytest.raises(TypeError, match=r"numpy.ndarray as argument 1"):
        mud.TensorDataset(mg.zeros(3), np.zeros(3))
    with pytest.raises(TypeError, match="0-d"):
        mud.TensorDataset(mg.Tensor(1.0))
    with pytest.raises(ValueError, match="at least one Tensor"):
        mud.TensorDataset()


def test_dataset_base_class_needs_getitem():
    with pytest.raises(NotImplementedError):
        tud.Dataset()[0]
    with pytest.raises(NotImplementedError, match="__getitem__"):
        mud.Dataset()[0]


def test_subset_like_torch():
    ours, theirs = pair_datasets()
    indices = [5, 0, 3]
    a, b = mud.Subset(ours, indices), tud.Subset(theirs, indices)
    assert len(a) == len(b) == 3
    for i in range(3):
        assert_same_batch(list(a[i]), list(b[i]))
    assert_same_batch([list(e) for e in a.__getitems__([2, 0])], [list(e) for e in b.__getitems__([2, 0])])
    assert_same_batch(list(a[[2, 1]]), list(b[[2, 1]]))          # a list index: one fancy index of the base


# ----- random_split ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, lengths", [
    (10, [0.33, 0.33, 0.34]), (5, [1]), (7, [0.5, 0.5]), (11, [0.1] * 10), (100, [0.8, 0.2]),
    (3, [0.2, 0.2, 0.6]), (10, [3, 7]), (4, [0, 4]), (0, [0.5, 0.5]), (13, [0.25, 0.25, 0.25, 0.25]),
])
def test_random_split_lengths_like_torch(n, lengths):
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        theirs = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        ours = mud.random_split(range(n), lengths, generator=0)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert len(ours_warned) == len(theirs_warned)                  # "Length of split at index i is 0"
    everything = sorted(i for s in ours for i in s)
    assert everything == list(range(n))                             # disjoint, and together the whole


def test_random_split_remainders_go_round_robin():
    # floor(14 * 0.25) = 3 each (12); the 2 left over go to the first and the second split
    assert [len(s) for s in mud.random_split(range(14), [0.25] * 4, generator=0)] == [4, 4, 3, 3]
    assert [len(s) for s in tud.random_split(range(14), [0.25] * 4)] == [4, 4, 3, 3]


@pytest.mark.parametrize("lengths, message", [([2, 2], "sum to 4, the dataset has 5"),
                                              ([0.5, 0.6], r"fractions summing to 1\), got 0.5"),
                                              ([1.5, -0.5], "Fraction at index 0 is not between 0 and 1"),
                                              ([-1, 6], "ints >= 0"),
                                              ([2.5, 2.5], "ints >= 0")])
def test_random_split_bad_lengths_raise_like_torch(lengths, message):
    if min(lengths) >= 0 or sum(lengths) == 1:                  # torch does not check negative int lengths
        with pytest.raises((ValueError, TypeError)):
            tud.random_split(range(5), lengths)
    with pytest.raises(ValueError, match=message):
        mud.random_split(range(5), lengths, generator=0)


def test_random_split_generators():
    first = [s.indices for s in mud.random_split(range(20), [5, 15], generator=3)]
    assert first == [s.indices for s in mud.random_split(range(20), [5, 15], generator=3)]
    assert first != [s.indices for s in mud.random_split(range(20), [5, 15], generator=4)]
    rng = np.random.default_rng(3)                      # a Generator given is used as it is (and advanced)
    assert [s.indices for s in mud.random_split(range(20), [5, 15], generator=rng)] == first
    assert [s.indices for s in mud.random_split(range(20), [5, 15], generator=rng)] != first
    mg.manual_seed(7)                                   # None: minigrad's generator, seeded by manual_seed
    a = [s.indices for s in mud.random_split(range(20), [5, 15])]
    mg.manual_seed(7)
    assert [s.indices for s in mud.random_split(range(20), [5, 15])] == a
    with pytest.raises(TypeError, match="generator must be None"):
        mud.random_split(range(20), [5, 15], generator="seed")


def test_random_split_subsets_index_the_dataset():
    ours, _ = pair_datasets(10)
    train, val = mud.random_split(ours, [0.7, 0.3], generator=0)
    x, y = train[0]
    np.testing.assert_array_equal(x.numpy(), ours[train.indices[0]][0].numpy())
    assert y.dtype == np.int64 and len(train) == 7 and len(val) == 3


# ----- default_collate ---------------------------------------------------------------------------------------

Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("make", [
    lambda t: [t(np.array([1.0, 2.0], dtype=np.float32)), t(np.array([3.0, 4.0], dtype=np.float32))],
    lambda t: [np.zeros((2, 2)), np.ones((2, 2))],                      # float64 arrays stay float64
    lambda t: [np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int32)],
    lambda t: [1.5, 2.5],                                                # Python floats: float64
    lambda t: [1, 2, 3],                                                 # Python ints: int64
    lambda t: [True, False],                                             # bools: bool
    lambda t: [1, 2.5],                                                  # mixed: torch.tensor's float32
    lambda t: [np.float32(1), np.float32(2)],                            # NumPy scalars keep their dtype
    lambda t: ["a", "b"],                                                # strings stay a list
    lambda t: [(np.ones(2, dtype=np.float32), 0), (np.zeros(2, dtype=np.float32), 1)],   # tuples -> a list
    lambda t: [[1, 2.0], [3, 4.0]],                                      # lists -> a list, position by position
    lambda t: [{"x": 1.0, "y": [1, 2]}, {"x": 2.0, "y": [3, 4]}],        # dicts -> a dict
    lambda t: [Point(1, 2.0), Point(3, 4.0)],                            # a namedtuple stays one
])
def test_default_collate_like_torch(make):
    assert_same_batch(mud.default_collate(make(mg.Tensor)), tud.default_collate(make(torch.from_numpy)))


def test_default_collate_errors_name_what_came():
    with pytest.raises(TypeError, match="found <class 'object'>"):
        mud.default_collate([object(), object()])
    with pytest.raises(RuntimeError, match="equal size"):
        mud.default_collate([[1, 2], [3]])
    with pytest.raises(ValueError, match=r"shapes \[\(2,\), \(3,\)\]"):
        mud.default_collate([mg.zeros(2), mg.zeros(3)])
    with pytest.raises(TypeError, match="dtype <U1"):
        mud.default_collate([np.array(["a"]), np.array(["b"])])


def test_collated_tensors_keep_the_graph():
    w = mg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    batch = mud.default_collate([w * 2.0, w * 3.0])          # as torch.stack: gradients flow through
    batch.sum().backward()
    np.testing.assert_allclose(w.grad, np.full(3, 5.0))


# ----- DataLoader --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 10])
@pytest.mark.parametrize("drop_last", [False, True])
def test_dataloader_in_order_like_torch(batch_size, drop_last):
    ours, theirs = pair_datasets(7)
    a = mud.DataLoader(ours, batch_size=batch_size, drop_last=drop_last)
    b = tud.DataLoader(theirs, batch_size=batch_size, drop_last=drop_last)
    assert len(a) == len(b)
    ours_batches, theirs_batches = list(a), list(b)
    assert len(ours_batches) == len(theirs_batches) == len(a)
    for x, y in zip(ours_batches, theirs_batches):
        assert_same_batch(x, y)                               # a list [features float32, labels int64]


def test_dataloader_fast_path_equals_the_general_way():
    ours, _ = pair_datasets(9)
    sub = mud.Subset(ours, [8, 1, 4, 4, 0])
    for dataset in (ours, sub):
        fast = list(mud.DataLoader(dataset, batch_size=2))
        general = list(mud.DataLoader(dataset, batch_size=2, collate_fn=lambda b: mud.default_collate(b)))
        assert len(fast) == len(general) > 0
        for f, g in zip(fast, general):
            assert_same_batch(f, [torch.from_numpy(t.numpy()) for t in g])


def test_dataloader_custom_dataset_of_dicts_like_torch():
    class Points:                                  # any object with __len__ and __getitem__ works, as in torch
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full(2, i, dtype=np.float32), "label": i % 2, "name": f"p{i}"}

    for a, b in zip(mud.DataLoader(Points(), batch_size=2), tud.DataLoader(Points(), batch_size=2)):
        assert_same_batch(a, b)


def test_dataloader_uses_getitems_when_the_dataset_has_it():
    calls = []

    class Batched(mud.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            raise AssertionError("the loader should use __getitems__")

        def __getitems__(self, indices):
            calls.append(list(indices))
            return [float(i) for i in indices]

    batches = list(mud.DataLoader(Batched(), batch_size=3))
    assert calls == [[0, 1, 2], [3]]
    np.testing.assert_array_equal(batches[0].numpy(), [0.0, 1.0, 2.0])


def test_dataloader_collate_fn_gets_the_list_of_examples():
    ours, _ = pair_datasets(5)
    seen = list(mud.DataLoader(ours, batch_size=2, collate_fn=lambda batch: len(batch)))
    assert seen == [2, 2, 1]


def test_dataloader_shuffle_is_a_fresh_permutation_each_epoch():
    n = 50
    ds = mud.TensorDataset(mg.Tensor(np.arange(n)))
    loader = mud.DataLoader(ds, batch_size=8, shuffle=True, generator=0)
    epochs = [np.concatenate([x.numpy() for x, in loader]) for _ in range(3)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(n))          # every example once per epoch
    assert not np.array_equal(epochs[0], epochs[1])
    again = mud.DataLoader(ds, batch_size=8, shuffle=True, generator=0)
    assert np.array_equal(np.concatenate([x.numpy() for x, in again]), epochs[0])   # the seed repeats epoch 1
    assert not np.array_equal(epochs[0], np.arange(n))


def test_dataloader_shuffle_follows_manual_seed():
    ds = mud.TensorDataset(mg.Tensor(np.arange(30)))
    orders = []
    for _ in range(2):
        mg.manual_seed(5)
        loader = mud.DataLoader(ds, batch_size=30, shuffle=True)
        orders.append([batch[0].numpy().tolist() for batch in loader])
    assert orders[0] == orders[1] and orders[0][0] != list(range(30))


def test_dataloader_len_like_torch():
    for n in (0, 1, 9, 10, 11):
        for b in (1, 3, 10):
            for drop_last in (False, True):
                ours = mud.DataLoader(range(n), batch_size=b, drop_last=drop_last)
                theirs = tud.DataLoader(range(n), batch_size=b, drop_last=drop_last)
                assert len(ours) == len(theirs) == len(list(ours)), (n, b, drop_last)


@pytest.mark.parametrize("argument", [{"num_workers": 2}, {"sampler": [0, 1]}, {"batch_sampler": [[0]]},
                                      {"pin_memory": True}, {"timeout": 5}, {"worker_init_fn": print},
                                      {"multiprocessing_context": "spawn"}, {"prefetch_factor": 2},
                                      {"persistent_workers": True}, {"pin_memory_device": "cuda"},
                                      {"in_order": False}, {"batch_size": None}])
def test_dataloader_unsupported_arguments_name_the_argument(argument):
    ours, _ = pair_datasets()
    (name, value), = argument.items()
    with pytest.raises(NotImplementedError, match=rf"{name}={value!r}".replace("[", r"\[").replace("(", r"\(")):
        mud.DataLoader(ours, **argument)


def test_dataloader_bad_values_raise_like_torch():
    ours, theirs = pair_datasets()
    for kwargs, message in [({"batch_size": 0}, "batch_size=0"), ({"batch_size": 2.0}, "batch_size=2.0"),
                            ({"drop_last": 1}, "drop_last=1")]:
        with pytest.raises(ValueError, match=message):
            tud.DataLoader(theirs, **kwargs)
        with pytest.raises(ValueError, match=message):
            mud.DataLoader(ours, **kwargs)
    with pytest.raises(TypeError, match="map-style"):
        mud.DataLoader(iter(range(3)))
    with pytest.raises(TypeError, match="collate_fn"):
        mud.DataLoader(ours, collate_fn=3)


def test_dataloader_defaults_of_torch_arguments_are_accepted():
    ours, _ = pair_datasets()
    loader = mud.DataLoader(ours, 2, None, None, None, 0, None, False, False, 0, None, None, None,
                            prefetch_factor=None, persistent_workers=False, pin_memory_device="", in_order=True)
    assert len(loader) == 4


def test_import_path_like_torch():
    from minigrad.utils.data import DataLoader, Dataset, Subset, TensorDataset, random_split  # noqa: F401
    import minigrad.utils
    assert minigrad.utils.data.DataLoader is DataLoader
