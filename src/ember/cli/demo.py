"""``ember demo``: train the seed CNN on Fashion-MNIST and show what ember gives you.

    ember demo                      # 3 epochs, progress bar, accuracy, confusion matrix
    ember demo --epochs 1 --limit 5000 --out /tmp/demo

The model is seed 000's CNN with Keras' defaults (``ember.keras``: glorot-uniform kernels, zero
biases, Adam with learning rate 1e-3 and epsilon 1e-7, batch 128):
Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2) -> Flatten -> Dense(128, relu) -> Dense(10, softmax),
trained with sparse categorical cross-entropy and validated on the test set after each epoch.

Writes into ``--out`` (default ``./ember-demo/``): ``history.png`` (loss and accuracy curves) and
``model.safetensors`` (``Model.save``: weights, optimizer state and config; reload it with
``ember.keras.models.load_model``).  Fashion-MNIST comes from ``ember.datasets.fashion_mnist``
(Debian: ``apt-get install -y dataset-fashion-mnist``).
"""
import os
import sys
import time

#: Column headers of the confusion matrix (at most 7 characters).
_SHORT_NAMES = ("T-shirt", "Trouser", "Pullovr", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                "Bag", "Boot")


def _positive_int(text):
    import argparse
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_arguments(parser):
    parser.add_argument("--epochs", type=_positive_int, default=3, help="training epochs (default: 3)")
    parser.add_argument("--batch-size", type=_positive_int, default=128,
                        help="samples per step (default: 128, as seed 000)")
    parser.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                        help="train on the first N training samples only (a quick check)")
    parser.add_argument("--test-limit", type=_positive_int, default=None, metavar="N",
                        help="evaluate on the first N test samples only (default: all 10000)")
    parser.add_argument("--out", default="ember-demo", metavar="DIR",
                        help="folder for history.png and model.safetensors (default: ./ember-demo)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the initialisation and the shuffling (default: 0)")
    parser.add_argument("--verbose", choices=["auto", "0", "1", "2"], default="auto",
                        help="progress: 1 a live bar, 2 one line per epoch, auto: 1 on a terminal "
                             "(default)")


def load_fashion_mnist():
    """The data as float32 images (N, 28, 28, 1) in [0, 1] and int64 labels, or a DatasetError
    whose message says how to install it."""
    from ..datasets import DatasetError, fashion_mnist
    try:
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    except (DatasetError, FileNotFoundError) as error:
        raise DatasetError(
            "ember demo: Fashion-MNIST is not on this machine and could not be downloaded.\n"
            "Install it (Debian/Ubuntu):  apt-get install -y dataset-fashion-mnist\n"
            "or put its four IDX files (train-images-idx3-ubyte.gz, ...) in "
            "$EMBER_DATA/fashion-mnist/ or ~/.ember/datasets/fashion-mnist/.\n"
            f"Details: {error}") from None

    def prepare(x, y):
        return (x.reshape(len(x), 28, 28, 1).astype("float32") / 255.0), y.astype("int64")

    return prepare(x_train, y_train), prepare(x_test, y_test)


def build_model():
    """Seed 000's CNN with Keras' defaults, compiled as the seed (adam, sparse categorical
    cross-entropy, accuracy)."""
    from ..keras.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from ..keras.models import Sequential
    model = Sequential(name="seed_cnn")
    model.add(Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1)))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def format_confusion_matrix(matrix, class_names, short_names=_SHORT_NAMES):
    """The (C, C) counts as text: one row per true class (named), one column per predicted class,
    and each row's recall (the share of that class predicted correctly)."""
    width = max(len(n) for n in class_names)
    cell = max(max(len(s) for s in short_names), len(str(int(matrix.max()))))
    lines = [" " * width + " | " + " ".join(s.rjust(cell) for s in short_names) + " | recall",
             "-" * width + "-+-" + "-" * ((cell + 1) * len(short_names) - 1) + "-+-------"]
    for i, (name, row) in enumerate(zip(class_names, matrix)):
        total = int(row.sum())
        recall = row[i] / total if total else float("nan")
        lines.append(name.rjust(width) + " | " + " ".join(str(int(v)).rjust(cell) for v in row)
                     + f" | {recall:6.1%}")
    return "\n".join(lines)


def run(args):
    import numpy as np

    import ember
    from ..datasets import DatasetError
    from ..datasets.fashion_mnist import CLASS_NAMES
    from ..train.metrics import ConfusionMatrix

    try:
        (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    except DatasetError as error:
        print(error, file=sys.stderr)
        return 1
    if args.limit is not None:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    if args.test_limit is not None:
        x_test, y_test = x_test[:args.test_limit], y_test[:args.test_limit]
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)

    ember.manual_seed(args.seed)
    model = build_model()
    # Under mpirun, fit trains data-parallel on every rank; only the first rank reports and saves.
    main_rank = ember.distributed.is_main()
    if main_rank:
        print(f"ember demo: seed 000's CNN on Fashion-MNIST ({len(x_train)} training, {len(x_test)} "
              f"test images), {args.epochs} epoch(s), batch {args.batch_size}, Adam (Keras defaults)")
        model.summary()
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_test, y_test), verbose=verbose)
    seconds = time.perf_counter() - start
    if not main_rank:
        return 0

    probabilities = model.predict(x_test, batch_size=512)
    predicted = probabilities.argmax(axis=-1)
    correct = int((predicted == y_test).sum())
    print(f"\nTest accuracy: {correct / len(y_test):.4f} ({correct}/{len(y_test)} test images; "
          f"training took {seconds:.0f} s)")
    confusion = ConfusionMatrix(num_classes=10)
    confusion.update(probabilities, y_test)
    print("\nConfusion matrix (rows: true class, columns: predicted class):")
    print(format_confusion_matrix(confusion.result(), CLASS_NAMES))

    os.makedirs(args.out, exist_ok=True)
    plot_path = os.path.join(args.out, "history.png")
    model_path = os.path.join(args.out, "model.safetensors")
    history.plot(plot_path, title="ember demo: seed CNN on Fashion-MNIST")
    model.save(model_path)
    print(f"\nSaved {plot_path} (loss and accuracy per epoch) and {model_path} (reload with "
          f"ember.keras.models.load_model({model_path!r}))")
    return 0
