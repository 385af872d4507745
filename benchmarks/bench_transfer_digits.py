"""Transfer learning on images: a CNN pretrained on Fashion-MNIST, its conv base frozen, a new
head trained on a few labelled digits -- against the same network trained from scratch (issue 5).

The network is the seed program's Keras CNN (channels-last)::

    Conv2D(32, 3x3, relu) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2x2) -> Dropout(0.25) ->
    Flatten -> Dense(128, relu) -> Dropout(0.5) -> Dense(10, softmax)

1. Pretrain it with ``ember.keras`` (``compile('adam', 'sparse_categorical_crossentropy')``,
   ``fit``, batch 128) on Fashion-MNIST (Debian's ``dataset-fashion-mnist``; pixels / 255) for
   ``--pretrain-epochs`` epochs, or load weights saved earlier (``--pretrained FILE``).
2. Digits: scikit-learn's 8x8 digits (1797 images, 0..16), scaled to [0, 1], resized to 20x20
   (bilinear, as two small interpolation-matrix products) and padded by 4 pixels to 28x28 -- the
   layout of MNIST (a 20x20 digit centred in 28x28).  For each seed, ``--per-class`` labelled
   images per class are drawn for training; every other image is the test set.
3. On those labels, with the same optimizer (Keras' Adam, lr 1e-3), batch size and epochs:

   * ``transfer``: pretrained weights, the conv base (both Conv2D layers) frozen with Keras'
     ``layer.trainable = False``, the head replaced by a new Dense(128)-Dropout-Dense(10);
   * ``transfer_probe``: pretrained weights, everything up to and including Dense(128) frozen
     with ``Module.requires_grad_(False)``, only a new Dense(10) trains;
   * ``scratch``: the same network from random initialisation, every layer trains.

   The script checks that frozen weights come out of ``fit`` bit-identical and that
   ``summary()`` counts them as non-trainable.
4. Report test accuracy (mean and standard deviation over ``--seeds``).

    flock /tmp/ember-cpu.lock python benchmarks/bench_transfer_digits.py --save-pretrained /tmp/fmnist_cnn.safetensors
    flock /tmp/ember-cpu.lock python benchmarks/bench_transfer_digits.py --pretrained /tmp/fmnist_cnn.safetensors
"""
import argparse
import io
import json
import os
import sys
import time
from contextlib import redirect_stdout

THREADS = os.environ.get("EMBER_BENCH_THREADS", "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)

import numpy as np  # noqa: E402

import ember  # noqa: E402
from ember.keras import layers  # noqa: E402
from ember.keras.models import Sequential  # noqa: E402

HEAD_LAYERS = 3           # Dense(128), Dropout(0.5), Dense(10)


# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------
def interpolation_matrix(n_in, n_out):
    """(n_out, n_in) bilinear resampling matrix (pixel centres aligned, edges clamped)."""
    pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = pos - lo
    m = np.zeros((n_out, n_in), dtype=np.float32)
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m


def digits_28x28(images, size=20, canvas=28):
    """(N, 8, 8) digits with values 0..16 -> (N, canvas, canvas, 1) float32 in [0, 1]: bilinear
    resize to ``size`` x ``size``, centred on a zero canvas."""
    images = np.asarray(images, dtype=np.float32) / 16.0
    r = interpolation_matrix(images.shape[1], size)
    resized = np.einsum("ij,njk,lk->nil", r, images, r)     # R @ img @ R^T for every image
    out = np.zeros((len(images), canvas, canvas, 1), dtype=np.float32)
    off = (canvas - size) // 2
    out[:, off:off + size, off:off + size, 0] = resized
    return np.clip(out, 0.0, 1.0)


def load_digits():
    from sklearn.datasets import load_digits as sk_digits
    d = sk_digits()
    return digits_28x28(d.images), d.target.astype(np.int64)


def few_labels(y, per_class, seed):
    """(train indices, test indices): ``per_class`` random images of each class, and the rest."""
    rng = np.random.default_rng(seed)
    train = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False)
                            for c in np.unique(y)])
    test = np.setdiff1d(np.arange(len(y)), train)
    return np.sort(train), test


def load_fashion():
    from ember.datasets import fashion_mnist
    (x, y), (xt, yt) = fashion_mnist.load_data()
    prep = lambda a: (a.astype(np.float32) / 255.0)[..., None]    # noqa: E731
    return (prep(x), y.astype(np.int64)), (prep(xt), yt.astype(np.int64))


# ------------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------------
def head_layers():
    return [layers.Dense(128, activation="relu"), layers.Dropout(0.5),
            layers.Dense(10, activation="softmax")]


def seed_cnn():
    """The seed CNN (ember.keras), built for 28x28x1 inputs."""
    return Sequential([
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
    ] + head_layers())


def compile_model(model, lr=1e-3):
    from ember.keras.optimizers import Adam
    model.compile(optimizer=Adam(learning_rate=lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def transfer_model(pretrained_weights, how):
    """The seed CNN with the pretrained weights, its base frozen and a new head.

    ``how='keras'``: both Conv2D layers frozen with ``layer.trainable = False``; a new
    Dense(128)-Dropout-Dense(10) head.  ``how='requires_grad'``: everything up to and including
    Dense(128) frozen with ``requires_grad_(False)``; a new Dense(10)."""
    model = seed_cnn()
    model.set_weights(pretrained_weights)
    if how == "keras":
        for _ in range(HEAD_LAYERS):
            model.pop()
        for layer in model.layers:
            if isinstance(layer, layers.Conv2D):
                layer.trainable = False
        for layer in head_layers():
            model.add(layer)
    elif how == "requires_grad":
        model.pop()                                    # the old Dense(10)
        for layer in model.layers:
            layer.requires_grad_(False)
        model.add(layers.Dense(10, activation="softmax"))
    else:
        raise ValueError(f"transfer_model: how must be 'keras' or 'requires_grad', got {how!r}")
    return model


def frozen_snapshot(model):
    return {n: p.numpy().copy() for n, p in model.named_parameters() if not p.requires_grad}


def summary_counts(model):
    """(trainable, non-trainable) parameter counts as ``summary()`` prints them."""
    buf = io.StringIO()
    with redirect_stdout(buf):
        model.summary()
    counts = {}
    for line in buf.getvalue().splitlines():
        for key in ("Non-trainable params", "Trainable params"):
            if line.strip().startswith(key):
                counts[key] = int(line.split(":")[1].split()[0].replace(",", ""))
    return counts.get("Trainable params"), counts.get("Non-trainable params")


# ------------------------------------------------------------------------------------------------
# the experiment
# ------------------------------------------------------------------------------------------------
def pretrain(epochs, seed, log=print):
    (x, y), (xt, yt) = load_fashion()
    ember.manual_seed(seed)
    model = compile_model(seed_cnn())
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=2)
    loss, acc = model.evaluate(xt, yt, batch_size=500, verbose=0)
    log(f"pretrained on Fashion-MNIST: {epochs} epoch(s), test accuracy {acc:.4f} "
        f"({time.perf_counter() - start:.0f} s)")
    return model, float(acc)


def train_and_score(model, x, y, train, test, epochs, batch_size):
    model.fit(x[train], y[train], batch_size=batch_size, epochs=epochs, verbose=0)
    _, acc = model.evaluate(x[test], y[test], batch_size=500, verbose=0)
    return float(acc)


def run_seed(weights, x, y, seed, per_class, epochs, batch_size):
    train, test = few_labels(y, per_class, seed)
    out = {}
    for system in ("transfer", "transfer_probe", "scratch"):
        ember.manual_seed(1000 + seed)          # the new head's (or the whole net's) init, shuffles
        if system == "scratch":
            model = seed_cnn()
        else:
            model = transfer_model(weights, "keras" if system == "transfer" else "requires_grad")
        compile_model(model)
        before = frozen_snapshot(model)
        out[system] = train_and_score(model, x, y, train, test, epochs, batch_size)
        after = frozen_snapshot(model)
        if before.keys() != after.keys() or \
                any(not np.array_equal(before[k], after[k]) for k in before):
            raise AssertionError(f"{system}: a frozen parameter changed during fit")
        trainable, frozen = summary_counts(model)
        n_frozen = sum(v.size for v in before.values())
        if frozen is not None and frozen != n_frozen:
            raise AssertionError(f"{system}: summary() shows {frozen} non-trainable parameters, "
                                 f"the model has {n_frozen} frozen")
        out[f"{system}_params"] = {"trainable": trainable, "non_trainable": frozen}
    return out, len(train), len(test)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pretrained", help="weights saved by --save-pretrained (skip pretraining)")
    p.add_argument("--save-pretrained", help="where to save the pretrained weights")
    p.add_argument("--pretrain-epochs", type=int, default=1)
    p.add_argument("--per-class", type=int, default=10)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    log = lambda s: print(s, flush=True)        # noqa: E731

    if args.pretrained:
        model = seed_cnn()
        model.load_weights(args.pretrained)
        pretrain_acc = None
        log(f"loaded pretrained weights from {args.pretrained}")
    else:
        model, pretrain_acc = pretrain(args.pretrain_epochs, seed=0, log=log)
        if args.save_pretrained:
            model.save_weights(args.save_pretrained)
            log(f"saved the pretrained weights to {args.save_pretrained}")
    weights = model.get_weights()
    x, y = load_digits()
    rows = []
    start = time.perf_counter()
    for seed in range(args.seeds):
        r, n_train, n_test = run_seed(weights, x, y, seed, args.per_class, args.epochs,
                                      args.batch_size)
        rows.append(r)
        log(f"seed {seed}: transfer {r['transfer']:.4f}, transfer_probe {r['transfer_probe']:.4f}, "
            f"scratch {r['scratch']:.4f}  ({n_train} labelled, {n_test} test digits)")
    result = {"per_class": args.per_class, "epochs": args.epochs, "batch_size": args.batch_size,
              "seeds": args.seeds, "n_train": n_train, "n_test": n_test,
              "pretrain_epochs": None if args.pretrained else args.pretrain_epochs,
              "pretrain_fashion_test_accuracy": pretrain_acc,
              "seconds": round(time.perf_counter() - start, 1)}
    for system in ("transfer", "transfer_probe", "scratch"):
        accs = np.array([r[system] for r in rows])
        result[system] = {"mean": float(accs.mean()), "std": float(accs.std()),
                          "per_seed": [round(float(a), 4) for a in accs],
                          "params": rows[0][f"{system}_params"]}
        log(f"{system}: test accuracy {accs.mean():.4f} +- {accs.std():.4f} over {args.seeds} "
            f"seeds; params {rows[0][f'{system}_params']}")
    result["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    result["command"] = " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:])
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
