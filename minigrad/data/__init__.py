"""Data for minigrad: the BloodMNIST data set and a NumPy minibatch loader.

    from minigrad.data import BloodMNIST, DataLoader
    train = BloodMNIST("train")                       # finds ~/.medmnist/bloodmnist.npz (or $MEDMNIST_ROOT)
    for x, y in DataLoader(train, batch_size=128, shuffle=True, seed=0):
        ...                                           # x float32 (128, 3, 28, 28), y int64 (128,)
"""

from .bloodmnist import (CLASSES, TASKS, BloodMNIST, DataCorruptError, DataNotFoundError, default_root,
                         find_bloodmnist, load_bloodmnist)
from .augment import Augment, channel_stats, default_augmentation, normalize
from .loader import ArrayDataset, DataLoader
from .split import stratified_kfold, stratified_split

__all__ = ["BloodMNIST", "load_bloodmnist", "find_bloodmnist", "default_root", "CLASSES", "TASKS",
           "DataNotFoundError", "DataCorruptError", "DataLoader", "ArrayDataset", "Augment",
           "default_augmentation", "channel_stats", "normalize", "stratified_split", "stratified_kfold"]
