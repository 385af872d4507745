"""``keras.preprocessing.sequence``: ``pad_sequences`` (see ``ember.keras.utils``)."""
from ..utils.sequence_utils import pad_sequences

__all__ = ["pad_sequences"]
