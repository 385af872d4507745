"""The configuration of ember's GPT trainer: :class:`TrainConfig`, its presets, nanoGPT's
learning-rate schedule and the model config a TrainConfig gives (all re-exported by
:mod:`ember.models.gpt_trainer`, where they are used)."""
import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..optim.lr_scheduler import warmup_cosine_lr
from .gpt import GPT_PRESETS, GPTConfig

__all__ = ["TrainConfig", "PRESETS", "MODEL_FIELDS", "learning_rate_at"]

# The model fields of TrainConfig; a preset's values for them come from GPT_PRESETS (gpt.py).
MODEL_FIELDS = ("n_layer", "n_head", "n_embd", "block_size", "dropout", "bias")
_BABY = GPT_PRESETS["baby"]


def _model_preset(name):
    return {key: GPT_PRESETS[name][key] for key in MODEL_FIELDS}


# ================================================================================================
# Configuration
# ================================================================================================
@dataclass
class TrainConfig:
    """Everything a GPT training run needs; the defaults are the ``baby`` preset.

    ``baby`` is nanoGPT's "baby GPT" for CPUs (config/train_shakespeare_char.py with the README's
    CPU overrides): 4 layers, 4 heads, 128-wide, 64-token context, batches of 12, no dropout,
    lr 1e-3 warmed up over 100 iterations and decayed to 1e-4 at 2000, 2000 iterations, AdamW
    (beta2 0.99, weight decay 0.1), gradient clipping at 1.0, character-level tokens, evaluation
    every 250 iterations over 200 batches per split.  nanoGPT's ``bias`` default (False) is kept.
    """

    # -- tokenizer and data ------------------------------------------------------------------------
    tokenizer: str = "char"           # "char" or "bpe" (byte-level BPE trained on the train split)
    bpe_vocab_size: int = 1024        # BPE vocabulary size (>= 257)
    val_fraction: float = 0.1         # last fraction of the text's characters held out
    # -- model (ember.models.gpt.GPTConfig; defaults: GPT_PRESETS["baby"], the one source) ---------
    n_layer: int = _BABY["n_layer"]
    n_head: int = _BABY["n_head"]
    n_embd: int = _BABY["n_embd"]
    block_size: int = _BABY["block_size"]   # context length in tokens
    dropout: float = _BABY["dropout"]
    bias: bool = _BABY["bias"]              # biases in Linear and LayerNorm (nanoGPT's default: False)
    # -- optimisation ------------------------------------------------------------------------------
    batch_size: int = 12
    gradient_accumulation_steps: int = 1
    gradient_checkpointing: bool = False   # recompute block activations in backward (less memory)
    max_iters: int = 2000             # optimizer steps
    learning_rate: float = 1e-3       # peak lr
    min_lr: float = 1e-4
    decay_lr: bool = True             # warmup + cosine decay; False keeps learning_rate constant
    warmup_iters: int = 100
    lr_decay_iters: int = 2000        # the cosine reaches min_lr here (then stays there)
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0            # max global gradient norm; 0 turns clipping off
    # -- evaluation and logging --------------------------------------------------------------------
    eval_interval: int = 250
    eval_iters: int = 200             # batches per split in each evaluation
    log_interval: int = 10            # iterations between lines when tqdm is not installed
    # -- sampling at the end -----------------------------------------------------------------------
    sample_tokens: int = 500          # 0 turns the final sample off
    sample_temperature: float = 0.8
    sample_top_k: int = 200           # 0 means no top-k filtering
    sample_prompt: str = "\n"
    # -- system ------------------------------------------------------------------------------------
    seed: int = 1337
    device: str = "cpu"

    # Fields a resumed run must share with its checkpoint (they fix the model and the data).
    FIXED_ON_RESUME = ("tokenizer", "bpe_vocab_size", "val_fraction", "n_layer", "n_head",
                       "n_embd", "block_size", "bias", "seed")

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """A config from ``to_dict()``'s output; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"TrainConfig.from_dict: unknown field(s) {', '.join(unknown)}; "
                             f"known fields: {', '.join(sorted(known))}")
        return cls(**values)

    def replace(self, **changes):
        """A copy with some fields changed (unknown names are an error)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"TrainConfig.replace: unknown field(s) {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    @property
    def tokens_per_iteration(self):
        return self.batch_size * self.block_size * self.gradient_accumulation_steps

    def validate(self):
        """Raise ValueError naming the first field with an impossible value."""
        def bad(name, need):
            raise ValueError(f"TrainConfig: {name}={getattr(self, name)!r} is invalid; it must be "
                             f"{need}")

        def is_int(v):
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        def is_num(v):
            return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

        if self.tokenizer not in ("char", "bpe"):
            bad("tokenizer", "'char' or 'bpe'")
        for name in ("n_layer", "n_head", "n_embd", "block_size", "batch_size",
                     "gradient_accumulation_steps", "eval_interval", "eval_iters", "log_interval"):
            if not is_int(getattr(self, name)) or getattr(self, name) < 1:
                bad(name, "a positive integer")
        for name in ("max_iters", "warmup_iters", "lr_decay_iters", "sample_tokens",
                     "sample_top_k", "seed"):
            if not is_int(getattr(self, name)) or getattr(self, name) < 0:
                bad(name, "a non-negative integer")
        if self.tokenizer == "bpe" and (not is_int(self.bpe_vocab_size) or self.bpe_vocab_size < 257):
            bad("bpe_vocab_size", "an integer >= 257 (256 byte tokens + <|endoftext|>)")
        if self.n_embd % self.n_head:
            bad("n_embd", f"a multiple of n_head={self.n_head}")
        if not is_num(self.val_fraction) or not 0.0 < self.val_fraction < 1.0:
            bad("val_fraction", "a number strictly between 0 and 1")
        if not is_num(self.dropout) or not 0.0 <= self.dropout < 1.0:
            bad("dropout", "in [0, 1)")
        for name in ("learning_rate", "min_lr", "weight_decay", "grad_clip"):
            v = getattr(self, name)
            if not is_num(v) or not math.isfinite(v) or v < 0:
                bad(name, "a finite number >= 0")
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            if not is_num(v) or not 0.0 <= v < 1.0:
                bad(name, "in [0, 1)")
        if not is_num(self.sample_temperature) or self.sample_temperature < 0:
            bad("sample_temperature", "a number >= 0 (0 = greedy)")
        if self.decay_lr and self.lr_decay_iters < self.warmup_iters:
            bad("lr_decay_iters", f">= warmup_iters={self.warmup_iters}: lower warmup_iters "
                                  "(--warmup-iters) or raise lr_decay_iters (--lr-decay-iters)")
        if not isinstance(self.sample_prompt, str):
            bad("sample_prompt", "a string")
        if self.device != "cpu":
            bad("device", "'cpu' (the only device of this ember build)")
        return self


PRESETS = {
    # nanoGPT's baby GPT on CPU (see TrainConfig; the model is GPT_PRESETS["baby"]).
    "baby": TrainConfig(**_model_preset("baby")),
    # A model small enough for tests (GPT_PRESETS["tiny"]): a few hundred milliseconds for 20 steps.
    "tiny": TrainConfig(**_model_preset("tiny"), batch_size=4, max_iters=20, warmup_iters=4,
                        lr_decay_iters=20, eval_interval=10, eval_iters=2, log_interval=5,
                        sample_tokens=32, bpe_vocab_size=300),
}


def learning_rate_at(iteration, config):
    """nanoGPT's ``get_lr``: the learning rate of step ``iteration`` (0-based).

    :func:`ember.optim.lr_scheduler.warmup_cosine_lr` with the config's ``learning_rate``,
    ``warmup_iters``, ``lr_decay_iters`` and ``min_lr`` (linear warmup as ``(it + 1) /
    (warmup_iters + 1)``, then a cosine down to ``min_lr`` at ``lr_decay_iters``, then ``min_lr``);
    with ``decay_lr=False`` it is ``learning_rate`` throughout.
    """
    if not config.decay_lr:
        return config.learning_rate
    return warmup_cosine_lr(iteration, config.learning_rate, config.warmup_iters,
                            config.lr_decay_iters, config.min_lr)


def _gpt_config(config, vocab_size):
    """The :class:`ember.models.gpt.GPTConfig` of ``config``'s model for ``vocab_size`` tokens."""
    return GPTConfig(vocab_size=int(vocab_size), block_size=config.block_size,
                     n_layer=config.n_layer, n_head=config.n_head, n_embd=config.n_embd,
                     dropout=float(config.dropout), bias=bool(config.bias))


def _check_resume_config(config, saved, path):
    """Refuse to resume the checkpoint ``path`` (config ``saved``) with a ``config`` that differs
    in a field that fixes the model or the data (:attr:`TrainConfig.FIXED_ON_RESUME`)."""
    differ = [f"{name}: checkpoint {getattr(saved, name)!r}, given {getattr(config, name)!r}"
              for name in TrainConfig.FIXED_ON_RESUME
              if getattr(saved, name) != getattr(config, name)]
    if differ:
        raise ValueError(f"train_gpt: cannot resume from {path}: the config differs in fields that "
                         "fix the model or the data (" + "; ".join(differ) + "); resume with the "
                         "checkpoint's values (leave them out) or start a new out_dir")
