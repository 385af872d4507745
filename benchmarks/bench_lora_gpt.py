"""LoRA against full fine-tuning: a char-level GPT pretrained on tiny Shakespeare, adapted to poems.

1. Pretrain GPT ``baby`` (4 layers, 4 heads, 128 wide, 64-char context, no biases; 2000 AdamW
   steps -- ``ember.models.gpt_trainer.train_gpt`` with ``PRESETS["baby"]``) on tiny Shakespeare,
   or load a trainer checkpoint (``--checkpoint out-dir-or-file``).
2. The new text: the ``songs-poems`` fortunes (``--category``), read raw so that line breaks stay
   (entries separated by ``%`` lines; terminal overstrike ``x\\bx`` resolved), entries joined by a
   blank line.  Validation = the entries whose SHA-1 puts them in the 10% test part
   (``ember.datasets.fortunes.is_test_text``), training = the rest.
3. Characters outside Shakespeare's 65-character alphabet: a tab becomes a space, a double quote
   an apostrophe, and every other unknown character becomes ``$`` -- a character that occurs once
   in tiny Shakespeare, so it acts as the "unknown" token.  The vocabulary (and so the
   embedding table) stays the pretrained one; the share of characters replaced is reported.
4. Fine-tune for ``--steps`` steps with (i) LoRA on chosen Linear layers (``ember.nn.lora``; the
   base frozen, only the adapters train) and (ii) full fine-tuning (every parameter trains),
   the same batches (seeded offsets, batch 12 x 64 chars) and steps, each with its usual lr:
   AdamW, 10% linear warmup then cosine decay to lr/10, clipping at 1.0.
5. Report the validation loss on the new text before and after, the Shakespeare validation loss
   after (forgetting), trainable parameters and their share, the adapter file size, and check
   that merging the adapters into the weights leaves the loss unchanged.

Losses are exact means over every non-overlapping 64-character window of a split (no sampling).

The GPT runs through its own ``GPT.forward``, which calls a LoRA-wrapped projection as a module
(its fused product is used for plain ``Linear`` layers only); :func:`check_adapters_active` checks
at start-up that an adapter does change ``GPT.forward``'s logits.  (Until that fix, 2026-11-23,
adapters on a GPT were silently ignored; the first recorded runs went through an equivalent
module-by-module forward.)

    flock /tmp/ember-cpu.lock python benchmarks/bench_lora_gpt.py --pretrain-out /tmp/baby
    flock /tmp/ember-cpu.lock python benchmarks/bench_lora_gpt.py --checkpoint /tmp/baby
"""
import argparse
import json
import math
import os
import re
import sys
import tempfile
import time

THREADS = os.environ.get("EMBER_BENCH_THREADS", "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)

import numpy as np  # noqa: E402

import ember  # noqa: E402
import ember.functional as F  # noqa: E402
from ember.datasets import fortunes  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHAKESPEARE = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare",
                                            "input.txt"))
LORA_TARGETS = ("attn.c_attn", "attn.c_proj")
SEPARATOR = re.compile(r"^%[ \t]*\r?$", flags=re.MULTILINE)
OVERSTRIKE = re.compile(r"[^\x08\n]\x08")


# ------------------------------------------------------------------------------------------------
# the new text
# ------------------------------------------------------------------------------------------------
def read_entries(path):
    """The entries of a fortune file with their line breaks (overstrikes resolved, outer blank
    lines and trailing spaces removed, empty entries and repeats dropped)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    out = []
    for part in SEPARATOR.split(text):
        while "\x08" in part:
            cleaned = OVERSTRIKE.sub("", part)
            part = cleaned if cleaned != part else part.replace("\x08", "")
        part = "\n".join(line.rstrip() for line in part.strip("\n").split("\n")).strip("\n")
        if part.strip():
            out.append(part)
    return list(dict.fromkeys(out))


def fit_to_alphabet(text, chars, unknown="$"):
    """``text`` with every character outside ``chars`` replaced (tab -> space, '"' -> "'",
    anything else -> ``unknown``); returns (new text, number of characters replaced)."""
    known = set(chars)
    if unknown not in known:
        raise ValueError(f"fit_to_alphabet: the unknown marker {unknown!r} is not in the alphabet")
    table = {}
    for ch in set(text) - known:
        if ch == "\t" and " " in known:
            table[ord(ch)] = " "
        elif ch == '"' and "'" in known:
            table[ord(ch)] = "'"
        else:
            table[ord(ch)] = unknown
    replaced = sum(1 for ch in text if ch not in known)
    return text.translate(table), replaced


def new_text_splits(path, chars, val_fraction=0.1):
    """(train text, val text, stats) of a fortune file, fitted to the alphabet ``chars``."""
    entries = read_entries(path)
    val = [e for e in entries if fortunes.is_test_text(e, val_fraction)]
    train = [e for e in entries if not fortunes.is_test_text(e, val_fraction)]
    train_text, n1 = fit_to_alphabet("\n\n".join(train) + "\n", chars)
    val_text, n2 = fit_to_alphabet("\n\n".join(val) + "\n", chars)
    stats = {"entries_train": len(train), "entries_val": len(val), "chars_train": len(train_text),
             "chars_val": len(val_text),
             "replaced_share": (n1 + n2) / max(1, len(train_text) + len(val_text))}
    return train_text, val_text, stats


# ------------------------------------------------------------------------------------------------
# model forward through the modules, losses
# ------------------------------------------------------------------------------------------------
def lm_loss(model, x, y):
    """Mean next-token cross-entropy of ``model`` (a GPT) on int (B, T) inputs and targets."""
    return model(x, y)[1]


def windows(tokens, block_size):
    """(inputs, targets) of every non-overlapping window of ``block_size`` tokens."""
    n = (len(tokens) - 1) // block_size
    starts = np.arange(n) * block_size
    pos = starts[:, None] + np.arange(block_size)
    return tokens[pos].astype(np.int64), tokens[pos + 1].astype(np.int64)


def eval_loss(model, tokens, block_size, batch_size=64):
    """Mean next-character cross-entropy over all non-overlapping windows (eval, no grad)."""
    x, y = windows(tokens, block_size)
    was = model.training
    model.eval()
    total = 0.0
    with ember.no_grad():
        for i in range(0, len(x), batch_size):
            total += float(lm_loss(model, x[i:i + batch_size], y[i:i + batch_size]).item()) * \
                len(x[i:i + batch_size])
    model.train(was)
    return total / len(x)


def lr_at(step, steps, peak, warmup):
    """Linear warmup to ``peak`` over ``warmup`` steps, then cosine decay to peak / 10."""
    if step < warmup:
        return peak * (step + 1) / (warmup + 1)
    r = (step - warmup) / max(1, steps - warmup)
    return peak / 10 + 0.5 * (1 + math.cos(math.pi * r)) * (peak - peak / 10)


def finetune(model, train_tokens, steps, lr, batch_size=12, block_size=64, seed=0,
             weight_decay=0.1, grad_clip=1.0, log=print):
    """Train the parameters of ``model`` that require grad (AdamW, decay on 2-D weights);
    returns the seconds taken."""
    from ember.models.gpt_trainer import get_batch
    from ember.nn.utils import clip_grad_norm_
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    optimizer = ember.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))
    rng = np.random.default_rng(seed)
    warmup = max(1, steps // 10)
    model.train()
    start = time.perf_counter()
    for step in range(steps):
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, steps, lr, warmup)
        x, y = get_batch(train_tokens, rng, batch_size, block_size)
        loss = lm_loss(model, x, y)
        loss.backward()
        if grad_clip:
            clip_grad_norm_(params, grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if (step + 1) % max(1, steps // 5) == 0:
            log(f"  step {step + 1}/{steps}: train loss {float(loss.item()):.4f}")
    return time.perf_counter() - start


# ------------------------------------------------------------------------------------------------
# the demonstration
# ------------------------------------------------------------------------------------------------
def pretrained_gpt(args, log=print):
    """(model, tokenizer, shakespeare val tokens): from --checkpoint, or trained now."""
    from ember.models.gpt_trainer import PRESETS, load_trained_gpt, train_gpt
    if args.checkpoint:
        model, tokenizer, config = load_trained_gpt(args.checkpoint)
        log(f"loaded the pretrained GPT from {args.checkpoint}")
    else:
        config = PRESETS["baby"].replace(max_iters=args.pretrain_iters,
                                         lr_decay_iters=args.pretrain_iters,
                                         warmup_iters=min(100, args.pretrain_iters // 10),
                                         sample_tokens=0)
        out = args.pretrain_out or tempfile.mkdtemp(prefix="ember-baby-")
        result = train_gpt(config, args.shakespeare, out_dir=out, overwrite=True, progress=False,
                           verbose=True)
        model, tokenizer = result.model, result.tokenizer
        log(f"pretrained {result.iteration} steps, val loss {result.final_val_loss:.4f}; "
            f"checkpoint in {out}")
    with open(args.shakespeare, encoding="utf-8") as f:
        text = f.read()
    shakespeare_val = tokenizer.encode_to_numpy(text[int(len(text) * (1 - config.val_fraction)):])
    return model, tokenizer, shakespeare_val, config


def check_adapters_active(model):
    """Raise when LoRA adapters on ``model``'s projections would not change ``GPT.forward``
    (an ember whose GPT reads Linear weights directly); returns the logit change seen."""
    from ember.models.gpt import GPT
    from ember.nn.lora import apply_lora, lora_layers
    probe = GPT(model.config)
    probe.load_state_dict(model.state_dict())
    ids = np.random.default_rng(0).integers(0, model.config.vocab_size, (1, 8))
    with ember.no_grad():
        before = probe(ids)[0].numpy()
        apply_lora(probe, target_modules=("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"),
                   r=1)
        for _, layer in lora_layers(probe):
            layer.lora_B.data[...] = 1.0
        change = float(np.abs(probe(ids)[0].numpy() - before).max())
    if change == 0.0:
        raise AssertionError("GPT.forward ignores LoRA adapters on its projections (it reads the "
                             "Linear weights directly); update ember.models.gpt")
    return change


def run(args, log=print):
    from ember.nn.freeze import trainable_parameters
    from ember.nn.lora import apply_lora, merge_lora, save_lora, unmerge_lora
    base, tokenizer, shakespeare_val, config = pretrained_gpt(args, log)
    block = base.config.block_size
    log(f"LoRA adapters take part in GPT.forward (probe logit change "
        f"{check_adapters_active(base):.2e})")
    base_state = {k: v.numpy().copy() for k, v in base.state_dict().items()}
    path = os.path.join(args.fortunes_dir, args.category)
    train_text, val_text, stats = new_text_splits(path, tokenizer.chars)
    train_tokens = tokenizer.encode_to_numpy(train_text)
    val_tokens = tokenizer.encode_to_numpy(val_text)
    log(f"{args.category}: {stats['entries_train']} train / {stats['entries_val']} val entries, "
        f"{stats['chars_train']:,} / {stats['chars_val']:,} chars, "
        f"{100 * stats['replaced_share']:.2f}% of characters replaced (outside the alphabet)")
    total = base.num_parameters()
    results = {"category": args.category, "steps": args.steps, "seed": args.seed,
               "parameters": total, "data": stats,
               "before": {"new_val": eval_loss(base, val_tokens, block),
                          "shakespeare_val": eval_loss(base, shakespeare_val, block)}}
    log(f"before fine-tuning: {args.category} val loss {results['before']['new_val']:.4f}, "
        f"Shakespeare val loss {results['before']['shakespeare_val']:.4f}")

    def fresh():
        from ember.models.gpt import GPT
        model = GPT(base.config)
        model.load_state_dict({k: v.copy() for k, v in base_state.items()})
        return model

    # (i) LoRA
    model = fresh()
    apply_lora(model, target_modules=args.lora_targets, r=args.rank, alpha=args.alpha)
    trainable = sum(p.size for p in trainable_parameters(model))
    log(f"LoRA r={args.rank} alpha={args.alpha} on {', '.join(args.lora_targets)}: {trainable:,} "
        f"trainable of {total:,} base parameters ({100 * trainable / total:.2f}%), "
        f"lr {args.lora_lr}")
    seconds = finetune(model, train_tokens, args.steps, args.lora_lr, block_size=block,
                       seed=args.seed, log=log)
    lora = {"trainable": trainable, "trainable_percent": 100 * trainable / total,
            "lr": args.lora_lr, "rank": args.rank, "alpha": args.alpha,
            "targets": list(args.lora_targets), "seconds": seconds,
            "new_val": eval_loss(model, val_tokens, block),
            "shakespeare_val": eval_loss(model, shakespeare_val, block)}
    with tempfile.TemporaryDirectory() as tmp:
        adapter = os.path.join(tmp, "adapters.safetensors")
        save_lora(model, adapter)
        lora["adapter_bytes"] = os.path.getsize(adapter)
        full_file = os.path.join(tmp, "base.safetensors")
        ember.save(base.state_dict(), full_file)
        lora["base_checkpoint_bytes"] = os.path.getsize(full_file)
    # The frozen base weights must be bit-identical to the pretrained ones after training.
    lora["base_weights_untouched"] = all(np.array_equal(v.numpy(), base_state[k])
                                         for k, v in model.state_dict().items() if k in base_state)
    merge_lora(model)
    lora["new_val_merged"] = eval_loss(model, val_tokens, block)
    unmerge_lora(model)
    lora["max_weight_change_after_merge_unmerge"] = max(
        float(np.abs(v.numpy() - base_state[k]).max())
        for k, v in model.state_dict().items() if k in base_state)
    results["lora"] = lora
    log(f"LoRA: {args.category} val loss {lora['new_val']:.4f} (merged: "
        f"{lora['new_val_merged']:.4f}), Shakespeare {lora['shakespeare_val']:.4f}, adapter file "
        f"{lora['adapter_bytes'] / 1024:.1f} KiB, {seconds:.0f} s")

    # (ii) full fine-tuning
    model = fresh()
    log(f"full fine-tuning: {total:,} trainable (100%), lr {args.full_lr}")
    seconds = finetune(model, train_tokens, args.steps, args.full_lr, block_size=block,
                       seed=args.seed, log=log)
    results["full"] = {"trainable": total, "trainable_percent": 100.0, "lr": args.full_lr,
                       "seconds": seconds, "new_val": eval_loss(model, val_tokens, block),
                       "shakespeare_val": eval_loss(model, shakespeare_val, block)}
    log(f"full: {args.category} val loss {results['full']['new_val']:.4f}, Shakespeare "
        f"{results['full']['shakespeare_val']:.4f}, {seconds:.0f} s")
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", help="a train_gpt output folder or checkpoint to start from")
    p.add_argument("--pretrain-out",
                   help="where to write the pretraining run (default: a temp dir)")
    p.add_argument("--pretrain-iters", type=int, default=2000)
    p.add_argument("--shakespeare", default=SHAKESPEARE)
    p.add_argument("--fortunes-dir", default=fortunes.DEFAULT_PATH)
    p.add_argument("--category", default="songs-poems")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--rank", type=int, default=4)
    p.add_argument("--alpha", type=float, default=8.0)
    p.add_argument("--lora-targets", nargs="+", default=list(LORA_TARGETS))
    p.add_argument("--lora-lr", type=float, default=3e-3)
    p.add_argument("--full-lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    results = run(args, log=lambda s: print(s, flush=True))
    results["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    results["command"] = " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:])
    print(json.dumps(results, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
