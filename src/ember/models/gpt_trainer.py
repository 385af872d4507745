"""Pretrain a GPT on a text file: the library function behind ``ember train-gpt``.

``train_gpt(config, text_path, out_dir)`` reads the text, builds a tokenizer (character-level, or
byte-level BPE trained on the training split), and trains :class:`ember.models.gpt.GPT` the way
nanoGPT's ``train.py`` does: AdamW from ``model.configure_optimizers`` (decay on 2-D weights
only), linear warmup then cosine decay to ``min_lr`` (:func:`learning_rate_at`, nanoGPT's
``get_lr``), gradient clipping, gradient accumulation, batches of ``block_size`` tokens at random
offsets, and a periodic estimate of the train and validation loss.  It shows a progress bar with
the loss and tokens/s, writes checkpoints, a loss-curve PNG and a text sample, and returns a
:class:`TrainResult`.

Data.  The first ``1 - val_fraction`` of the text's characters (90% by default) is the training
split, the rest the validation split (nanoGPT's ``shakespeare_char`` split); each split is encoded
on its own.  The character alphabet comes from the whole text, as nanoGPT's ``prepare.py`` does.
A training batch is ``batch_size`` windows at offsets drawn uniformly from
``[0, len(split) - block_size)`` by the trainer's own ``numpy.random.Generator``
(:func:`batch_generator`, seeded from ``config.seed``); targets are the windows shifted by one
token.  There is no cursor: the "data position" is that generator's state, which checkpoints hold.
The initial weights come from ember's global generator (``ember.manual_seed(config.seed)``); the
batch generator is seeded from ``[seed, 3]`` so that its stream is independent of that one (two
generators seeded with the same integer would draw the very same bits: the first batch offsets
would be functions of the first initial weights).

Evaluation.  ``estimate_loss`` averages the loss of ``eval_iters`` batches per split, in eval mode
without gradients; its batches come from generators seeded afresh from ``config.seed`` at every
evaluation, so every evaluation sees the same batches (curves are comparable over time) and
evaluating never changes the training stream.  It runs at iteration 0, every ``eval_interval``
iterations and after the last one.

Checkpoints (``out_dir``).  Written with ``ember.save`` (safetensors, atomic, no pickle):

* ``last.safetensors`` -- the complete training state after the latest evaluation (and at the end
  of the run, and when the run is interrupted with Ctrl-C): model, optimizer state (AdamW moments
  and step counts), learning-rate schedule (a pure function of the iteration, stored with its
  parameters and the current lr), iteration, the batch generator's state and ember's global RNG
  state (dropout draws from it), the data description (text path, SHA-256, token counts), the
  config, the tokenizer (as JSON) and the loss history.  ``resume=True`` continues from it
  exactly: N steps, save, resume, N more steps gives the same parameters, bit for bit, as 2N
  uninterrupted steps (on CPU).
* ``best.safetensors`` -- the same contents, written whenever the validation loss reaches a new
  minimum (not at iteration 0): the model to keep.  ``load_trained_gpt(path)`` loads either file.
* ``tokenizer.json`` (the tokenizer alone), ``loss.png`` (train and validation loss), and
  ``samples.txt`` (text generated at the end).

Resuming.  The model shape, tokenizer, data split and seed are fixed by the checkpoint (a config
that differs in them is refused); schedule, evaluation and run-length fields (``max_iters``,
``learning_rate``, ``eval_interval``, ...) may change, e.g. to train longer.  The text must be the
one the checkpoint was made from (its SHA-256 is checked).
"""
import dataclasses
import hashlib
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .gpt import GPT_PRESETS

__all__ = ["TrainConfig", "PRESETS", "TrainResult", "train_gpt", "learning_rate_at",
           "get_batch", "batch_generator", "train_step", "estimate_loss", "load_trained_gpt",
           "checkpoint_config", "checkpoint_text_path", "LAST_CHECKPOINT", "BEST_CHECKPOINT"]

LAST_CHECKPOINT = "last.safetensors"
BEST_CHECKPOINT = "best.safetensors"
TOKENIZER_FILE = "tokenizer.json"
PLOT_FILE = "loss.png"
SAMPLES_FILE = "samples.txt"
_FORMAT = "ember.gpt_trainer"
_FORMAT_VERSION = 1

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
            bad("lr_decay_iters", f">= warmup_iters={self.warmup_iters}")
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

    ``learning_rate * (it + 1) / (warmup_iters + 1)`` during warmup (``it < warmup_iters``), then
    ``min_lr + 0.5 * (1 + cos(pi * r)) * (learning_rate - min_lr)`` with
    ``r = (it - warmup_iters) / (lr_decay_iters - warmup_iters)``, and ``min_lr`` after
    ``lr_decay_iters``.  With ``decay_lr=False`` it is ``learning_rate`` throughout.
    (``ember.optim.lr_scheduler.LinearWarmupCosineDecay`` warms up as ``it / warmup`` -- nanoGPT's
    older formula, which gives lr 0 at the first step -- hence this function.)
    """
    if not config.decay_lr:
        return config.learning_rate
    it = iteration
    if it < config.warmup_iters:
        return config.learning_rate * (it + 1) / (config.warmup_iters + 1)
    if it >= config.lr_decay_iters:        # (at == the cosine is exactly at min_lr)
        return config.min_lr
    ratio = (it - config.warmup_iters) / (config.lr_decay_iters - config.warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))
    return config.min_lr + coeff * (config.learning_rate - config.min_lr)


# ================================================================================================
# Data
# ================================================================================================
def _read_text(text_path):
    path = os.fspath(text_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"train_gpt: text file {path!r} does not exist")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise ValueError(f"train_gpt: {path!r} is not UTF-8 text ({e}); convert it to UTF-8 "
                         "first (e.g. iconv -t UTF-8)") from None
    if not text:
        raise ValueError(f"train_gpt: the corpus {path!r} is empty; give a text file with at "
                         "least a few thousand characters")
    return text


def _split_text(text, val_fraction):
    n = int(len(text) * (1.0 - val_fraction))
    return text[:n], text[n:]


def _build_tokenizer(config, train_text, full_text):
    from ..text import ByteLevelBPETokenizer, CharTokenizer
    if config.tokenizer == "char":
        return CharTokenizer.from_text(full_text)
    return ByteLevelBPETokenizer().train(train_text, vocab_size=config.bpe_vocab_size)


def _encode_split(tokenizer, text):
    dtype = np.uint16 if tokenizer.vocab_size <= 1 << 16 else np.int32
    return tokenizer.encode_to_numpy(text, dtype=dtype)


def _check_split_length(name, tokens, config, text_path):
    if len(tokens) <= config.block_size:
        raise ValueError(
            f"train_gpt: the corpus {os.fspath(text_path)!r} is shorter than one block: its "
            f"{name} split has {len(tokens)} tokens but block_size={config.block_size} needs at "
            f"least {config.block_size + 1} (a block of inputs plus the next token); use a longer "
            "text, a smaller block_size (--block-size)"
            + (", or a larger val_fraction" if name == "validation" else ""))


def get_batch(tokens, rng, batch_size, block_size):
    """nanoGPT's ``get_batch``: ``batch_size`` windows of ``tokens`` at random offsets.

    Offsets are drawn from ``rng.integers(0, len(tokens) - block_size, size=batch_size)``.
    Returns ``(inputs, targets)``, C-contiguous int64 arrays of shape ``(batch_size, block_size)``;
    the targets are the inputs shifted one token to the left.
    """
    offsets = rng.integers(0, len(tokens) - block_size, size=batch_size)
    positions = offsets[:, None] + np.arange(block_size)
    # Two gathers give two C-contiguous arrays (slices of one window array would not be).
    return tokens[positions].astype(np.int64), tokens[positions + 1].astype(np.int64)


def train_step(model, optimizer, batches, lr, grad_clip):
    """One optimizer step over the micro-batches ``batches`` (gradient accumulation).

    Each ``(inputs, targets)`` pair's mean loss is divided by ``len(batches)`` before its backward
    pass, so the accumulated gradient is that of the mean loss over all micro-batches; then the
    global gradient norm is clipped to ``grad_clip`` (0 = no clipping), every group's lr is set to
    ``lr``, the optimizer steps and the gradients are dropped.  Returns the mean loss (a float).
    """
    from ..nn.utils import clip_grad_norm_
    from ..tensor import Tensor
    for group in optimizer.param_groups:
        group["lr"] = lr
    n = len(batches)
    loss_sum = 0.0
    for x, y in batches:
        _, loss = model(Tensor._wrap(x), Tensor._wrap(y))
        loss_sum += float(loss.item())
        (loss if n == 1 else loss / n).backward()
    if grad_clip > 0.0:
        clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum / n


def batch_generator(seed):
    """The generator of the training batches: a stream independent of ``ember.manual_seed(seed)``'s
    (which draws the initial weights) and of the evaluation batches' streams."""
    # [seed, 3]: not [seed, 0], whose SeedSequence equals plain ``seed``'s (trailing zero words
    # do not change it); 1 and 2 are the evaluation streams.
    return np.random.default_rng([int(seed), 3])


def _eval_generator(seed, split):
    return np.random.default_rng([int(seed), 2 if split == "val" else 1])


def estimate_loss(model, splits, config):
    """Mean loss over ``config.eval_iters`` batches of each split (eval mode, no gradients).

    ``splits`` maps a name ("train", "val") to its token array.  Deterministic: each split's
    batches come from a generator seeded from ``config.seed`` and the split name.
    """
    from .. import no_grad
    from ..tensor import Tensor
    was_training = model.training
    model.eval()
    out = {}
    try:
        with no_grad():
            for name, tokens in splits.items():
                rng = _eval_generator(config.seed, name)
                losses = np.empty(config.eval_iters, dtype=np.float64)
                for k in range(config.eval_iters):
                    x, y = get_batch(tokens, rng, config.batch_size, config.block_size)
                    _, loss = model(Tensor._wrap(x), Tensor._wrap(y))
                    losses[k] = float(loss.item())
                out[name] = float(losses.mean())
    finally:
        model.train(was_training)
    return out


# ================================================================================================
# Results and checkpoints
# ================================================================================================
@dataclass
class TrainResult:
    """What :func:`train_gpt` returns."""

    model: object
    tokenizer: object
    config: TrainConfig
    iteration: int                              # optimizer steps taken in total
    train_losses: list                          # loss of every step (mean over micro-batches)
    learning_rates: list                        # lr of every step
    evals: list                                 # [{"iteration", "train", "val"}]
    best_val_loss: float
    out_dir: str
    last_checkpoint: str
    best_checkpoint: str = None                 # None until the validation loss improved once
    tokenizer_path: str = None
    plot_path: str = None                       # None when matplotlib is missing
    samples_path: str = None
    sample_text: str = None
    seconds_per_step: float = None              # median over this run's steps
    tokens_per_second: float = None
    interrupted: bool = False                   # stopped early by Ctrl-C (resume with resume=True)
    step_times: list = field(default_factory=list, repr=False)

    @property
    def final_val_loss(self):
        return self.evals[-1]["val"] if self.evals else None


def checkpoint_config(path_or_out_dir):
    """The :class:`TrainConfig` stored in a checkpoint (reads only its header).

    Accepts a checkpoint file or an output folder (then its ``last.safetensors``).
    """
    from ..serialization import read_metadata
    path = _checkpoint_path(path_or_out_dir)
    meta = read_metadata(path)
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a checkpoint written by ember's GPT trainer")
    return TrainConfig.from_dict(meta["config"])


def checkpoint_text_path(path_or_out_dir):
    """The text file a checkpoint was trained on (as given to ``train_gpt``)."""
    from ..serialization import read_metadata
    return read_metadata(_checkpoint_path(path_or_out_dir)).get("text_path")


def _checkpoint_path(path_or_out_dir):
    path = os.fspath(path_or_out_dir)
    if os.path.isdir(path):
        path = os.path.join(path, LAST_CHECKPOINT)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}; train first (ember train-gpt ...) "
                                "or give the path of a .safetensors checkpoint")
    return path


def _gpt_config(config, vocab_size):
    from .gpt import GPTConfig
    return GPTConfig(vocab_size=int(vocab_size), block_size=config.block_size,
                     n_layer=config.n_layer, n_head=config.n_head, n_embd=config.n_embd,
                     dropout=float(config.dropout), bias=bool(config.bias))


def load_trained_gpt(path_or_out_dir):
    """``(model, tokenizer, config)`` from a trainer checkpoint (``best`` or ``last``), with the
    model in eval mode -- ready for ``model.generate``."""
    from .. import load
    from ..text import tokenizer_from_json
    from .gpt import GPT
    path = _checkpoint_path(path_or_out_dir)
    ckpt = load(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a checkpoint written by ember's GPT trainer")
    config = TrainConfig.from_dict(ckpt["config"])
    tokenizer = tokenizer_from_json(ckpt["tokenizer"])
    model = GPT(_gpt_config(config, tokenizer.vocab_size))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, tokenizer, config


def _text_digest(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# ================================================================================================
# Progress display
# ================================================================================================
class _Progress:
    """A tqdm bar when tqdm is installed (and ``enabled``), else a line every ``log_interval``."""

    def __init__(self, enabled, verbose, start, total, log_interval):
        self.bar = None
        self.enabled = enabled
        self.verbose = verbose
        self.log_interval = log_interval
        if enabled:
            try:
                from tqdm.auto import tqdm
                self.bar = tqdm(total=total, initial=start, unit="it", dynamic_ncols=True,
                                desc="train-gpt", leave=True)
            except ImportError:
                self.bar = None

    def step(self, iteration, loss, lr, tokens_per_second):
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"loss {loss:.4f}  lr {lr:.2e}  {tokens_per_second:,.0f} tok/s",
                                     refresh=False)
        elif iteration % self.log_interval == 0:
            print(f"iter {iteration}: loss {loss:.4f}, lr {lr:.2e}, {tokens_per_second:,.0f} tok/s",
                  flush=True)

    def message(self, text):
        if not self.verbose:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class _InterruptFlag:
    """While active, the first Ctrl-C only sets a flag (the loop saves and stops at the end of the
    step); a second one interrupts at once.  Only in the main thread (signals go there)."""

    def __init__(self, enabled):
        self.requested = False
        self.previous = None
        self.enabled = enabled and threading.current_thread() is threading.main_thread()

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if self.enabled:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            signal.signal(signal.SIGINT, self.previous)
        return False


def _plot_losses(path, train_losses, evals, title):
    """Write the loss curves to ``path`` (PNG); returns False when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(8, 5))
    try:
        steps = np.arange(len(train_losses))
        if len(train_losses):
            ax.plot(steps, train_losses, color="tab:blue", alpha=0.3, linewidth=0.8,
                    label="train (per step)")
        if evals:
            its = [e["iteration"] for e in evals]
            ax.plot(its, [e["train"] for e in evals], "o-", color="tab:blue", label="train (estimate)")
            ax.plot(its, [e["val"] for e in evals], "o-", color="tab:orange", label="validation")
        ax.set_xlabel("iteration")
        ax.set_ylabel("cross-entropy loss (nats/token)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        tmp = f"{path}.tmp.png"
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
    return True


def _atomic_write_text(path, text):
    from ..serialization import _atomic_write
    data = text.encode("utf-8", "surrogatepass")
    _atomic_write(path, lambda f: f.write(data))


# ================================================================================================
# The run
# ================================================================================================
def _check_resume_config(config, saved, path):
    differ = [f"{name}: checkpoint {getattr(saved, name)!r}, given {getattr(config, name)!r}"
              for name in TrainConfig.FIXED_ON_RESUME
              if getattr(saved, name) != getattr(config, name)]
    if differ:
        raise ValueError(f"train_gpt: cannot resume from {path}: the config differs in fields that "
                         "fix the model or the data (" + "; ".join(differ) + "); resume with the "
                         "checkpoint's values (leave them out) or start a new out_dir")


def train_gpt(config=None, text_path=None, out_dir="out-gpt", resume=False, overwrite=False,
              progress=True, verbose=True, handle_interrupt=True):
    """Train a GPT on the text file ``text_path``; see the module docstring for the details.

    Args:
        config: a :class:`TrainConfig` (``PRESETS["baby"]`` when None and not resuming; the
            checkpoint's config when None and resuming).
        text_path: a UTF-8 text file (when resuming, defaults to the checkpoint's).
        out_dir: folder for checkpoints, ``tokenizer.json``, ``loss.png`` and ``samples.txt``
            (created if missing).
        resume: continue exactly from ``out_dir/last.safetensors``; ``config.max_iters`` may be
            raised to train longer.
        overwrite: start a new run in an ``out_dir`` that holds a checkpoint (its ``best`` and
            ``last`` files are replaced); without it that is an error, so that a forgotten
            ``resume`` never destroys a run.
        progress: show a progress bar (tqdm; lines every ``log_interval`` steps without it).
        verbose: print evaluations, where files went, and the sample.
        handle_interrupt: the first Ctrl-C saves ``last.safetensors`` at the end of the current
            step and returns (``result.interrupted``); a second one interrupts at once.

    Returns a :class:`TrainResult`.  Raises ``ValueError`` for an empty corpus, a corpus whose
    splits are shorter than one block, an invalid config, or a checkpoint that does not match.
    """
    import ember
    from .. import load, save
    from ..text import tokenizer_from_json

    out_dir = os.fspath(out_dir)
    last_path = os.path.join(out_dir, LAST_CHECKPOINT)
    best_path = os.path.join(out_dir, BEST_CHECKPOINT)
    checkpoint = None
    if resume:
        if not os.path.isfile(last_path):
            raise FileNotFoundError(f"train_gpt: resume=True but there is no checkpoint at "
                                    f"{last_path!r}; train without resume first")
        checkpoint = load(last_path)
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != _FORMAT:
            raise ValueError(f"train_gpt: {last_path} is not a checkpoint of ember's GPT trainer")
        saved_config = TrainConfig.from_dict(checkpoint["config"])
        if config is None:
            config = saved_config
        _check_resume_config(config, saved_config, last_path)
        if text_path is None:
            text_path = checkpoint["data"]["text_path"]
    elif os.path.isfile(last_path) and not overwrite:
        raise FileExistsError(f"train_gpt: {out_dir!r} already holds a checkpoint ({LAST_CHECKPOINT}); "
                              "continue it with resume=True (--resume), start over with "
                              "overwrite=True (--overwrite), or choose another out_dir")
    if config is None:
        config = PRESETS["baby"]
    if not isinstance(config, TrainConfig):
        raise TypeError(f"train_gpt: config must be a TrainConfig, got {type(config).__name__}")
    config.validate()
    if text_path is None:
        raise ValueError("train_gpt: text_path is required (a UTF-8 text file to train on)")

    # -- data and tokenizer (all checks before any training work) ---------------------------------
    text = _read_text(text_path)
    digest = _text_digest(text)
    train_text, val_text = _split_text(text, config.val_fraction)
    if checkpoint is not None:
        if checkpoint["data"]["text_sha256"] != digest:
            raise ValueError(f"train_gpt: {os.fspath(text_path)!r} is not the text the checkpoint "
                             f"{last_path} was trained on (its SHA-256 differs); resume needs the "
                             "same corpus")
        tokenizer = tokenizer_from_json(checkpoint["tokenizer"])
    else:
        if len(train_text) <= config.block_size or len(val_text) <= config.block_size:
            # Cheap early check before a BPE tokenizer is trained on a hopeless corpus.
            which = "training" if len(train_text) <= config.block_size else "validation"
            _check_split_length(which, train_text if which == "training" else val_text,
                                config, text_path)
        tokenizer = _build_tokenizer(config, train_text, text)
    train_tokens = _encode_split(tokenizer, train_text)
    val_tokens = _encode_split(tokenizer, val_text)
    _check_split_length("training", train_tokens, config, text_path)
    _check_split_length("validation", val_tokens, config, text_path)

    # -- model and optimizer ----------------------------------------------------------------------
    from .gpt import GPT
    if checkpoint is None:
        ember.manual_seed(config.seed)
    gpt_config = _gpt_config(config, tokenizer.vocab_size)
    model = GPT(gpt_config)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    optimizer = model.configure_optimizers(config.weight_decay, config.learning_rate,
                                           betas=(config.beta1, config.beta2))
    batch_rng = batch_generator(config.seed)
    history = {"train_loss": [], "lr": [], "evals": []}
    best_val_loss = math.inf
    iteration = 0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        iteration = int(checkpoint["iteration"])
        batch_rng.bit_generator.state = checkpoint["rng"]["batches"]
        ember.set_rng_state(checkpoint["rng"]["ember"])
        saved = checkpoint["history"]
        history["train_loss"] = [float(v) for v in np.asarray(saved["train_loss"]).tolist()]
        history["lr"] = [float(v) for v in np.asarray(saved["lr"]).tolist()]
        history["evals"] = [dict(e) for e in saved["evals"]]
        best_val_loss = float(saved["best_val_loss"])
        del checkpoint            # the arrays are copied into the model and optimizer
    os.makedirs(out_dir, exist_ok=True)
    if not resume:
        for stale in (best_path, last_path):      # from an earlier run (overwrite=True)
            if os.path.isfile(stale):
                os.remove(stale)
    tokenizer_path = os.path.join(out_dir, TOKENIZER_FILE)
    tokenizer.save(tokenizer_path)
    tokenizer_json = tokenizer.to_json()
    splits = {"train": train_tokens, "val": val_tokens}
    tokens_per_iter = config.tokens_per_iteration

    def save_checkpoint(path):
        lr = learning_rate_at(iteration, config)
        state = {
            "format": _FORMAT, "version": _FORMAT_VERSION,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": {"type": "nanogpt_warmup_cosine", "iteration": iteration, "lr": lr,
                         "learning_rate": config.learning_rate, "min_lr": config.min_lr,
                         "warmup_iters": config.warmup_iters,
                         "lr_decay_iters": config.lr_decay_iters, "decay_lr": config.decay_lr},
            "iteration": iteration,
            "rng": {"batches": batch_rng.bit_generator.state, "ember": ember.get_rng_state()},
            "data": {"text_path": os.path.abspath(os.fspath(text_path)), "text_sha256": digest,
                     "train_tokens": len(train_tokens), "val_tokens": len(val_tokens),
                     "sampling": "random offsets (nanoGPT get_batch); position = rng.batches"},
            "config": config.to_dict(),
            "model_config": dataclasses.asdict(gpt_config),
            "tokenizer": tokenizer_json,
            "history": {"train_loss": np.asarray(history["train_loss"], dtype=np.float64),
                        "lr": np.asarray(history["lr"], dtype=np.float64),
                        "evals": history["evals"], "best_val_loss": best_val_loss},
        }
        meta = {"format": _FORMAT, "iteration": iteration, "config": config.to_dict(),
                "text_path": os.path.abspath(os.fspath(text_path))}
        save(state, path, metadata=meta)

    n_params = model.num_parameters()
    if verbose:
        print(f"train-gpt: {n_params / 1e6:.2f}M parameters, vocab {tokenizer.vocab_size} "
              f"({config.tokenizer}), {len(train_tokens):,} train / {len(val_tokens):,} val "
              f"tokens, {tokens_per_iter:,} tokens per iteration"
              + (f", resuming at iteration {iteration}" if resume else ""), flush=True)
    bar = _Progress(progress, verbose, iteration, config.max_iters, config.log_interval)
    resumed_at = iteration if resume else None
    step_times = []
    interrupted = False
    best_written = os.path.isfile(best_path) if resume else False
    throughput = None
    try:
        with _InterruptFlag(handle_interrupt) as interrupt:
            while True:
                # -- evaluation and checkpoints at the iteration boundary --------------------------
                at_end = iteration >= config.max_iters
                if (iteration % config.eval_interval == 0 or at_end) and iteration != resumed_at:
                    losses = estimate_loss(model, splits, config)
                    history["evals"].append({"iteration": iteration, "train": losses["train"],
                                             "val": losses["val"]})
                    bar.message(f"step {iteration}: train loss {losses['train']:.4f}, "
                                f"val loss {losses['val']:.4f}")
                    if losses["val"] < best_val_loss:
                        best_val_loss = losses["val"]
                        if iteration > 0:
                            save_checkpoint(best_path)
                            best_written = True
                    if iteration > 0:
                        save_checkpoint(last_path)
                if at_end:
                    break
                if interrupt.requested:
                    save_checkpoint(last_path)
                    interrupted = True
                    bar.message(f"interrupted: saved iteration {iteration} to {last_path}; "
                                "continue with resume=True (ember train-gpt --resume)")
                    break
                # -- one optimizer step -------------------------------------------------------------
                t0 = time.perf_counter()
                lr = learning_rate_at(iteration, config)
                batches = [get_batch(train_tokens, batch_rng, config.batch_size, config.block_size)
                           for _ in range(config.gradient_accumulation_steps)]
                step_loss = train_step(model, optimizer, batches, lr, config.grad_clip)
                history["train_loss"].append(step_loss)
                history["lr"].append(lr)
                iteration += 1
                dt = time.perf_counter() - t0
                step_times.append(dt)
                rate = tokens_per_iter / dt if dt > 0 else float("inf")
                throughput = rate if throughput is None else 0.9 * throughput + 0.1 * rate
                bar.step(iteration, step_loss, lr, throughput)
                if not math.isfinite(step_loss):
                    save_checkpoint(last_path)
                    raise FloatingPointError(
                        f"train_gpt: the loss became {step_loss} at iteration {iteration}; lower "
                        "learning_rate or grad_clip (state saved to last.safetensors)")
    finally:
        bar.close()

    # -- outputs ------------------------------------------------------------------------------------
    if not os.path.isfile(last_path):
        save_checkpoint(last_path)   # e.g. max_iters == 0
    plot_path = os.path.join(out_dir, PLOT_FILE)
    title = (f"GPT {config.n_layer}x{config.n_embd}, {config.tokenizer} tokens, "
             f"{os.path.basename(os.fspath(text_path))}")
    if not _plot_losses(plot_path, history["train_loss"], history["evals"], title):
        plot_path = None
        if verbose:
            print("train-gpt: matplotlib is not installed, so no loss plot was written "
                  "(pip install matplotlib)", file=sys.stderr)
    sample_text = samples_path = None
    if config.sample_tokens > 0 and not interrupted:
        sample_text = _sample(model, tokenizer, config, train_tokens)
        samples_path = os.path.join(out_dir, SAMPLES_FILE)
        _atomic_write_text(samples_path, sample_text)
    median = float(np.median(step_times)) if step_times else None
    result = TrainResult(
        model=model, tokenizer=tokenizer, config=config, iteration=iteration,
        train_losses=history["train_loss"], learning_rates=history["lr"], evals=history["evals"],
        best_val_loss=best_val_loss, out_dir=out_dir, last_checkpoint=last_path,
        best_checkpoint=best_path if best_written else None, tokenizer_path=tokenizer_path,
        plot_path=plot_path, samples_path=samples_path, sample_text=sample_text,
        seconds_per_step=median, tokens_per_second=(tokens_per_iter / median) if median else None,
        interrupted=interrupted, step_times=step_times)
    if verbose:
        _report(result)
    return result


def _sample(model, tokenizer, config, train_tokens):
    """Generate ``sample_tokens`` tokens after ``sample_prompt`` (or the corpus's first token)."""
    from ..tensor import Tensor
    try:
        prompt = tokenizer.encode_to_numpy(config.sample_prompt) if config.sample_prompt else None
    except ValueError:
        prompt = None                      # the prompt uses characters outside the alphabet
    if prompt is None or prompt.size == 0:
        prompt = np.asarray(train_tokens[:1], dtype=np.int64)
    idx = Tensor._wrap(prompt.astype(np.int64)[None, :])
    was_training = model.training
    model.eval()
    try:
        out = model.generate(idx, config.sample_tokens, temperature=config.sample_temperature,
                             top_k=config.sample_top_k or None, seed=config.seed)
    finally:
        model.train(was_training)
    ids = np.asarray(out.data if hasattr(out, "data") else out)[0]
    return tokenizer.decode(ids)


def _report(result):
    lines = []
    if result.evals:
        e = result.evals[-1]
        state = "interrupted" if result.interrupted else "done"
        lines.append(f"train-gpt: {state} at iteration {result.iteration}; evaluation at "
                     f"iteration {e['iteration']}: train loss {e['train']:.4f}, val loss "
                     f"{e['val']:.4f} (best val {result.best_val_loss:.4f})")
    if result.seconds_per_step:
        lines.append(f"  speed: {result.seconds_per_step * 1000:.1f} ms/step (median), "
                     f"{result.tokens_per_second:,.0f} tokens/s")
    lines.append(f"  last checkpoint: {result.last_checkpoint}")
    if result.best_checkpoint:
        lines.append(f"  best checkpoint: {result.best_checkpoint}")
    lines.append(f"  tokenizer:       {result.tokenizer_path}")
    if result.plot_path:
        lines.append(f"  loss curve:      {result.plot_path}")
    if result.samples_path:
        lines.append(f"  samples:         {result.samples_path}")
    print("\n".join(lines), flush=True)
    if result.sample_text is not None:
        print("-" * 60 + "\n" + result.sample_text + "\n" + "-" * 60, flush=True)
