"""Train a two-layer network on Fashion-MNIST with ember's raw autograd API and print its accuracy.

This is the program of seed 004 (a NumPy two-layer network with hand-written backprop) with the
backward pass left to ember: tensors, operators, ``loss.backward()`` and a plain SGD update.

Data: Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``), or
``--data DIR`` holding the four IDX files (gzipped or raw).

    python examples/two_layer_autograd.py --epochs 3
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np

import ember
import ember.functional as F

FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path):
    """Read an IDX file (gzipped or raw) into a NumPy array, checking its magic number and size."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()})")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != np.prod(shape):
        raise ValueError(f"{path}: header says shape {shape} but the file holds {body.size} values")
    return body.reshape(shape)


def load(split, folder):
    arrays = []
    for name in FILES[split]:
        for candidate in (name + ".gz", name):
            path = os.path.join(folder, candidate)
            if os.path.exists(path):
                arrays.append(read_idx(path))
                break
        else:
            raise FileNotFoundError(
                f"{name}[.gz] not found in {folder}; install Debian's dataset-fashion-mnist "
                "(apt-get install -y dataset-fashion-mnist) or pass --data DIR")
    return arrays


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    x_train, y_train = load("train", args.data)
    x_test, y_test = load("test", args.data)
    x_train = ember.tensor(x_train.reshape(len(x_train), -1) / 255.0)
    x_test = ember.tensor(x_test.reshape(len(x_test), -1) / 255.0)
    y_train, y_test = ember.tensor(y_train.astype(np.int64)), ember.tensor(y_test.astype(np.int64))

    ember.manual_seed(args.seed)
    n_in, n_h, n_out = 784, args.hidden, 10
    # tanh hidden layer as in seed 004; weights scaled by 1/sqrt(fan_in)
    W1 = (ember.randn(n_in, n_h) * (1 / np.sqrt(n_in))).requires_grad_()
    b1 = ember.zeros(n_h, requires_grad=True)
    W2 = (ember.randn(n_h, n_out) * (1 / np.sqrt(n_h))).requires_grad_()
    b2 = ember.zeros(n_out, requires_grad=True)
    params = [W1, b1, W2, b2]

    def forward(x):
        return F.tanh(x @ W1 + b1) @ W2 + b2

    rng = np.random.default_rng(args.seed)
    n = len(x_train)
    for epoch in range(1, args.epochs + 1):
        start, total = time.perf_counter(), 0.0
        order = rng.permutation(n)
        for i in range(0, n, args.batch_size):
            idx = order[i:i + args.batch_size]
            loss = F.cross_entropy(forward(x_train[idx]), y_train[idx])
            for p in params:
                p.grad = None
            loss.backward()
            with ember.no_grad():
                for p in params:
                    p -= args.lr * p.grad
            total += loss.item() * len(idx)
        with ember.no_grad():
            acc = (forward(x_test).argmax(axis=1) == y_test).numpy().mean()
        print(f"epoch {epoch}: train loss {total / n:.4f}  test accuracy {acc:.4f}  "
              f"({time.perf_counter() - start:.1f}s)")
    print(f"Test accuracy: {acc:.4f}")


if __name__ == "__main__":
    main()
