"""ember.io: reading models saved by other tools, and writing files safely.

``ember.io.hf``: Hugging Face model folders (config.json, model.safetensors, tokenizer.json,
sentence-transformers' modules.json and pooling config), without PyTorch.

``ember.io.atomic_write(path, write)``: write a file atomically (the old content or all of the new
one, never a part); the same function as ``ember.serialization.atomic_write``, where it lives.
"""
from ..serialization import atomic_write
from . import hf
from .hf import ModelFolderError

__all__ = ["hf", "ModelFolderError", "atomic_write"]
