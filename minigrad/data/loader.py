"""Minibatches from in-memory datasets.

A *dataset* here is anything with ``len(ds)`` and ``ds[idx]`` where ``idx`` may be a 1-D integer NumPy
array. Fancy indexing then returns a whole batch in one vectorised step (``images[idx]``) instead of
gathering examples one by one in Python, which is what makes this loader fast. ``BloodMNIST`` and
``ArrayDataset`` both follow this contract.

    loader = DataLoader(BloodMNIST("train"), batch_size=128, shuffle=True, seed=0)
    for epoch in range(3):
        for x, y in loader:                      # NumPy arrays in host memory
            loss = model(Tensor(x)) ...          # the training code wraps them in minigrad.Tensor
"""

import numbers

import numpy as np


class ArrayDataset:
    """Several arrays that share their first dimension, indexed together: ``ds[i] -> (a[i], b[i], ...)``."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array")
        self.arrays = tuple(np.asarray(a) for a in arrays)
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"all arrays must have the same first dimension, got lengths {lengths}")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)


class DataLoader:
    """Iterate over a dataset in batches of ``batch_size`` examples, optionally shuffled.

    Each ``iter(loader)`` (each epoch) visits every example exactly once and yields ``dataset[idx]`` for
    consecutive chunks ``idx`` of the epoch's order; with ``drop_last=True`` a final short batch is
    skipped. Batches are whatever the dataset returns, e.g. ``(x, y)`` NumPy arrays in host memory; the
    model code wraps them in ``minigrad.Tensor`` (which may move them to the GPU).

    Shuffling draws from one ``np.random.default_rng(seed)`` made here, so with a fixed seed epoch k
    always has the same order while every epoch gets a fresh permutation (as PyTorch does with a seeded
    generator). The order of the latest epoch is kept in ``last_order``, so another framework can be fed
    exactly the same batches; ``state_dict``/``load_state_dict`` save and restore the generator so a
    resumed run continues with the same orders it would have seen.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = np.random.default_rng(seed)
        self.last_order = None  # the index order of the most recent epoch

    def __len__(self):
        """Number of batches per epoch."""
        n, b = len(self.dataset), self.batch_size
        return n // b if self.drop_last else -(-n // b)  # -(-n // b) is ceil(n / b)

    def __iter__(self):
        return self._batches()

    def _batches(self):
        # A generator: the epoch's order is drawn at the first batch, not when the iterator is made. Some
        # wrappers make an iterator they never use (tqdm.auto's asyncio tqdm calls iter() in its
        # constructor and again when looped over); drawing eagerly would then skip a permutation, and the
        # same seed would no longer give the same batches with and without a progress bar.
        n = len(self.dataset)
        self.last_order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for i in range(len(self)):
            yield self.dataset[self.last_order[i * self.batch_size:(i + 1) * self.batch_size]]

    def state_dict(self):
        """The shuffling generator's state; save it between epochs to resume with the same orders."""
        return {"rng_state": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        """Restore a state from :meth:`state_dict`: the next epoch's order is the one the saver got next."""
        self.rng.bit_generator.state = state["rng_state"]
