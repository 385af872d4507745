"""ember.io: reading models saved by other tools, and writing files safely.

``ember.io.hf``: Hugging Face model folders (config.json, model.safetensors, tokenizer.json,
sentence-transformers' modules.json and pooling config), without PyTorch.

``ember.io.load_torch_state_dict(model, state_dict)``: a PyTorch ``state_dict`` into the same
architecture built with ember, converting Linear/Conv/RNN layouts (``ember.io.torch_state``).

``ember.io.atomic_write(path, write)``: write a file atomically (the old content or all of the new
one, never a part); the same function as ``ember.serialization.atomic_write``, where it lives.
"""
from ..serialization import atomic_write
from . import hf
from .hf import ModelFolderError
from .torch_state import load_torch_state_dict

__all__ = ["hf", "ModelFolderError", "atomic_write", "load_torch_state_dict"]
