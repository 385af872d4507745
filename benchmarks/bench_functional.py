"""``fit`` epoch time of the same network written as a functional ``keras.Model(inputs, outputs)``
and as a ``keras.Sequential`` (issue 16: the functional model must train as fast).

Workloads: the seed CNN (Conv2D 32 3x3 relu -> MaxPooling2D -> Flatten -> Dense 128 relu -> Dense
10 softmax, 28x28x1 images) and the 784-128-64-10 MLP, Adam, sparse categorical cross-entropy,
batch 128, on random data of Fashion-MNIST's shapes.  Per round, interleaved, each model runs one
epoch (``fit(..., epochs=1, verbose=0)``); reported: medians over rounds and the median of the
per-round ratio functional / sequential.

    python benchmarks/bench_functional.py [--rounds 7] [--samples 4096]
"""
import argparse
import statistics
import time

import numpy as np
from harness import header

from ember import keras
from ember.keras import layers


def cnn_layers():
    return [layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
            layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]


def mlp_layers():
    return [layers.Dense(128, activation="relu"), layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax")]


def build(make_layers, shape, functional):
    keras.utils.set_random_seed(0) if hasattr(keras.utils, "set_random_seed") else None
    if functional:
        x = inputs = keras.Input(shape=shape)
        for layer in make_layers():
            x = layer(x)
        model = keras.Model(inputs, x)
    else:
        model = keras.Sequential([keras.Input(shape=shape)] + make_layers())
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def epoch_time(model, x, y):
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--samples", type=int, default=4096)
    args = parser.parse_args()
    print(header())
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, args.samples)
    print(f"{'workload':<8} {'sequential':>12} {'functional':>12} {'functional/sequential':>22}")
    for name, make, shape in (("MLP", mlp_layers, (784,)), ("CNN", cnn_layers, (28, 28, 1))):
        x = rng.random((args.samples,) + shape, dtype=np.float32)
        seq, fun = build(make, shape, False), build(make, shape, True)
        fun.set_weights(seq.get_weights())
        epoch_time(seq, x[:256], y[:256])           # warm-up (first-call checks, allocations)
        epoch_time(fun, x[:256], y[:256])
        times = {"seq": [], "fun": []}
        for _ in range(args.rounds):
            times["seq"].append(epoch_time(seq, x, y))
            times["fun"].append(epoch_time(fun, x, y))
        ratio = statistics.median(f / s for f, s in zip(times["fun"], times["seq"]))
        print(f"{name:<8} {statistics.median(times['seq']):>11.3f}s {statistics.median(times['fun']):>11.3f}s "
              f"{ratio:>22.3f}")


if __name__ == "__main__":
    main()
