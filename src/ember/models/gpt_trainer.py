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
one the checkpoint was made from (its SHA-256 is checked).  Resuming a run that already reached
``max_iters`` trains nothing and says so (``result.already_finished``): raise ``max_iters``.

Divergence.  A checkpoint is never written with non-finite values: a step whose loss is not finite,
or a save that finds a NaN or infinity in a parameter or in the optimizer's state, stops the run
with :class:`TrainingDiverged` naming the iteration and the last good checkpoint, which is left as
it was, so that ``resume`` continues from the last finite state (with a lower learning rate).
"""
import dataclasses
import hashlib
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

# The configuration, and the progress display / plot / report, live in modules of their own.
from .gpt_train_config import MODEL_FIELDS, PRESETS, TrainConfig, learning_rate_at  # noqa: F401
from .gpt_train_display import (_atomic_write_text, _InterruptFlag, _plot_losses, _Progress,
                                _report)

__all__ = ["TrainConfig", "PRESETS", "TrainResult", "TrainingDiverged", "train_gpt",
           "learning_rate_at", "get_batch", "batch_generator", "train_step", "estimate_loss",
           "load_trained_gpt", "checkpoint_config", "checkpoint_text_path", "LAST_CHECKPOINT",
           "BEST_CHECKPOINT"]

LAST_CHECKPOINT = "last.safetensors"
BEST_CHECKPOINT = "best.safetensors"
TOKENIZER_FILE = "tokenizer.json"
PLOT_FILE = "loss.png"
SAMPLES_FILE = "samples.txt"
_FORMAT = "ember.gpt_trainer"
_FORMAT_VERSION = 1


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
    already_finished: bool = False              # resumed at iteration >= max_iters: nothing trained
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
# The run
# ================================================================================================
def finished_message(last_path, iteration, max_iters):
    """What to say when ``resume`` finds the run already at (or past) ``max_iters``."""
    out_dir = os.path.dirname(os.fspath(last_path)) or "."
    more = max(2 * iteration, iteration + 1)
    return (f"train-gpt: nothing to train: {last_path} is already at iteration {iteration} and "
            f"max_iters is {max_iters}.  To train longer, resume with a larger max_iters, e.g. "
            f"ember train-gpt --out-dir {out_dir} --resume --max-iters {more}")


class TrainingDiverged(FloatingPointError):
    """Training produced a non-finite loss, parameter or optimizer state.

    Nothing non-finite was saved; ``last_checkpoint`` (None when none was written yet) holds the
    state at ``last_good_iteration``.  ``iteration`` is where the divergence was found.
    """

    def __init__(self, message, iteration, last_checkpoint, last_good_iteration):
        super().__init__(message)
        self.iteration = iteration
        self.last_checkpoint = last_checkpoint
        self.last_good_iteration = last_good_iteration


def _first_non_finite(model_state, optimizer_state, param_names):
    """What holds a NaN or an infinity in a model's and an optimizer's state dicts, or None.

    ``param_names`` maps the optimizer state's parameter indices to the parameters' names.
    """
    def bad(v):
        a = np.asarray(getattr(v, "data", v))
        return a.dtype.kind in "fc" and not np.isfinite(a).all()

    for name, value in model_state.items():
        if bad(value):
            return f"parameter {name!r}"
    for idx, entries in optimizer_state["state"].items():
        for key, value in entries.items():
            if bad(value):
                return f"the optimizer's {key!r} of parameter {param_names.get(idx, idx)!r}"
    return None


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
    splits are shorter than one block, an invalid config, or a checkpoint that does not match;
    :class:`TrainingDiverged` when the loss, a parameter or the optimizer state stops being finite
    (nothing non-finite is saved: ``last.safetensors`` keeps the last finite state).
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
    names_by_id = {id(p): name for name, p in model.named_parameters()}
    param_names = dict(enumerate(names_by_id.get(id(p), "?")
                                 for group in optimizer.param_groups for p in group["params"]))
    # The last checkpoint known to be good: (path, iteration) of last.safetensors, or None.
    last_good = (last_path, iteration) if resume else None

    def diverged(what):
        """Stop: ``what`` is not finite at ``iteration``; nothing has been saved over last_good."""
        lr_now = learning_rate_at(max(iteration - 1, 0), config)
        if last_good is not None:
            where = (f"the last good checkpoint, {last_good[0]} (iteration {last_good[1]}), is "
                     "unchanged; resume from it with a lower learning rate or stronger gradient "
                     f"clipping, e.g. ember train-gpt --out-dir {out_dir} --resume "
                     f"--learning-rate {config.learning_rate / 10:g}")
        else:
            where = ("no checkpoint was written yet (the first is written at iteration "
                     f"{config.eval_interval}); start again with a lower learning rate or "
                     "stronger gradient clipping (--learning-rate "
                     f"{config.learning_rate / 10:g}, --grad-clip) and --overwrite")
        return TrainingDiverged(
            f"train_gpt: training diverged at iteration {iteration}: {what} (learning rate "
            f"{lr_now:g}, grad_clip {config.grad_clip:g}); nothing non-finite was saved: {where}",
            iteration, last_good[0] if last_good else None, last_good[1] if last_good else None)

    def save_checkpoint(path):
        nonlocal last_good
        lr = learning_rate_at(iteration, config)
        model_state, optimizer_state = model.state_dict(), optimizer.state_dict()
        bad = _first_non_finite(model_state, optimizer_state, param_names)
        if bad is not None:
            raise diverged(f"{bad} holds NaN or infinite values")
        state = {
            "format": _FORMAT, "version": _FORMAT_VERSION,
            "model": model_state,
            "optimizer": optimizer_state,
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
        if path == last_path:
            last_good = (path, iteration)

    n_params = model.num_parameters()
    if verbose:
        print(f"train-gpt: {n_params / 1e6:.2f}M parameters, vocab {tokenizer.vocab_size} "
              f"({config.tokenizer}), {len(train_tokens):,} train / {len(val_tokens):,} val "
              f"tokens, {tokens_per_iter:,} tokens per iteration"
              + (f", resuming at iteration {iteration}" if resume else ""), flush=True)
    already_finished = bool(resume and iteration >= config.max_iters)
    if already_finished and verbose:
        print(finished_message(last_path, iteration, config.max_iters), file=sys.stderr,
              flush=True)
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
                    raise diverged(f"the training loss became {step_loss}")
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
        interrupted=interrupted, already_finished=already_finished, step_times=step_times)
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
