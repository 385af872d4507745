"""Seed 004 on ember: the NumPy two-layer network, with backpropagation done by ember's autograd.

The seed builds X -> tanh(X W1 + b1) -> sigmoid(A1 W2 + b2) with a binary cross-entropy cost and
writes the backward pass by hand.  Here the forward is the same formulas on ember tensors,
``cost.backward()`` computes the gradients, and each step checks them against the correctly
hand-derived ones:

    dZ2 = (A2 - Y) / m            dW2 = A1^T dZ2      db2 = sum(dZ2, axis=0)
    dZ1 = (dZ2 W2^T) * (1 - A1^2) dW1 = X^T dZ1       db1 = sum(dZ1, axis=0)

(The seed's own backward has two slips: it multiplies ``dZ2 W2^T`` by ``X W1^T`` instead of
``1 - tanh(Z1)^2``, and uses ``1 - tanh(Z1)`` for the derivative of tanh; ember's gradients
agree with the formulas above, not with the seed's.)

Real data: Fashion-MNIST, class 7 (sneaker) against class 9 (ankle boot), pixels scaled to [0, 1].

    python examples/seed_004_two_layer.py [--hidden 16] [--epochs 20] [--lr 0.5]
"""
import argparse

import numpy as np

import ember
from ember.datasets import fashion_mnist


def initialize_weights(n_x, n_h, n_y, seed=1):
    # The seed uses randn; scaled by 1/sqrt(fan_in) so that tanh does not saturate on 784 inputs.
    rng = np.random.default_rng(seed)
    W1 = ember.tensor(rng.standard_normal((n_x, n_h)) / np.sqrt(n_x), requires_grad=True)
    b1 = ember.zeros((1, n_h), requires_grad=True)
    W2 = ember.tensor(rng.standard_normal((n_h, n_y)) / np.sqrt(n_h), requires_grad=True)
    b2 = ember.zeros((1, n_y), requires_grad=True)
    return W1, b1, W2, b2


def forward_propagation(X, W1, b1, W2, b2):
    Z1 = X @ W1 + b1
    A1 = ember.tanh(Z1)
    Z2 = A1 @ W2 + b2
    A2 = 1 / (1 + ember.exp(-Z2))
    return A1, A2


def compute_loss(Y, A2):
    m = Y.shape[0]
    return -(1 / m) * ember.sum(ember.log(A2) * Y + ember.log(1 - A2) * (1 - Y))


def hand_derived_gradients(X, Y, A1, A2, W2):
    """The backward pass written out, on NumPy arrays (see the module docstring)."""
    m = Y.shape[0]
    dZ2 = (A2 - Y) / m
    dW2 = A1.T @ dZ2
    db2 = dZ2.sum(axis=0, keepdims=True)
    dZ1 = (dZ2 @ W2.T) * (1 - A1 ** 2)
    dW1 = X.T @ dZ1
    db1 = dZ1.sum(axis=0, keepdims=True)
    return dW1, db1, dW2, db2


def update_parameters(params, learning_rate):
    with ember.no_grad():
        for p in params:
            p -= learning_rate * p.grad
            p.grad = None


def train_step(X, Y, params, learning_rate):
    """One gradient-descent step; returns the cost and the largest autograd-vs-hand difference."""
    W1, b1, W2, b2 = params
    A1, A2 = forward_propagation(X, *params)
    cost = compute_loss(Y, A2)
    cost.backward()
    expected = hand_derived_gradients(X.numpy(), Y.numpy(), A1.numpy(), A2.numpy(), W2.numpy())
    worst = max(float(np.max(np.abs(p.grad.numpy() - g))) for p, g in zip(params, expected))
    update_parameters(params, learning_rate)
    return cost.item(), worst


def binary_subset(x, y, negative=7, positive=9):
    keep = (y == negative) | (y == positive)
    X = x[keep].reshape(int(keep.sum()), -1).astype(np.float32) / 255
    Y = (y[keep] == positive).astype(np.float32).reshape(-1, 1)
    return ember.tensor(X), ember.tensor(Y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=30, help="full-batch gradient steps")
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--data", default=None, help="folder with the Fashion-MNIST IDX files")
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(path=args.data)
    X, Y = binary_subset(x_train, y_train)
    X_test, Y_test = binary_subset(x_test, y_test)
    params = initialize_weights(X.shape[1], args.hidden, 1)
    worst_overall = 0.0
    for epoch in range(args.epochs):
        cost, worst = train_step(X, Y, params, args.lr)
        worst_overall = max(worst_overall, worst)
        print(f"step {epoch + 1:3d}: cost {cost:.4f}  max |autograd - hand-derived| {worst:.2e}")
    with ember.no_grad():
        _, A2 = forward_propagation(X_test, *params)
    accuracy = float(((A2.numpy() > 0.5) == (Y_test.numpy() > 0.5)).mean())
    print(f"Test accuracy (sneaker vs ankle boot): {accuracy:.4f}; "
          f"largest gradient difference {worst_overall:.2e}")
    return accuracy, worst_overall


if __name__ == "__main__":
    main()
