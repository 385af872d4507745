"""``ember train-gpt``: pretrain a GPT on a text file (see ember.models.gpt_trainer).

    ember train-gpt --text input.txt --preset baby --out-dir out-baby
    ember train-gpt --out-dir out-baby --resume --max-iters 4000     # continue, exactly
    ember train-gpt --text input.txt --tokenizer bpe --bpe-vocab-size 2048 --n-layer 6 ...

Every field of ``TrainConfig`` has an option (``--learning-rate``, ``--dropout``, ``--bias`` /
``--no-bias``, ...) that overrides the preset.  On a fresh run the schedule follows ``--max-iters``
unless given: ``--lr-decay-iters`` defaults to it (for presets whose decay ends with the run) and
``--warmup-iters`` to the preset's, at most a tenth of ``--max-iters`` (and of
``--lr-decay-iters``).  With ``--resume`` the checkpoint's config and text are the defaults, and
only the options given change them; resuming a finished run trains nothing and says how to go on.

Exit status: 0 done, 2 an error (message on stderr), 3 training diverged (a non-finite loss or
state; ``last.safetensors`` keeps the last finite state), 130 interrupted (state saved).
"""
import argparse
import dataclasses
import sys

_HELP = {
    "tokenizer": "char (one token per character) or bpe (byte-level BPE trained on the text)",
    "bpe_vocab_size": "BPE vocabulary size, >= 257",
    "val_fraction": "last fraction of the text held out for validation",
    "n_layer": "transformer blocks",
    "n_head": "attention heads (must divide --n-embd)",
    "n_embd": "width of the model",
    "block_size": "context length in tokens",
    "dropout": "dropout probability",
    "bias": "biases in Linear and LayerNorm layers",
    "batch_size": "sequences per micro-batch",
    "gradient_accumulation_steps": "micro-batches per optimizer step",
    "max_iters": "optimizer steps in total; on a fresh run --lr-decay-iters follows it unless "
                 "given (raise it with --resume to train longer)",
    "learning_rate": "peak learning rate",
    "min_lr": "learning rate at the end of the cosine decay",
    "decay_lr": "linear warmup + cosine decay (--no-decay-lr: constant lr)",
    "warmup_iters": "steps of linear warmup (fresh run: at most a tenth of --max-iters unless "
                    "given)",
    "lr_decay_iters": "step at which the cosine reaches --min-lr",
    "weight_decay": "AdamW weight decay (2-D weights only)",
    "beta1": "AdamW beta1",
    "beta2": "AdamW beta2",
    "grad_clip": "max global gradient norm (0 = off)",
    "eval_interval": "steps between evaluations and checkpoints",
    "eval_iters": "batches per split in each evaluation",
    "log_interval": "steps between progress lines when tqdm is missing",
    "sample_tokens": "tokens to generate at the end (0 = none)",
    "sample_temperature": "sampling temperature (0 = greedy)",
    "sample_top_k": "sample among the k most likely tokens (0 = all)",
    "sample_prompt": "text the sample starts from",
    "seed": "seed of initialisation, batches and sampling",
    "device": "compute device (this build: cpu)",
}


def add_arguments(parser):
    from ..models.gpt_trainer import PRESETS, TrainConfig
    parser.add_argument("--text", metavar="PATH",
                        help="UTF-8 text file to train on (required unless --resume)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="starting configuration (default: baby; with --resume, the "
                             "checkpoint's)")
    parser.add_argument("--out-dir", default="out-gpt", metavar="DIR",
                        help="folder for checkpoints, tokenizer, loss plot and samples "
                             "(default: out-gpt)")
    parser.add_argument("--resume", action="store_true",
                        help="continue exactly from DIR/last.safetensors")
    parser.add_argument("--overwrite", action="store_true",
                        help="start a new run in a DIR that already holds a checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    group = parser.add_argument_group("configuration (override the preset's values)")
    for f in dataclasses.fields(TrainConfig):
        option = "--" + f.name.replace("_", "-")
        default = f.default
        help_text = f"{_HELP.get(f.name, f.name)} (baby: {default!r})"
        if isinstance(default, bool):
            group.add_argument(option, dest=f.name, action=argparse.BooleanOptionalAction,
                               default=None, help=help_text)
        elif f.name == "tokenizer":
            group.add_argument(option, dest=f.name, choices=["char", "bpe"], default=None,
                               help=help_text)
        else:
            group.add_argument(option, dest=f.name, type=type(default), default=None,
                               metavar=type(default).__name__.upper(), help=help_text)
    parser.set_defaults(_train_gpt_parser=parser)


def run(args):
    from ..models import gpt_trainer as gt
    from ..serialization import CheckpointError
    try:
        config, text = _config_and_text(args, gt)
        result = gt.train_gpt(config, text, args.out_dir, resume=args.resume,
                              overwrite=args.overwrite,
                              progress=not (args.no_progress or args.quiet),
                              verbose=not args.quiet)
    except gt.TrainingDiverged as e:
        print(f"ember train-gpt: error: {e}", file=sys.stderr)
        return 3
    except (ValueError, TypeError, OSError, ImportError, CheckpointError) as e:
        print(f"ember train-gpt: error: {e}", file=sys.stderr)
        return 2
    if result.already_finished and args.quiet:     # (printed by train_gpt unless quiet)
        print(gt.finished_message(result.last_checkpoint, result.iteration, config.max_iters),
              file=sys.stderr)
    if result.interrupted:
        return 130   # the shell's code for "stopped by Ctrl-C"; the state is saved
    return 0


def _config_and_text(args, gt):
    """The run's TrainConfig (the base -- preset or checkpoint -- with the options given) and
    text path.  ``gt`` is :mod:`ember.models.gpt_trainer`."""
    fields = [f.name for f in dataclasses.fields(gt.TrainConfig)]
    overrides = {name: getattr(args, name) for name in fields if getattr(args, name) is not None}
    text = args.text
    if args.resume:
        base = gt.PRESETS[args.preset] if args.preset else gt.checkpoint_config(args.out_dir)
        if text is None:
            text = gt.checkpoint_text_path(args.out_dir)
    else:
        if not text:
            args._train_gpt_parser.error("--text PATH is required (unless --resume)")
        base = gt.PRESETS[args.preset or "baby"]
        _scale_schedule(base, overrides)
    return base.replace(**overrides), text


def _scale_schedule(base, overrides):
    """On a fresh run, make the schedule follow ``--max-iters`` unless it was given: adds
    ``lr_decay_iters`` and ``warmup_iters`` to ``overrides`` (see the module docstring)."""
    if ("max_iters" in overrides and "lr_decay_iters" not in overrides
            and base.lr_decay_iters == base.max_iters):
        # The preset's schedule ends with the run; keep it so for a shorter/longer run.
        overrides["lr_decay_iters"] = overrides["max_iters"]
    if "warmup_iters" in overrides:
        return
    # The warmup scales down with a short run (and fits before the decay's end), so that no
    # option the user did not set makes the config invalid.
    warmup = base.warmup_iters
    if "max_iters" in overrides and isinstance(overrides["max_iters"], int):
        warmup = min(warmup, max(overrides["max_iters"], 0) // 10)
    if "lr_decay_iters" in overrides and isinstance(overrides["lr_decay_iters"], int):
        warmup = min(warmup, max(overrides["lr_decay_iters"], 0))
    if warmup != base.warmup_iters:
        overrides["warmup_iters"] = warmup
