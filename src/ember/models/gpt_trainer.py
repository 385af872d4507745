"""Pretrain a GPT on a text file: the library function behind ``ember train-gpt``.

``train_gpt(config, text_path, out_dir)`` reads the text, builds a tokenizer (character-level, or
byte-level BPE trained on the training split), and trains :class:`ember.models.gpt.GPT` the way
nanoGPT's ``train.py`` does: AdamW from ``model.configure_optimizers`` (decay on 2-D weights
only), linear warmup then cosine decay to ``min_lr`` (:func:`learning_rate_at`, nanoGPT's
``get_lr``), gradient clipping, gradient accumulation, batches of ``block_size`` tokens at random
offsets, and a periodic estimate of the train and validation loss.  It shows ember.train's progress
bar with the loss and tokens/s, writes checkpoints, a loss-curve PNG (``History.plot``) and a text
sample, and returns a :class:`TrainResult`.

Layout.  :func:`train_gpt` reads as its steps: set up (:func:`_set_up`: config, data, model,
restored state, output folder), then a loop of (maybe evaluate and save, maybe stop, one
optimizer step), then the outputs and the report (:func:`_finish`); the state they share is a
:class:`_Run`.  The configuration lives in :mod:`.gpt_train_config`, the progress display, Ctrl-C
flag, plot and report in :mod:`.gpt_train_display`, the data in :mod:`.gpt_train_data`.

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
import contextlib
import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..autograd import no_grad
from ..nn.utils import clip_grad_norm_
from ..random import get_rng_state, manual_seed, set_rng_state
from ..serialization import load, read_metadata, save
from ..tensor import Tensor
from ..text import tokenizer_from_json
from .gpt import GPT
# The configuration, the data, and the progress display / plot / report live in modules of their
# own (their public names, and those tests and benchmarks use, are re-exported here).
from .gpt_train_config import (MODEL_FIELDS, PRESETS, TrainConfig,  # noqa: F401
                               _check_resume_config, _gpt_config, learning_rate_at)
from .gpt_train_data import (_eval_generator, _load_data, _split_text,  # noqa: F401
                             batch_generator, get_batch)
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
# Steps, evaluation, sampling
# ================================================================================================
def train_step(model, optimizer, batches, lr, grad_clip):
    """One optimizer step over the micro-batches ``batches`` (gradient accumulation).

    Each ``(inputs, targets)`` pair's mean loss is divided by ``len(batches)`` before its backward
    pass, so the accumulated gradient is that of the mean loss over all micro-batches; then the
    global gradient norm is clipped to ``grad_clip`` (0 = no clipping), every group's lr is set to
    ``lr``, the optimizer steps and the gradients are dropped.  Returns the mean loss (a float).
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    n = len(batches)
    loss_sum = 0.0
    for x, y in batches:
        _, loss = model(Tensor.wrap(x), Tensor.wrap(y))
        loss_sum += float(loss.item())
        (loss if n == 1 else loss / n).backward()
    if grad_clip > 0.0:
        clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum / n


@contextlib.contextmanager
def _eval_mode(model):
    """``model`` in eval mode for the block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def estimate_loss(model, splits, config):
    """Mean loss over ``config.eval_iters`` batches of each split (eval mode, no gradients).

    ``splits`` maps a name ("train", "val") to its token array.  Deterministic: each split's
    batches come from a generator seeded from ``config.seed`` and the split name.
    """
    out = {}
    with _eval_mode(model), no_grad():
        for name, tokens in splits.items():
            rng = _eval_generator(config.seed, name)
            losses = np.empty(config.eval_iters, dtype=np.float64)
            for k in range(config.eval_iters):
                x, y = get_batch(tokens, rng, config.batch_size, config.block_size)
                _, loss = model(Tensor.wrap(x), Tensor.wrap(y))
                losses[k] = float(loss.item())
            out[name] = float(losses.mean())
    return out


def _sample(model, tokenizer, config, train_tokens):
    """Generate ``sample_tokens`` tokens after ``sample_prompt`` (or the corpus's first token)."""
    try:
        prompt = tokenizer.encode_to_numpy(config.sample_prompt) if config.sample_prompt else None
    except ValueError:
        prompt = None                      # the prompt uses characters outside the alphabet
    if prompt is None or prompt.size == 0:
        prompt = np.asarray(train_tokens[:1], dtype=np.int64)
    idx = Tensor.wrap(prompt.astype(np.int64)[None, :])
    with _eval_mode(model):
        out = model.generate(idx, config.sample_tokens, temperature=config.sample_temperature,
                             top_k=config.sample_top_k or None, seed=config.seed)
    ids = np.asarray(out.data if hasattr(out, "data") else out)[0]
    return tokenizer.decode(ids)


# ================================================================================================
# Results, divergence and checkpoints
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


def finished_message(last_path, iteration, max_iters):
    """What to say when ``resume`` finds the run already at (or past) ``max_iters``."""
    out_dir = os.path.dirname(os.fspath(last_path)) or "."
    more = max(2 * iteration, iteration + 1)
    return (f"train-gpt: nothing to train: {last_path} is already at iteration {iteration} and "
            f"max_iters is {max_iters}.  To train longer, resume with a larger max_iters, e.g. "
            f"ember train-gpt --out-dir {out_dir} --resume --max-iters {more}")


def _checkpoint_path(path_or_out_dir):
    path = os.fspath(path_or_out_dir)
    if os.path.isdir(path):
        path = os.path.join(path, LAST_CHECKPOINT)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}; train first (ember train-gpt ...) "
                                "or give the path of a .safetensors checkpoint")
    return path


def _load_checkpoint(path, who=""):
    """The contents of the trainer checkpoint ``path`` (a ValueError for any other file)."""
    ckpt = load(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != _FORMAT:
        raise ValueError(f"{who}{path}: not a checkpoint written by ember's GPT trainer")
    return ckpt


def checkpoint_config(path_or_out_dir):
    """The :class:`TrainConfig` stored in a checkpoint (reads only its header).

    Accepts a checkpoint file or an output folder (then its ``last.safetensors``).
    """
    path = _checkpoint_path(path_or_out_dir)
    meta = read_metadata(path)
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a checkpoint written by ember's GPT trainer")
    return TrainConfig.from_dict(meta["config"])


def checkpoint_text_path(path_or_out_dir):
    """The text file a checkpoint was trained on (as given to ``train_gpt``)."""
    return read_metadata(_checkpoint_path(path_or_out_dir)).get("text_path")


def load_trained_gpt(path_or_out_dir):
    """``(model, tokenizer, config)`` from a trainer checkpoint (``best`` or ``last``), with the
    model in eval mode -- ready for ``model.generate``."""
    ckpt = _load_checkpoint(_checkpoint_path(path_or_out_dir))
    config = TrainConfig.from_dict(ckpt["config"])
    tokenizer = tokenizer_from_json(ckpt["tokenizer"])
    model = GPT(_gpt_config(config, tokenizer.vocab_size))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, tokenizer, config


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


def _diverged(run, what):
    """The error to raise: ``what`` is not finite at ``run.iteration``; nothing has been saved
    over ``run.last_good``."""
    config, last_good = run.config, run.last_good
    lr_now = learning_rate_at(max(run.iteration - 1, 0), config)
    if last_good is not None:
        where = (f"the last good checkpoint, {last_good[0]} (iteration {last_good[1]}), is "
                 "unchanged; resume from it with a lower learning rate or stronger gradient "
                 f"clipping, e.g. ember train-gpt --out-dir {run.out_dir} --resume "
                 f"--learning-rate {config.learning_rate / 10:g}")
    else:
        where = ("no checkpoint was written yet (the first is written at iteration "
                 f"{config.eval_interval}); start again with a lower learning rate or "
                 "stronger gradient clipping (--learning-rate "
                 f"{config.learning_rate / 10:g}, --grad-clip) and --overwrite")
    return TrainingDiverged(
        f"train_gpt: training diverged at iteration {run.iteration}: {what} (learning rate "
        f"{lr_now:g}, grad_clip {config.grad_clip:g}); nothing non-finite was saved: {where}",
        run.iteration, last_good[0] if last_good else None, last_good[1] if last_good else None)


def _checkpoint_state(run, model_state, optimizer_state):
    """Everything a checkpoint holds (see the module docstring)."""
    config, history = run.config, run.history
    return {
        "format": _FORMAT, "version": _FORMAT_VERSION,
        "model": model_state,
        "optimizer": optimizer_state,
        "schedule": {"type": "nanogpt_warmup_cosine", "iteration": run.iteration,
                     "lr": learning_rate_at(run.iteration, config),
                     "learning_rate": config.learning_rate, "min_lr": config.min_lr,
                     "warmup_iters": config.warmup_iters,
                     "lr_decay_iters": config.lr_decay_iters, "decay_lr": config.decay_lr},
        "iteration": run.iteration,
        "rng": {"batches": run.batch_rng.bit_generator.state, "ember": get_rng_state()},
        "data": {"text_path": os.path.abspath(os.fspath(run.text_path)),
                 "text_sha256": run.digest, "train_tokens": len(run.train_tokens),
                 "val_tokens": len(run.val_tokens),
                 "sampling": "random offsets (nanoGPT get_batch); position = rng.batches"},
        "config": config.to_dict(),
        "model_config": dataclasses.asdict(run.gpt_config),
        "tokenizer": run.tokenizer_json,
        "history": {"train_loss": np.asarray(history["train_loss"], dtype=np.float64),
                    "lr": np.asarray(history["lr"], dtype=np.float64),
                    "evals": history["evals"], "best_val_loss": run.best_val_loss},
    }


def _save_checkpoint(run, path):
    """Save the training state to ``path``, or raise :class:`TrainingDiverged` (saving nothing)
    when a parameter or the optimizer's state is not finite."""
    model_state, optimizer_state = run.model.state_dict(), run.optimizer.state_dict()
    bad = _first_non_finite(model_state, optimizer_state, run.param_names)
    if bad is not None:
        raise _diverged(run, f"{bad} holds NaN or infinite values")
    meta = {"format": _FORMAT, "iteration": run.iteration, "config": run.config.to_dict(),
            "text_path": os.path.abspath(os.fspath(run.text_path))}
    save(_checkpoint_state(run, model_state, optimizer_state), path, metadata=meta)
    if path == run.last_path:
        run.last_good = (path, run.iteration)


def _restore(run, checkpoint):
    """Continue from ``checkpoint``: weights, optimizer, iteration, RNG states, history."""
    run.model.load_state_dict(checkpoint["model"])
    run.optimizer.load_state_dict(checkpoint["optimizer"])
    run.iteration = int(checkpoint["iteration"])
    run.batch_rng.bit_generator.state = checkpoint["rng"]["batches"]
    set_rng_state(checkpoint["rng"]["ember"])
    saved = checkpoint["history"]
    run.history["train_loss"] = [float(v) for v in np.asarray(saved["train_loss"]).tolist()]
    run.history["lr"] = [float(v) for v in np.asarray(saved["lr"]).tolist()]
    run.history["evals"] = [dict(e) for e in saved["evals"]]
    run.best_val_loss = float(saved["best_val_loss"])
    run.resumed_at = run.iteration
    run.last_good = (run.last_path, run.iteration)
    run.best_written = os.path.isfile(run.best_path)


# ================================================================================================
# The run
# ================================================================================================
@dataclass
class _Run:
    """The state of one run of :func:`train_gpt`, shared by its steps."""

    config: TrainConfig
    text_path: object
    out_dir: str
    tokenizer: object
    train_tokens: np.ndarray
    val_tokens: np.ndarray
    digest: str                                 # SHA-256 of the text
    gpt_config: object = None
    model: object = None
    optimizer: object = None
    batch_rng: object = None
    param_names: dict = None                    # optimizer state index -> parameter name
    tokenizer_json: str = None
    history: dict = field(default_factory=lambda: {"train_loss": [], "lr": [], "evals": []})
    best_val_loss: float = math.inf
    iteration: int = 0
    resumed_at: int = None                      # the iteration a resumed run started at
    last_good: tuple = None                     # (path, iteration) of last.safetensors, or None
    best_written: bool = False
    step_times: list = field(default_factory=list)
    throughput: float = None                    # tokens/s, smoothed over the steps
    interrupted: bool = False

    @property
    def last_path(self):
        return os.path.join(self.out_dir, LAST_CHECKPOINT)

    @property
    def best_path(self):
        return os.path.join(self.out_dir, BEST_CHECKPOINT)

    @property
    def tokenizer_path(self):
        return os.path.join(self.out_dir, TOKENIZER_FILE)

    @property
    def splits(self):
        return {"train": self.train_tokens, "val": self.val_tokens}

    @property
    def already_finished(self):
        return self.resumed_at is not None and self.resumed_at >= self.config.max_iters


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
        progress: show ember.train's progress bar (tqdm, on stderr; without tqdm, a line every
            ``log_interval`` steps).
        verbose: print evaluations, where files went, and the sample.
        handle_interrupt: the first Ctrl-C saves ``last.safetensors`` at the end of the current
            step and returns (``result.interrupted``); a second one interrupts at once.

    Returns a :class:`TrainResult`.  Raises ``ValueError`` for an empty corpus, a corpus whose
    splits are shorter than one block, an invalid config, or a checkpoint that does not match;
    :class:`TrainingDiverged` when the loss, a parameter or the optimizer state stops being finite
    (nothing non-finite is saved: ``last.safetensors`` keeps the last finite state).
    """
    run = _set_up(config, text_path, out_dir, resume, overwrite)
    if verbose:
        _announce(run)
    bar = _Progress(progress, verbose, run.iteration, run.config.max_iters, run.config.log_interval)
    try:
        with _InterruptFlag(handle_interrupt) as interrupt:
            while True:
                if _evaluation_due(run):
                    _evaluate_and_save(run, bar)
                if run.iteration >= run.config.max_iters:
                    break
                if interrupt.requested:
                    _save_interrupted(run, bar)
                    break
                _step(run, bar)
    finally:
        bar.close()
    return _finish(run, verbose)


# -- set up ----------------------------------------------------------------------------------------
def _set_up(config, text_path, out_dir, resume, overwrite):
    """The run's state before its first step: config, data, model, optimizer, the checkpoint's
    state when resuming, and the output folder (created only once every check has passed)."""
    out_dir = os.fspath(out_dir)
    config, text_path, checkpoint = _start_from(config, text_path, out_dir, resume, overwrite)
    tokenizer, train_tokens, val_tokens, digest = _load_data(
        config, text_path, checkpoint, os.path.join(out_dir, LAST_CHECKPOINT))
    run = _Run(config=config, text_path=text_path, out_dir=out_dir, tokenizer=tokenizer,
               train_tokens=train_tokens, val_tokens=val_tokens, digest=digest)
    _build_model(run, checkpoint)
    del checkpoint            # the arrays are copied into the model and optimizer
    _prepare_out_dir(run, fresh=not resume)
    return run


def _start_from(config, text_path, out_dir, resume, overwrite):
    """``(config, text_path, checkpoint)``: the checked config and text of the run, and the
    checkpoint it resumes (None for a fresh run)."""
    last_path = os.path.join(out_dir, LAST_CHECKPOINT)
    checkpoint = None
    if resume:
        if not os.path.isfile(last_path):
            raise FileNotFoundError(f"train_gpt: resume=True but there is no checkpoint at "
                                    f"{last_path!r}; train without resume first")
        checkpoint = _load_checkpoint(last_path, who="train_gpt: ")
        saved_config = TrainConfig.from_dict(checkpoint["config"])
        config = saved_config if config is None else config
        _check_resume_config(config, saved_config, last_path)
        if text_path is None:
            text_path = checkpoint["data"]["text_path"]
    elif os.path.isfile(last_path) and not overwrite:
        raise FileExistsError(f"train_gpt: {out_dir!r} already holds a checkpoint ({LAST_CHECKPOINT}); "
                              "continue it with resume=True (--resume), start over with "
                              "overwrite=True (--overwrite), or choose another out_dir")
    config = PRESETS["baby"] if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"train_gpt: config must be a TrainConfig, got {type(config).__name__}")
    config.validate()
    if text_path is None:
        raise ValueError("train_gpt: text_path is required (a UTF-8 text file to train on)")
    return config, text_path, checkpoint


def _build_model(run, checkpoint):
    """The model (initial weights from ``manual_seed(config.seed)``), its AdamW and the batch
    generator; then the checkpoint's state, when resuming."""
    config = run.config
    if checkpoint is None:
        manual_seed(config.seed)
    run.gpt_config = _gpt_config(config, run.tokenizer.vocab_size)
    run.model = GPT(run.gpt_config)
    if config.gradient_checkpointing:
        run.model.gradient_checkpointing_enable()
    run.model.train()
    run.optimizer = run.model.configure_optimizers(config.weight_decay, config.learning_rate,
                                                   betas=(config.beta1, config.beta2))
    run.batch_rng = batch_generator(config.seed)
    if checkpoint is not None:
        _restore(run, checkpoint)
    names_by_id = {id(p): name for name, p in run.model.named_parameters()}
    run.param_names = dict(enumerate(names_by_id.get(id(p), "?")
                                     for group in run.optimizer.param_groups
                                     for p in group["params"]))


def _prepare_out_dir(run, fresh):
    """Create ``out_dir``, remove a fresh run's stale checkpoints, write ``tokenizer.json``."""
    os.makedirs(run.out_dir, exist_ok=True)
    if fresh:
        for stale in (run.best_path, run.last_path):      # from an earlier run (overwrite=True)
            if os.path.isfile(stale):
                os.remove(stale)
    run.tokenizer.save(run.tokenizer_path)
    run.tokenizer_json = run.tokenizer.to_json()


def _announce(run):
    config = run.config
    print(f"train-gpt: {run.model.num_parameters() / 1e6:.2f}M parameters, vocab "
          f"{run.tokenizer.vocab_size} ({config.tokenizer}), {len(run.train_tokens):,} train / "
          f"{len(run.val_tokens):,} val tokens, {config.tokens_per_iteration:,} tokens per "
          "iteration" + (f", resuming at iteration {run.iteration}"
                         if run.resumed_at is not None else ""), flush=True)
    if run.already_finished:
        print(finished_message(run.last_path, run.iteration, config.max_iters), file=sys.stderr,
              flush=True)


# -- the loop ----------------------------------------------------------------------------------------
def _evaluation_due(run):
    """At iteration 0, every ``eval_interval`` iterations and at the end (not where a resumed run
    starts: its checkpoint was written after that evaluation)."""
    it = run.iteration
    return ((it % run.config.eval_interval == 0 or it >= run.config.max_iters)
            and it != run.resumed_at)


def _evaluate_and_save(run, bar):
    """Estimate the losses; save ``best`` on a new minimum of the validation loss and ``last``
    (neither at iteration 0)."""
    losses = estimate_loss(run.model, run.splits, run.config)
    run.history["evals"].append({"iteration": run.iteration, "train": losses["train"],
                                 "val": losses["val"]})
    bar.message(f"step {run.iteration}: train loss {losses['train']:.4f}, "
                f"val loss {losses['val']:.4f}")
    if losses["val"] < run.best_val_loss:
        run.best_val_loss = losses["val"]
        if run.iteration > 0:
            _save_checkpoint(run, run.best_path)
            run.best_written = True
    if run.iteration > 0:
        _save_checkpoint(run, run.last_path)


def _save_interrupted(run, bar):
    _save_checkpoint(run, run.last_path)
    run.interrupted = True
    bar.message(f"interrupted: saved iteration {run.iteration} to {run.last_path}; "
                "continue with resume=True (ember train-gpt --resume)")


def _step(run, bar):
    """One optimizer step on the next batches; a non-finite loss stops the run."""
    config = run.config
    t0 = time.perf_counter()
    lr = learning_rate_at(run.iteration, config)
    batches = [get_batch(run.train_tokens, run.batch_rng, config.batch_size, config.block_size)
               for _ in range(config.gradient_accumulation_steps)]
    loss = train_step(run.model, run.optimizer, batches, lr, config.grad_clip)
    run.history["train_loss"].append(loss)
    run.history["lr"].append(lr)
    run.iteration += 1
    dt = time.perf_counter() - t0
    run.step_times.append(dt)
    rate = config.tokens_per_iteration / dt if dt > 0 else float("inf")
    run.throughput = rate if run.throughput is None else 0.9 * run.throughput + 0.1 * rate
    bar.step(run.iteration, loss, lr, run.throughput)
    if not math.isfinite(loss):
        raise _diverged(run, f"the training loss became {loss}")


# -- outputs -----------------------------------------------------------------------------------------
def _finish(run, verbose):
    """Write the last checkpoint (if no evaluation did), the loss plot and the sample; report."""
    if not os.path.isfile(run.last_path):
        _save_checkpoint(run, run.last_path)   # e.g. max_iters == 0
    plot_path = _write_plot(run, verbose)
    sample_text = samples_path = None
    if run.config.sample_tokens > 0 and not run.interrupted:
        sample_text = _sample(run.model, run.tokenizer, run.config, run.train_tokens)
        samples_path = os.path.join(run.out_dir, SAMPLES_FILE)
        _atomic_write_text(samples_path, sample_text)
    median = float(np.median(run.step_times)) if run.step_times else None
    result = TrainResult(
        model=run.model, tokenizer=run.tokenizer, config=run.config, iteration=run.iteration,
        train_losses=run.history["train_loss"], learning_rates=run.history["lr"],
        evals=run.history["evals"], best_val_loss=run.best_val_loss, out_dir=run.out_dir,
        last_checkpoint=run.last_path, best_checkpoint=run.best_path if run.best_written else None,
        tokenizer_path=run.tokenizer_path, plot_path=plot_path, samples_path=samples_path,
        sample_text=sample_text, seconds_per_step=median,
        tokens_per_second=(run.config.tokens_per_iteration / median) if median else None,
        interrupted=run.interrupted, already_finished=run.already_finished,
        step_times=run.step_times)
    if verbose:
        _report(result)
    return result


def _write_plot(run, verbose):
    """``loss.png`` (train and validation loss); its path, or None without matplotlib."""
    config = run.config
    path = os.path.join(run.out_dir, PLOT_FILE)
    title = (f"GPT {config.n_layer}x{config.n_embd}, {config.tokenizer} tokens, "
             f"{os.path.basename(os.fspath(run.text_path))}")
    try:
        _plot_losses(path, run.history["train_loss"], run.history["evals"], title)
    except ImportError:
        if verbose:
            print("train-gpt: matplotlib is not installed, so no loss plot was written "
                  "(pip install matplotlib)", file=sys.stderr)
        return None
    return path
