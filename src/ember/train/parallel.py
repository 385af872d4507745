"""How ``Model.fit`` runs across processes: the *session* of one fit, and the slot through which a
data-parallel engine plugs into the training API.

``ember.train`` (floor 6) never imports ``ember.distributed`` (floor 8).  Instead
``ember.distributed`` registers an engine here when it is imported (``import ember`` imports it;
importing it does not import ``mpi4py``).  The engine is any object with ``is_main()``,
``barrier()`` and ``fit_session(model, shard_optimizer_state)``; the last returns the session for
one ``fit`` call, or None when the program runs as one process.

A session is what ``fit`` asks everything that depends on the processes: :class:`LocalSession`
(one process) passes everything through; ``ember.distributed.FitSession`` (several MPI ranks)
implements the same methods.  Without an engine, and whenever the program runs as one process,
``fit`` gets a :class:`LocalSession`, :func:`is_main` is True and :func:`barrier` does nothing --
so ``Model.fit`` runs exactly as it does alone.
"""
import contextlib

__all__ = ["LocalSession", "LOCAL", "set_engine", "get_engine", "is_main", "barrier",
           "fit_session"]

_engine = None


def set_engine(engine):
    """Install ``engine`` (None removes it); returns the previous one."""
    global _engine
    previous, _engine = _engine, engine
    return previous


def get_engine():
    return _engine


def is_main():
    """False on every rank but rank 0 of a data-parallel run: those ranks neither print progress
    nor write files (checkpoints, CSV logs, plots)."""
    return _engine is None or bool(_engine.is_main())


def barrier():
    """Wait for every rank (no-op for one process): after rank 0 wrote a file, before others read."""
    if _engine is not None:
        _engine.barrier()


class LocalSession:
    """The session of a ``fit`` that trains in this process alone: every method is the identity
    (or does nothing).  The interface, for a data-parallel session to implement:

    * ``is_main``: this process prints progress and writes files;
    * ``shared_seed(seed)``: the shuffling seed every process uses;
    * ``shard(source, training=True)``: this process's share of a batch source (see
      ``ember.train.data_adapters``; the training share padded so that every process takes the
      same number of steps, validation without padding);
    * ``prepare(model, optimizer)``: called once the optimizer is built; returns the optimizer
      to step (for instance one that keeps only a shard of the state);
    * ``begin_step(sync=True)``: before each training step: its backward averages the gradients
      over the processes (``sync=False``: keeps them local, for all but the last batch of a
      gradient-accumulation group);
    * ``merged_metrics(metrics)``: a context in which each metric's state is the sum over the
      processes (the epoch's logs are read inside it; the local states come back after);
    * ``should_stop(stop)``: True on every process when any asked to stop (after each step);
    * ``close()``: at the end of ``fit``, also when it fails.
    """

    @property
    def is_main(self):
        return is_main()

    def shared_seed(self, seed):
        return seed

    def shard(self, source, training=True):
        return source

    def prepare(self, model, optimizer):
        return optimizer

    def begin_step(self, sync=True):
        pass

    def merged_metrics(self, metrics):
        return contextlib.nullcontext()

    def should_stop(self, stop):
        return stop

    def close(self):
        pass


#: The session of one process (it holds no state).
LOCAL = LocalSession()


def fit_session(model, shard_optimizer_state=False):
    """The session for one ``Model.fit`` call: the engine's data-parallel one, or
    :data:`LOCAL` when training alone."""
    session = None
    if _engine is not None:
        session = _engine.fit_session(model, shard_optimizer_state=shard_optimizer_state)
    return LOCAL if session is None else session
