"""Datasets and a batch loader with the names and behaviour of ``torch.utils.data``.

    from minigrad.utils.data import DataLoader, TensorDataset, random_split

    ds = TensorDataset(images, labels)                       # minigrad Tensors with the same first dimension
    train, val = random_split(ds, [0.8, 0.2], generator=0)   # fractions, or lengths such as [800, 200]
    for x, y in DataLoader(train, batch_size=64, shuffle=True):
        ...                                                  # x a float Tensor (64, ...), y an int64 Tensor (64,)

How a batch is made, as in PyTorch: the loader draws the indices of the batch (in order, or from a fresh
permutation each epoch with ``shuffle=True``), fetches ``dataset[i]`` for each (or
``dataset.__getitems__(indices)`` when the dataset has it), and hands the list of examples to
``collate_fn``. The default, :func:`default_collate`, stacks them into Tensors:

    Tensors                    stacked along a new first axis (dtype kept)
    NumPy arrays and scalars   stacked into a Tensor (dtype kept)
    Python floats              a float64 Tensor            Python ints   an int64 Tensor   bools  a bool Tensor
    str / bytes                left as a list
    dicts                      a dict of collated values, key by key
    tuples and lists           a *list* with one collated entry per position (PyTorch returns a list for
                               tuple examples too), so ``for x, y in loader`` unpacks it; a namedtuple
                               stays that namedtuple

A :class:`TensorDataset` (and a :class:`Subset` of one) with the default collate_fn is fetched with one
fancy-indexing step per tensor, ``t[indices]``, instead of example by example: the same values, much faster.

Randomness comes from minigrad's generator (``minigrad.manual_seed``) unless ``generator`` is given: an int
(a fresh ``np.random.default_rng(int)``, so the same int gives the same split or the same sequence of
epoch orders) or a ``np.random.Generator`` (used, and advanced, as it is). The orders are not PyTorch's
(another random number generator), only drawn the same way: one permutation per shuffled epoch.

Not supported (each raises, naming the argument): ``num_workers > 0``, ``sampler``, ``batch_sampler``,
``batch_size=None``, ``pin_memory=True``, ``timeout``, ``worker_init_fn``, ``multiprocessing_context``,
``prefetch_factor``, ``persistent_workers``, ``pin_memory_device``, ``in_order=False``; iterable-style
datasets; ``ConcatDataset`` (``dataset + dataset``).

The older :class:`minigrad.data.DataLoader` (NumPy batches by fancy indexing, ``seed=``) is kept as it is;
its contract (``dataset[index_array]`` returns the whole batch) is not PyTorch's, so this loader does not
build on it.
"""

import collections.abc
import copy
import itertools
import math
import numbers
import warnings

import numpy as np

from .. import functional
from .. import random as mg_random
from ..backend import get_array_module
from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "default_collate"]


# ----- datasets ----------------------------------------------------------------------------------------------

class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__(i)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} is a Dataset without __getitem__; subclasses of "
                                  "Dataset must define __getitem__ (and __len__)")


class TensorDataset(Dataset):
    """Tensors that share their first dimension, indexed together: ``ds[i] == (a[i], b[i], ...)``.

    Raises ValueError naming the sizes when the first dimensions differ (PyTorch: "Size mismatch between
    tensors"), and TypeError for an argument that is not a Tensor or is a 0-d Tensor.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one Tensor, got none")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset expects minigrad Tensors, got {type(t).__module__}."
                                f"{type(t).__qualname__} as argument {i}; wrap arrays in minigrad.Tensor(...)")
            if t.ndim == 0:
                raise TypeError(f"TensorDataset needs tensors with a first dimension, argument {i} is 0-d")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) != 1:
            raise ValueError(f"Size mismatch between tensors: TensorDataset needs the same first dimension in "
                             f"every tensor, got sizes {sizes} (shapes {[tuple(t.shape) for t in tensors]})")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def _collated(self, indices):
        """What ``default_collate([self[i] for i in indices])`` returns, by one fancy index per tensor."""
        return [t[get_array_module(t._data).asarray(indices, dtype=np.intp)] for t in self.tensors]


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order: ``Subset(ds, [4, 0])[1] is ds[0]``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        """The examples at ``indices`` (a list), through the dataset's own ``__getitems__`` if it has one."""
        inner = [self.indices[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(inner)
        return [self.dataset[i] for i in inner]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given lengths.

    ``lengths`` are either ints summing to ``len(dataset)`` or fractions summing to 1 (as PyTorch decides:
    when the sum is close to 1 and at most 1, so ``[1]`` means "everything"). Fractions give
    ``floor(len * fraction)`` examples each, and the remaining examples go one by one to the splits in
    turn, starting with the first (round-robin); a split left empty is warned about.

    ``generator``: None (minigrad's generator, see ``minigrad.manual_seed``), an int seed, or a
    ``np.random.Generator``. Raises ValueError naming the lengths when they do not fit the dataset.
    """
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, collections.abc.Sequence):
        raise TypeError(f"random_split expects a sequence of lengths or fractions, got {lengths!r}")
    rng = _generator(generator, "random_split")
    n = len(dataset)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        lengths = _lengths_of_fractions(lengths, n)
    else:
        for i, length in enumerate(lengths):
            if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 0:
                raise ValueError(f"random_split lengths must be ints >= 0 (or fractions summing to 1), got "
                                 f"{length!r} at index {i} of {list(lengths)}")
        lengths = [int(length) for length in lengths]
    if sum(lengths) != n:
        raise ValueError(f"Sum of input lengths does not equal the length of the input dataset! The lengths "
                         f"{lengths} sum to {sum(lengths)}, the dataset has {n} examples")
    indices = rng.permutation(n).tolist()
    return [Subset(dataset, indices[offset - length:offset])
            for offset, length in zip(itertools.accumulate(lengths), lengths)]


def _lengths_of_fractions(fractions, n):
    """PyTorch's integer lengths for ``fractions`` of ``n`` examples: floors, then the rest round-robin."""
    lengths = []
    for i, fraction in enumerate(fractions):
        if not 0 <= fraction <= 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1: got {fraction!r} in {list(fractions)}")
        lengths.append(int(math.floor(n * fraction)))
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                          stacklevel=3)
    return lengths


def _generator(generator, caller):
    """The np.random.Generator to draw from: minigrad's (None), a new one seeded by an int, or the one given."""
    if generator is None:
        return mg_random.get_rng()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool) and generator >= 0:
        return np.random.default_rng(int(generator))
    raise TypeError(f"{caller}: generator must be None (minigrad's generator), an int seed >= 0 or a "
                    f"np.random.Generator, got {generator!r}")


# ----- collating ---------------------------------------------------------------------------------------------

COLLATE_TYPES = "default_collate: batch must contain Tensors, NumPy arrays, numbers, dicts or lists; found {}"


def default_collate(batch):
    """Merge a list of examples into a batch, as ``torch.utils.data.default_collate`` (see the module doc)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind not in "biufc":
            raise TypeError(COLLATE_TYPES.format(f"a NumPy array of dtype {elem.dtype}"))
        _check_shapes(batch)
        return Tensor(np.stack(batch))
    if isinstance(elem, (np.bool_, np.number)):
        return Tensor(np.asarray(batch))
    if isinstance(elem, float):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, int):                   # bool too; torch.tensor's dtypes: bool, int64, float32 if mixed
        array = np.asarray(batch)
        return Tensor(array.astype({"b": np.bool_, "f": np.float32}.get(array.dtype.kind, np.int64)))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(collated)
            return clone
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):         # a namedtuple stays one
        return type(elem)(*(default_collate(list(samples)) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(e) != len(elem) for e in batch):
            raise RuntimeError(f"each element in list of batch should be of equal size, got sizes "
                               f"{[len(e) for e in batch]}")
        collated = [default_collate(list(samples)) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return collated                                          # a list, as PyTorch
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            clone[:] = collated
            return clone
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    raise TypeError(COLLATE_TYPES.format(type(elem)))


def _stack(tensors):
    """``minigrad.stack(tensors)`` along a new first axis (autograd sees it, as torch.stack)."""
    _check_shapes(tensors)
    return functional.stack(tensors)


def _check_shapes(batch):
    """ValueError naming the shapes when the Tensors or arrays of a batch differ in shape (they cannot stack)."""
    if len({tuple(b.shape) for b in batch}) != 1:
        raise ValueError(f"default_collate: stack expects each tensor to be equal size, got shapes "
                         f"{[tuple(b.shape) for b in batch]}")


# ----- the loader --------------------------------------------------------------------------------------------

# PyTorch DataLoader arguments minigrad does not implement, with the value that means "not used".
UNSUPPORTED = {"sampler": None, "batch_sampler": None, "num_workers": 0, "pin_memory": False, "timeout": 0,
               "worker_init_fn": None, "multiprocessing_context": None, "prefetch_factor": None,
               "persistent_workers": False, "pin_memory_device": "", "in_order": True}


class DataLoader:
    """Iterate over a map-style dataset in batches, as ``torch.utils.data.DataLoader``.

    Args (in PyTorch's order, so positional calls mean the same):
        dataset: anything with ``len(ds)`` and ``ds[i]``.
        batch_size: examples per batch, an int >= 1.
        shuffle: a fresh random order every epoch (drawn at the epoch's first batch).
        collate_fn: turns the list of examples into a batch; default :func:`default_collate`.
        drop_last: skip the last batch when it is short.
        generator: None (minigrad's generator, so ``minigrad.manual_seed`` makes the orders repeatable), an
            int seed (a generator made here, once) or a ``np.random.Generator``.

    ``len(loader)`` is the number of batches per epoch: ``ceil(n / batch_size)``, or ``n // batch_size``
    with ``drop_last``. The other PyTorch arguments raise NotImplementedError unless left at their defaults.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        given = {"sampler": sampler, "batch_sampler": batch_sampler, "num_workers": num_workers,
                 "pin_memory": pin_memory, "timeout": timeout, "worker_init_fn": worker_init_fn,
                 "multiprocessing_context": multiprocessing_context, "prefetch_factor": prefetch_factor,
                 "persistent_workers": persistent_workers, "pin_memory_device": pin_memory_device,
                 "in_order": in_order}
        for name, default in UNSUPPORTED.items():
            if not _same(given[name], default):
                raise NotImplementedError(f"minigrad's DataLoader does not support {name}={given[name]!r} (it "
                                          f"loads every batch in this process, in the order it draws); "
                                          f"leave {name}={default!r}")
        if batch_size is None:
            raise NotImplementedError("minigrad's DataLoader does not support batch_size=None (loading "
                                      "without batching); pass batch_size=1 or more")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"collate_fn must be callable or None, got {collate_fn!r}")
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader needs a map-style dataset (with __len__ and __getitem__), got a "
                            f"{type(dataset).__module__}.{type(dataset).__qualname__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = drop_last
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.generator = generator
        self._rng = None if generator is None else _generator(generator, "DataLoader")

    def __len__(self):
        """Number of batches per epoch."""
        n, b = len(self.dataset), self.batch_size
        return n // b if self.drop_last else -(-n // b)  # -(-n // b) is ceil(n / b)

    def __iter__(self):
        return self._batches()

    def _batches(self):
        # A generator, so the epoch's order is drawn at its first batch, not when iter() is called (as
        # minigrad.data.DataLoader, for the same reason: wrappers that call iter() without using it).
        n = len(self.dataset)
        if self.shuffle:
            rng = mg_random.get_rng() if self._rng is None else self._rng   # minigrad's current generator
            order = rng.permutation(n).tolist()
        else:
            order = list(range(n))
        for i in range(len(self)):
            yield self._fetch(order[i * self.batch_size:(i + 1) * self.batch_size])

    def _fetch(self, indices):
        """The collated batch of the examples at ``indices``."""
        if self.collate_fn is default_collate:
            fast = _collated_fast(self.dataset, indices)
            if fast is not None:
                return fast
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.collate_fn(self.dataset.__getitems__(indices))
        return self.collate_fn([self.dataset[i] for i in indices])


def _collated_fast(dataset, indices):
    """The default-collated batch of a TensorDataset or of Subsets of one, by fancy indexing; else None.

    Only for the classes of this module with their own ``__getitem__`` (a subclass that changes what an
    example is goes the slow, general way).
    """
    while (getattr(type(dataset), "__getitem__", None) is Subset.__getitem__
           and getattr(type(dataset), "__getitems__", None) is Subset.__getitems__):
        indices = [dataset.indices[i] for i in indices]
        dataset = dataset.dataset
    if isinstance(dataset, TensorDataset) and getattr(type(dataset), "__getitem__", None) is TensorDataset.__getitem__:
        return dataset._collated(indices)
    return None


def _same(value, default):
    """Whether an argument is at its default (``0 == False`` counts, so num_workers=False is fine)."""
    if default is None:
        return value is None
    try:
        return bool(value == default)
    except Exception:
        return False
