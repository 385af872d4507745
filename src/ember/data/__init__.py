"""The data pipeline: datasets, samplers, the DataLoader, splits and batch transforms.

    from ember.data import TensorDataset, DataLoader
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=128, shuffle=True, seed=0)
    for x, y in loader:          # ember Tensors
        ...

Batches of a TensorDataset are gathered with one fancy index per array; shuffling is a pure
function of ``(seed, epoch)``; transforms (``ember.data.transforms``) work on whole batches.
"""
from . import transforms
from .dataloader import DataLoader, default_collate
from .dataset import Dataset, Subset, TensorDataset, random_split, train_test_split
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from .workers import get_worker_info

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "train_test_split", "DataLoader",
           "default_collate", "Sampler", "SequentialSampler", "RandomSampler", "BatchSampler",
           "transforms", "get_worker_info"]
