"""DistributedSampler: each rank iterates over its own disjoint shard of every epoch."""
from ..backend import np
from ..random import default_generator
from . import comm

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """The indices one rank visits in one epoch; pass it as ``DataLoader(..., sampler=...)``.

    Every epoch, the ``n`` indices ``0 .. n-1`` are permuted with a generator seeded by
    ``[seed, epoch]`` (the same permutation on every rank, without communication, and the one
    ``ember.data.RandomSampler(n, seed)`` draws for that epoch), made a multiple
    of ``num_replicas`` long, and dealt out round-robin: rank ``r`` takes positions ``r,
    r + num_replicas, r + 2*num_replicas, ...``.  So with per-rank batch ``B``, batch ``k`` of all
    ranks together covers exactly the positions ``[k*B*num_replicas, (k+1)*B*num_replicas)`` of
    the permutation -- the same samples a single process with batch ``B*num_replicas`` would see.

    The last uneven part (``n`` not a multiple of ``num_replicas``):
      * ``drop_last=False`` (default): the permutation is padded by repeating its first indices
        (PyTorch's behaviour), so every rank gets ``ceil(n / num_replicas)`` indices and a few
        samples are visited twice in that epoch;
      * ``drop_last=True``: the tail is dropped, every rank gets ``floor(n / num_replicas)``
        indices and no sample is visited twice (those dropped change from epoch to epoch when
        shuffling).
    Either way every rank has the same number of indices, hence the same number of batches, which
    the collectives of data-parallel training need.

    Arguments:
        dataset_or_length: a dataset (anything with ``len()``) or the number of samples.
        num_replicas: number of ranks sharing the data (default ``world_size()``).
        rank: this rank's index (default ``rank()``).
        shuffle: permute every epoch (default True); False deals out ``0 .. n-1`` in order.
        seed: base seed (default 0); None draws one on rank 0 from ember's global generator and
            sends it to the other ranks.
        drop_last: see above (default False).

    Call ``set_epoch(epoch)`` at the start of every epoch (``Model.fit`` does) for a new order.
    """

    def __init__(self, dataset_or_length, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if isinstance(dataset_or_length, (int, np.integer)) \
                and not isinstance(dataset_or_length, bool):
            n = int(dataset_or_length)
        elif hasattr(dataset_or_length, "__len__"):
            n = len(dataset_or_length)
        else:
            raise TypeError("DistributedSampler: dataset_or_length must be a dataset with len() or "
                            f"a number of samples, got {type(dataset_or_length).__name__}")
        if n < 0:
            raise ValueError(f"DistributedSampler: the number of samples must be >= 0, got {n}")
        if num_replicas is None:
            num_replicas = comm.world_size()
        if rank is None:
            rank = comm.rank()
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, got "
                             f"{num_replicas!r}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas - 1}] for "
                             f"num_replicas={num_replicas}, got {rank!r}")
        if seed is None:
            drawn = int(default_generator().integers(0, 2**62)) if comm.rank() == 0 else 0
            seed = comm.broadcast_object(drawn) if comm.world_size() > 1 else drawn
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"DistributedSampler: seed must be a non-negative integer, got "
                             f"{seed!r}")
        self.length = n
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        if self.drop_last:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Use the permutation of epoch ``epoch`` (same on all ranks) from the next iteration."""
        if not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"DistributedSampler.set_epoch: epoch must be a non-negative integer, "
                             f"got {epoch!r}")
        self.epoch = int(epoch)

    def indices(self):
        """This rank's indices for the current epoch, as an int64 array."""
        n = self.length
        if self.shuffle:
            # ember.data's convention: an order is a pure function of (seed, epoch), drawn from
            # default_rng([seed, epoch]); so one replica gives RandomSampler(n, seed)'s order.
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:
            # Pad by repeating the start of the permutation (wrapping as often as needed).
            order = np.resize(order, self.total_size)
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64, copy=False)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples

    def __repr__(self):
        return (f"DistributedSampler(length={self.length}, num_replicas={self.num_replicas}, "
                f"rank={self.rank}, shuffle={self.shuffle}, seed={self.seed}, "
                f"drop_last={self.drop_last}, epoch={self.epoch})")
