"""Ready-made models built from ember's layers.

``ember.models.gpt``: the GPT language model (GPT-2 architecture, nanoGPT-style API).
``ember.models.bert``: the BERT encoder and sequence classifier, loadable from Hugging Face.
``ember.models.sentence_encoder``: sentence embeddings from a BERT encoder (sentence-transformers).
"""
from .gpt import GPT, GPT_PRESETS, GPTConfig
from .sentence_encoder import SentenceEncoder

__all__ = ["GPT", "GPTConfig", "GPT_PRESETS", "SentenceEncoder"]
