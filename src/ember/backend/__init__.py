"""The array module behind ember's tensors.

Every device-array call in ``ember.ops`` goes through the handle ``xp`` defined here, so that a
second backend (CuPy on GPUs) can be added by changing this floor only.  Today ``xp`` is NumPy.
"""
from . import blas_tuning

blas_tuning.tune()          # must run before NumPy loads OpenBLAS; see blas_tuning.py

from . import malloc_tuning  # noqa: E402

malloc_tuning.tune()        # reuse freed array memory instead of page-faulting; see malloc_tuning.py

import numpy  # noqa: E402

#: The array module used for tensor data (NumPy on CPU).
xp = numpy

#: Host-side NumPy, for code that must talk to the host whatever the device (I/O, conversions).
np = numpy


def get_array_module(*arrays):
    """Return the array module that holds ``arrays`` (always NumPy until a GPU backend exists)."""
    return xp


def as_array(data, dtype=None):
    """Return ``data`` as a backend array (no copy if it already is one of ``dtype``)."""
    return xp.asarray(data, dtype=dtype)
