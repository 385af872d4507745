"""``ember demo``: train the seed CNN on Fashion-MNIST and show what ember gives you.

    ember demo                      # 3 epochs, progress bar, accuracy, confusion matrix
    ember demo --epochs 1 --limit 5000 --out /tmp/demo

The model is seed 000's CNN with Keras' defaults (``ember.keras``: glorot-uniform kernels, zero
biases, Adam with learning rate 1e-3 and epsilon 1e-7, batch 128):
Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2) -> Flatten -> Dense(128, relu) -> Dense(10, softmax),
trained with sparse categorical cross-entropy.  The last 10% of the training images are held out
for validation (``val_loss`` / ``val_accuracy`` after each epoch, as Keras' validation_split=0.1);
the test set is evaluated once, after training (the test accuracy and the confusion matrix).
The first line printed names the array backend and BLAS kernels (``ember.backend.describe()``).

Writes into ``--out`` (default ``./ember-demo/``): ``history.png`` (loss and accuracy curves) and
``model.safetensors`` (``Model.save``: weights, optimizer state and config; reload it with
``ember.keras.models.load_model``).  Fashion-MNIST comes from ``ember.datasets.fashion_mnist``
(Debian: ``apt-get install -y dataset-fashion-mnist``).
"""
import os
import sys
import textwrap
import time

#: Share of the training images held out (the last ones) to validate on after each epoch.
VALIDATION_SPLIT = 0.1


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
                        help="use the first N training samples only, the last 10%% of them for "
                             "validation (a quick check)")
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


def format_confusion_matrix(matrix, class_names):
    """The (C, C) counts as text: one row per true class (``"0 T-shirt/top"``: its number and
    name), one column per predicted class (headed by the same numbers), and each row's recall
    (the share of that class predicted correctly).  Fashion-MNIST's table is 74 columns wide (it
    fits an 80-column terminal for counts up to 9999)."""
    labels = [f"{i} {name}" for i, name in enumerate(class_names)]
    width = max(len(n) for n in labels)
    cell = max(3, len(str(len(class_names) - 1)), len(str(int(matrix.max()))))
    lines = [" " * width + " | " + " ".join(str(i).rjust(cell) for i in range(len(labels)))
             + " | recall",
             "-" * width + "-+-" + "-" * ((cell + 1) * len(labels) - 1) + "-+-------"]
    for i, (label, row) in enumerate(zip(labels, matrix)):
        total = int(row.sum())
        recall = row[i] / total if total else float("nan")
        lines.append(label.ljust(width) + " | " + " ".join(str(int(v)).rjust(cell) for v in row)
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
    # Validate on the last 10% of the training images (Keras' validation_split: the last samples,
    # before shuffling), so the test set stays unseen until the one evaluation at the end.
    n_val = int(len(x_train) * VALIDATION_SPLIT)
    if n_val < 1 or n_val >= len(x_train):
        print(f"ember demo: {len(x_train)} training images are too few to hold out "
              f"{VALIDATION_SPLIT:.0%} for validation; use --limit 10 or more", file=sys.stderr)
        return 2
    x_val, y_val = x_train[-n_val:], y_train[-n_val:]
    x_train, y_train = x_train[:-n_val], y_train[:-n_val]
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)

    ember.manual_seed(args.seed)
    model = build_model()
    # Under mpirun, fit trains data-parallel on every rank; only the first rank reports and saves.
    main_rank = ember.distributed.is_main()
    if main_rank:
        print(textwrap.fill(f"Backend: {ember.backend.describe()}", width=79,
                            subsequent_indent="  ", break_on_hyphens=False))
        # (lines of at most 80 characters: a standard terminal shows them unbroken)
        print(f"ember demo: seed 000's CNN on Fashion-MNIST, {args.epochs} epoch(s), batch "
              f"{args.batch_size}, Adam\n"
              f"Images: {len(x_train)} training, {n_val} validation (held out), {len(x_test)} "
              "test")
        model.summary()
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_val, y_val), verbose=verbose)
    seconds = time.perf_counter() - start
    if not main_rank:
        return 0

    # The test set, once.
    probabilities = model.predict(x_test, batch_size=512)
    predicted = probabilities.argmax(axis=-1)
    correct = int((predicted == y_test).sum())
    print(f"\nTraining took {seconds:.0f} s.")
    print(f"Test accuracy: {correct / len(y_test):.4f} ({correct}/{len(y_test)} test images, "
          "unseen until now)")
    confusion = ConfusionMatrix(num_classes=10)
    confusion.update(probabilities, y_test)
    print("\nConfusion matrix on the test set (rows: true class, columns: predicted class):")
    print(format_confusion_matrix(confusion.result(), CLASS_NAMES))

    os.makedirs(args.out, exist_ok=True)
    plot_path = os.path.join(args.out, "history.png")
    model_path = os.path.join(args.out, "model.safetensors")
    history.plot(plot_path, title="ember demo: seed CNN on Fashion-MNIST")
    model.save(model_path)
    print(f"\nSaved {plot_path} (loss and accuracy per epoch)\n"
          f"  and {model_path} (weights, optimizer state and config); reload it with\n"
          f"  ember.keras.models.load_model({model_path!r})")
    return 0
