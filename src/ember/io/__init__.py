"""ember.io: reading models saved by other tools.

``ember.io.hf``: Hugging Face model folders (config.json, model.safetensors, tokenizer.json,
sentence-transformers' modules.json and pooling config), without PyTorch.
"""
from . import hf
from .hf import ModelFolderError

__all__ = ["hf", "ModelFolderError"]
