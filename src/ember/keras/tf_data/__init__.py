"""``tf.data`` for ``import ember.keras.tf as tf`` programs: ``tf.data.Dataset``,
``tf.data.AUTOTUNE``, ``tf.data.Options``, ``tf.data.experimental`` (``AUTOTUNE``,
``cardinality``, ``INFINITE_CARDINALITY``, ``UNKNOWN_CARDINALITY``, ``AutoShardPolicy``,
``sample_from_datasets``, ``choose_from_datasets``).
See ``dataset`` for the semantics."""
import types

from .dataset import Dataset, Options
from .structure import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, TensorSpec

__all__ = ["Dataset", "Options", "TensorSpec", "AUTOTUNE", "INFINITE_CARDINALITY",
           "UNKNOWN_CARDINALITY", "experimental"]


def _cardinality(dataset):
    """``tf.data.experimental.cardinality(ds)``: ``ds.cardinality()``."""
    return dataset.cardinality()


experimental = types.SimpleNamespace(
    AUTOTUNE=AUTOTUNE, INFINITE_CARDINALITY=INFINITE_CARDINALITY,
    UNKNOWN_CARDINALITY=UNKNOWN_CARDINALITY, cardinality=_cardinality,
    sample_from_datasets=Dataset.sample_from_datasets,
    choose_from_datasets=Dataset.choose_from_datasets,
    AutoShardPolicy=types.SimpleNamespace(AUTO=0, FILE=1, DATA=2, HINT=3, OFF=-1))
