"""Cost of a ``tf.data`` input pipeline against one ``fit`` epoch of the seed CNN (issue 17).

Target: iterating ``tf.data.Dataset.from_tensor_slices((x, y)).shuffle(buffer).batch(128)`` over
Fashion-MNIST's 60000 training images costs < 5% of one seed-CNN ``fit`` epoch over them.

Measured (medians over rounds):

* the pipeline alone: one full pass (all batches as ember Tensors), for shuffle buffers of the
  whole set, 10000 and 1000, and without shuffling; and with the tutorials' ``map(normalize)``
  (``tf.cast(image, tf.float32) / 255.``) on uint8 pixels, per element (before ``batch``: one
  Python call per image, as TensorFlow) and per batch (after it);
* the seed CNN (seed 000's ember.keras model, Adam, batch 128) -- one ``fit(x, y)`` epoch on
  ``--cnn-samples`` images, scaled to the full set (an epoch's cost is linear in its samples);
* ``fit(ds)`` with the pipeline on the same subset, against ``fit(x, y)`` (same steps): what
  feeding ``fit`` from a Dataset adds.

    python benchmarks/bench_tf_data.py [--rounds 5] [--samples 60000] [--cnn-samples 3072]
"""
import argparse
import statistics
import time

from bench_fit import EpochTimer, keras_seed_model, load_fashion_mnist
from harness import header

import ember
import ember.keras.tf as tf


def normalize(image, label):
    return tf.cast(image, tf.float32) / 255.0, label


def pipeline_pass(x, y, buffer, map_where=None):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if map_where == "element":
        ds = ds.map(normalize)
    if buffer:
        ds = ds.shuffle(buffer)
    ds = ds.batch(128)
    if map_where == "batch":
        ds = ds.map(normalize)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    start = time.perf_counter()
    steps = sum(1 for _ in ds)
    return time.perf_counter() - start, steps


def fit_epoch(model, data, **kwargs):
    timer = EpochTimer()
    model.fit(*data, epochs=1, verbose=0, callbacks=[timer], **kwargs)
    return timer.seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--cnn-samples", type=int, default=3072)
    args = parser.parse_args()
    ember.manual_seed(0)
    images, labels, source = load_fashion_mnist(args.samples)
    x, y = images[:, :, :, None], labels
    n = len(x)

    buffers = list(dict.fromkeys([n, 10000, 1000, 0]))
    passes = {b: [] for b in buffers}
    for _ in range(args.rounds):
        for b in buffers:
            seconds, steps = pipeline_pass(x, y, b)
            passes[b].append(seconds)

    pixels = (x * 255).astype("uint8")            # the tutorials' map(normalize) on raw pixels
    maps = {"element": [], "batch": []}
    for _ in range(args.rounds):
        for where in maps:
            maps[where].append(pipeline_pass(pixels, y, 10000, where)[0])

    xs, ys = x[:args.cnn_samples], y[:args.cnn_samples]
    model_arrays, model_ds = keras_seed_model("cnn"), keras_seed_model("cnn")
    ds = tf.data.Dataset.from_tensor_slices((xs, ys)).shuffle(len(xs)).batch(128)
    fit_epoch(model_arrays, (xs, ys), batch_size=128)       # warm up both
    fit_epoch(model_ds, (ds,))
    arrays_t, ds_t = [], []
    for _ in range(args.rounds):
        arrays_t.append(fit_epoch(model_arrays, (xs, ys), batch_size=128))
        ds_t.append(fit_epoch(model_ds, (ds,)))
    epoch_full = statistics.median(arrays_t) * n / len(xs)

    print(header())
    print(f"data: {source}, {n} samples; {args.rounds} rounds; medians")
    print()
    print(f"seed CNN fit(x, y) epoch: {statistics.median(arrays_t) * 1e3:.0f} ms on {len(xs)} "
          f"samples -> {epoch_full:.1f} s for {n}")
    print(f"seed CNN fit(ds) epoch:   {statistics.median(ds_t) * 1e3:.0f} ms on {len(xs)} samples "
          f"({(statistics.median(ds_t) / statistics.median(arrays_t) - 1) * 100:+.1f}% vs arrays)")
    print()
    print("| pipeline (batch 128, 469 steps at 60000) | one pass | share of a CNN epoch |")
    print("|---|---:|---:|")
    for b in buffers:
        t = statistics.median(passes[b])
        what = "no shuffle" if not b else f"shuffle({b})"
        print(f"| from_tensor_slices((x, y)).{what}.batch(128) | {t * 1e3:.0f} ms | "
              f"{t / epoch_full * 100:.2f}% |")
    for where, what in (("element", "map(normalize).shuffle(10000).batch(128)"),
                        ("batch", "shuffle(10000).batch(128).map(normalize)")):
        t = statistics.median(maps[where])
        print(f"| uint8 pixels: from_tensor_slices((x, y)).{what} | {t * 1e3:.0f} ms | "
              f"{t / epoch_full * 100:.2f}% |")


if __name__ == "__main__":
    main()
