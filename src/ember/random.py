"""ember's random state: one seeded ``numpy.random.Generator`` behind every random op."""
import numpy as _np

_generator = _np.random.default_rng()


def manual_seed(seed):
    """Reseed the global generator (used by rand, randn, randint, dropout, initializers, shuffling)."""
    global _generator
    _generator = _np.random.default_rng(int(seed))
    return _generator


def default_generator():
    """The global ``numpy.random.Generator``."""
    return _generator


def get_rng_state():
    """The generator's state as a JSON-serialisable dict (for checkpoints)."""
    return _generator.bit_generator.state


def set_rng_state(state):
    """Restore a state returned by ``get_rng_state``."""
    _generator.bit_generator.state = state
