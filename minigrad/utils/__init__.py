"""Utilities with PyTorch's names: ``minigrad.utils.data`` is ``torch.utils.data``.

    from minigrad.utils.data import DataLoader, TensorDataset, random_split
"""

from . import data

__all__ = ["data"]
