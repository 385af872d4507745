"""Ready-made models built from ember's layers.

``ember.models.gpt``: the GPT language model (GPT-2 architecture, nanoGPT-style API).
"""
from .gpt import GPT, GPT_PRESETS, GPTConfig

__all__ = ["GPT", "GPTConfig", "GPT_PRESETS"]
