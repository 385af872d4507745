"""The slot through which a data-parallel engine plugs into the training API.

``ember.train`` (floor 6) never imports ``ember.distributed`` (floor 8).  Instead
``ember.distributed`` registers an engine here when it is imported (``import ember`` imports it;
importing it does not import ``mpi4py``).  Without an engine, and whenever the program runs as one
process, everything here means "one process": :func:`is_main` is True, :func:`barrier` does
nothing and :func:`fit_session` returns None -- so ``Model.fit`` runs exactly as it does alone.

The engine is any object with ``is_main()``, ``barrier()`` and ``fit_session(model,
shard_optimizer_state)``; the session ``Model.fit`` gets back is described in
``ember/distributed/model_fit.py``.
"""

__all__ = ["set_engine", "get_engine", "is_main", "barrier", "fit_session"]

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


def fit_session(model, shard_optimizer_state=False):
    """The data-parallel session for one ``Model.fit`` call, or None when training alone."""
    if _engine is None:
        return None
    return _engine.fit_session(model, shard_optimizer_state=shard_optimizer_state)
