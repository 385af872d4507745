"""Epoch wall time of ``Model.fit`` against a bare ember loop and a plain PyTorch loop.

Workloads (issue 8): the seed CNN Conv2d(1->32, 3x3, relu) -> MaxPool 2x2 -> Flatten ->
Linear(5408->128, relu) -> Linear(128->10) on 28x28x1 images, and the 784-128-64-10 MLP, both with
Adam, cross-entropy and batch 128 (the MLP also at batch 32, seed 001's) on (a subset of)
Fashion-MNIST (Debian's dataset-fashion-mnist; random data of the same shapes when it is missing).
Two more rows run the seed programs' own ``ember.keras`` code (Dense softmax output, Keras'
sparse_categorical_crossentropy and Adam): seed 001's MLP at batch 32 and seed 000's CNN; their
bare loop calls the same layers, loss and optimizer by hand.

Per round, interleaved (fit, fit with the bar, bare, torch), each runs one shuffled epoch over the
same samples:

* fit   -- ``model.fit(x, y, batch_size=128, epochs=1, verbose=0)`` compiled with
  ``metrics=['accuracy']`` (as the seed programs): timed from on_epoch_begin to on_epoch_end by a
  callback ("epoch"), and the whole call ("call", adding the one-time input checks);
* fit with the bar -- the same with ``verbose=1`` (the live tqdm bar, written to a StringIO, as
  ``ember demo`` on a terminal): "epoch" time;
* bare  -- the same steps written by hand: gather the batch from the permutation, zero_grad,
  forward, cross-entropy, backward, Adam step;
* torch -- the same loop in PyTorch (NCHW images), same batches.

Reported: medians over rounds and the medians of the per-round ratios.  fit's overhead is
``fit epoch / bare epoch - 1`` (target < 5%), without and with the progress bar.

    python benchmarks/bench_fit.py [--rounds 7] [--mlp-samples 12000] [--cnn-samples 3072]
"""
import argparse
import contextlib
import gzip
import io
import os
import statistics
import time

import numpy as np
from harness import SETTLE, header, torch

import ember
import ember.functional as F
from ember import nn


def load_fashion_mnist(n):
    """The first ``n`` training images (float32 in [0, 1], (n, 28, 28)) and labels (int64)."""
    folder = "/usr/share/datasets/fashion-mnist"
    images = os.path.join(folder, "train-images-idx3-ubyte.gz")
    labels = os.path.join(folder, "train-labels-idx1-ubyte.gz")
    if os.path.exists(images) and os.path.exists(labels):
        with gzip.open(images, "rb") as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n]
        with gzip.open(labels, "rb") as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
        return (x.astype(np.float32) / 255.0), y.astype(np.int64), "Fashion-MNIST"
    rng = np.random.default_rng(0)
    return (rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, n),
            "random data (Fashion-MNIST not found)")


class EpochTimer(ember.train.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def ember_mlp(model_cls):
    return model_cls([nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                      nn.Linear(64, 10)])


def ember_cnn(model_cls):
    return model_cls([nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(5408, 128), nn.ReLU(), nn.Linear(128, 10)])


def torch_mlp():
    return torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                               torch.nn.ReLU(), torch.nn.Linear(64, 10))


def torch_cnn():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Flatten(), torch.nn.Linear(5408, 128), torch.nn.ReLU(),
                               torch.nn.Linear(128, 10))


def keras_seed_model(kind):
    """The seed programs' own model (ember.keras, softmax output), compiled as they do."""
    from ember.keras.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from ember.keras.models import Sequential
    if kind == "cnn":
        layers = [Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1)),
                  MaxPooling2D(pool_size=(2, 2)), Flatten(), Dense(128, activation="relu"),
                  Dense(10, activation="softmax")]
    else:
        layers = [Dense(128, activation="relu", input_shape=(784,)), Dense(64, activation="relu"),
                  Dense(10, activation="softmax")]
    model = Sequential(layers)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def workload(name, x, y, t_x, make_ember, make_torch, rounds, batch_size=128, keras=None):
    """keras=None: ember.Sequential of ember.nn layers, loss 'cross_entropy' on logits, and the
    bare loop on the same layers.  keras='mlp'/'cnn': the seed program's ember.keras model
    (Dense softmax output, Keras' loss and Adam), and the bare loop calls its layers, Keras'
    sparse_categorical_crossentropy (mean over the batch) and its Keras Adam by hand."""
    n = len(x)
    timer = EpochTimer()
    if keras is None:
        fit_model = make_ember(ember.Sequential)
        fit_model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
        bare_model = make_ember(lambda layers: nn.Sequential(*layers))
        bare_opt = ember.optim.Adam(bare_model.parameters(), lr=1e-3)

        def bare_loss(xb, yb):
            return F.cross_entropy(bare_model(xb), yb)
    else:
        from ember.keras.losses import sparse_categorical_crossentropy
        fit_model = keras_seed_model(keras)
        bare_keras = keras_seed_model(keras)
        bare_keras.train()
        bare_layers = bare_keras.layers
        bare_opt = bare_keras.optimizer          # Keras' Adam, built on the model's weights

        def bare_loss(xb, yb):
            h = xb
            for layer in bare_layers:
                h = layer(h)
            return F.mean(sparse_categorical_crossentropy(yb, h))

    t_model = make_torch()
    t_opt = torch.optim.Adam(t_model.parameters(), lr=1e-3)
    t_y = torch.from_numpy(y)
    rng = np.random.default_rng(0)

    def run_fit():
        start = time.perf_counter()
        fit_model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer])
        return timer.seconds, time.perf_counter() - start

    def run_fit_bar():
        with contextlib.redirect_stdout(io.StringIO()):
            fit_model.fit(x, y, batch_size=batch_size, epochs=1, verbose=1, callbacks=[timer])
        return timer.seconds

    def run_bare():
        start = time.perf_counter()
        order = rng.permutation(n)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            xb, yb = ember.Tensor.wrap(x.take(idx, axis=0)), ember.Tensor.wrap(y.take(idx, axis=0))
            bare_opt.zero_grad()
            loss = bare_loss(xb, yb)
            loss.backward()
            bare_opt.step()
        return time.perf_counter() - start

    def run_torch():
        start = time.perf_counter()
        order = torch.from_numpy(rng.permutation(n))
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            t_opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(t_model(t_x[idx]), t_y[idx])
            loss.backward()
            t_opt.step()
        return time.perf_counter() - start

    run_fit(), run_fit_bar(), run_bare(), run_torch()   # warm-up (first-touch allocations, threads)
    fits, calls, bars, bares, torches, r_bare, r_bar, r_torch = [], [], [], [], [], [], [], []
    for _ in range(rounds):
        time.sleep(SETTLE)
        epoch, call = run_fit()
        time.sleep(SETTLE)
        bar = run_fit_bar()
        time.sleep(SETTLE)
        bare = run_bare()
        time.sleep(SETTLE)
        tt = run_torch()
        fits.append(epoch)
        calls.append(call)
        bars.append(bar)
        bares.append(bare)
        torches.append(tt)
        r_bare.append(epoch / bare)
        r_bar.append(bar / bare)
        r_torch.append(epoch / tt)
    med = statistics.median
    return {"name": name, "steps": -(-n // batch_size), "fit": med(fits), "call": med(calls),
            "bar": med(bars), "bare": med(bares), "torch": med(torches), "fit/bare": med(r_bare),
            "bar/bare": med(r_bar), "fit/torch": med(r_torch)}


def fixed_cost_per_step(x, y, rounds, batch_size=32):
    """fit's own cost per step, measured where nothing hides it: a one-layer model
    (Linear 784->10, batch 32), whose step is ~0.1 ms.  The fastest of ``rounds`` epochs of each
    variant (the minimum is what interference from other processes cannot lower);
    returns microseconds per step for fit and for fit with the bar, beyond the bare loop."""
    def tiny(model_cls):
        return model_cls([nn.Linear(784, 10)])

    fit_model = tiny(ember.Sequential)
    fit_model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    bare_model = tiny(lambda layers: nn.Sequential(*layers))
    bare_opt = ember.optim.Adam(bare_model.parameters(), lr=1e-3)
    timer = EpochTimer()
    rng = np.random.default_rng(0)
    n = len(x)

    def run_fit(verbose):
        with contextlib.redirect_stdout(io.StringIO()):
            fit_model.fit(x, y, batch_size=batch_size, epochs=1, verbose=verbose, callbacks=[timer])
        return timer.seconds

    def run_bare():
        start = time.perf_counter()
        order = rng.permutation(n)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            xb, yb = ember.Tensor.wrap(x.take(idx, axis=0)), ember.Tensor.wrap(y.take(idx, axis=0))
            bare_opt.zero_grad()
            loss = F.cross_entropy(bare_model(xb), yb)
            loss.backward()
            bare_opt.step()
        return time.perf_counter() - start

    times = {"fit": [], "bar": [], "bare": []}
    for _ in range(max(rounds, 5) * 2):
        times["fit"].append(run_fit(0))
        times["bar"].append(run_fit(1))
        times["bare"].append(run_bare())
    steps = -(-n // batch_size)
    bare = min(times["bare"])
    return {"bare": bare / steps * 1e6, "fit": (min(times["fit"]) - bare) / steps * 1e6,
            "bar": (min(times["bar"]) - bare) / steps * 1e6}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--mlp-samples", type=int, default=12000)
    parser.add_argument("--cnn-samples", type=int, default=3072)
    args = parser.parse_args()
    ember.manual_seed(0)
    torch.manual_seed(0)
    n = max(args.mlp_samples, args.cnn_samples)
    images, labels, source = load_fashion_mnist(n)
    results = []

    x = np.ascontiguousarray(images[:args.mlp_samples].reshape(-1, 784))
    results.append(workload(f"MLP 784-128-64-10, {len(x)} samples, batch 128", x, labels[:len(x)],
                            torch.from_numpy(x), ember_mlp, torch_mlp, args.rounds))
    # seed 001 trains the MLP with Keras' default batch of 32: 4x the steps, each 4x smaller, so
    # fit's per-step costs weigh most here
    results.append(workload(f"MLP 784-128-64-10, {len(x)} samples, batch 32", x, labels[:len(x)],
                            torch.from_numpy(x), ember_mlp, torch_mlp, args.rounds, batch_size=32))

    results.append(workload(f"seed 001 Keras code (softmax, Keras loss and Adam), batch 32", x,
                            labels[:len(x)], torch.from_numpy(x), ember_mlp, torch_mlp, args.rounds,
                            batch_size=32, keras="mlp"))

    x = np.ascontiguousarray(images[:args.cnn_samples, :, :, None])
    t_x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    results.append(workload(f"seed CNN, {len(x)} samples, batch 128", x, labels[:len(x)], t_x, ember_cnn,
                            torch_cnn, args.rounds))
    results.append(workload(f"seed 000 Keras code (softmax, Keras loss and Adam), batch 128", x,
                            labels[:len(x)], t_x, ember_cnn, torch_cnn, args.rounds, keras="cnn"))

    mlp_x = np.ascontiguousarray(images[:args.mlp_samples].reshape(-1, 784))
    fixed = fixed_cost_per_step(mlp_x, labels[:len(mlp_x)], args.rounds)

    print(header())
    print(f"data: {source}; Adam; {args.rounds} interleaved rounds; median times per epoch")
    print()
    print("| workload | steps | fit epoch | fit call | fit epoch, bar | bare ember loop | "
          "PyTorch loop | fit overhead | with bar | fit / PyTorch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['name']} | {r['steps']} | {r['fit'] * 1e3:.1f} ms | {r['call'] * 1e3:.1f} ms | "
              f"{r['bar'] * 1e3:.1f} ms | {r['bare'] * 1e3:.1f} ms | {r['torch'] * 1e3:.1f} ms | "
              f"{(r['fit/bare'] - 1) * 100:+.1f}% | {(r['bar/bare'] - 1) * 100:+.1f}% | "
              f"{r['fit/torch']:.2f}x |")
    print()
    print(f"fit's own cost per step (one-layer model, batch 32, fastest of {max(args.rounds, 5) * 2} "
          f"epochs; its bare step: {fixed['bare']:.1f} us): {fixed['fit']:.1f} us, with the bar "
          f"{fixed['bar']:.1f} us.  As a share of each workload's bare step (the overhead those "
          "costs imply, free of the run-to-run noise above):")
    print()
    print("| workload | bare step | implied fit overhead | with bar |")
    print("|---|---:|---:|---:|")
    for r in results:
        step = r["bare"] / r["steps"] * 1e6
        print(f"| {r['name']} | {step:.0f} us | {fixed['fit'] / step * 100:.1f}% | "
              f"{fixed['bar'] / step * 100:.1f}% |")


if __name__ == "__main__":
    main()
