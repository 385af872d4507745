"""The suite's layout mirrors src/ember (tests/ops, tests/nn, tests/keras, ...); shared helpers
(op_harness, the nanoGPT reference, the fake CUDA device, fixtures) live in tests/support.

pytest puts this folder on sys.path (it holds this conftest).  Its subfolders are named after
packages -- keras/, data/, datasets/, models/ -- and on sys.path they would pose as namespace
packages of those names wherever the real package is missing (``pytest.importorskip("keras")``
would import tests/keras instead of skipping).  So this folder leaves sys.path again and only
tests/support joins it."""
import os
import sys

import numpy as np
import pytest

import ember

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.join(_HERE, "support"))


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(0)
    np.random.seed(0)
    yield
