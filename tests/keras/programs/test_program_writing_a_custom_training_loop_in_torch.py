"""keras-io guide "Writing a training loop from scratch in PyTorch" (Keras 3), on tiny data.

Excerpts written for ember's tests, in the guide's torch style with a Keras optimizer and loss:
``model.zero_grad()``, ``loss.backward()``, ``[v.value.grad for v in trainable_weights]``,
``optimizer.apply(...)`` inside ``with torch.no_grad()`` (torch's context manager: nothing for
ember), ``keras.metrics.CategoricalAccuracy``, ``model.losses`` from an ``add_loss`` layer,
``loss.detach().numpy()`` in the progress print.  Not ported (they need torch's own API on ember
tensors): the first loop's ``torch.optim.Adam(model.parameters())`` with
``torch.nn.CrossEntropyLoss``, ``torch.sum(*model.losses)``, and batches from a
``torch.utils.data.DataLoader`` of torch tensors.
"""
import numpy as np
import torch

from ember import keras

rng = np.random.default_rng(0)
X = rng.random((64, 784)).astype("float32")
Y = np.eye(10, dtype="float32")[rng.integers(0, 10, 64)]


def np_(x):
    x = x.detach() if hasattr(x, "detach") else x
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def get_model(regularized=False):
    class ActivityRegularizationLayer(keras.layers.Layer):
        def call(self, inputs):
            self.add_loss(1e-2 * keras.ops.sum(inputs))
            return inputs

    inputs = keras.Input(shape=(784,), name="digits")
    x = keras.layers.Dense(16, activation="relu")(inputs)
    if regularized:
        x = ActivityRegularizationLayer()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    return keras.Model(inputs=inputs, outputs=keras.layers.Dense(10, name="predictions")(x))


def train(model, epochs=3, regularized=False):
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.CategoricalAccuracy()
    losses = []
    for epoch in range(epochs):
        for step in range(0, 64, 16):
            inputs, targets = X[step:step + 16], Y[step:step + 16]
            logits = model(inputs)
            loss = loss_fn(targets, logits)
            if regularized and model.losses:
                loss = loss + sum(model.losses)
            model.zero_grad()
            trainable_weights = [v for v in model.trainable_weights]
            loss.backward()
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                optimizer.apply(gradients, trainable_weights)
            train_acc_metric.update_state(targets, logits)
            losses.append(float(f"{loss.detach().numpy():.4f}"))
        train_acc = float(train_acc_metric.result())
        train_acc_metric.reset_state()
    return losses, train_acc


def test_torch_style_loop_with_keras_optimizer():
    model = get_model()
    before = [np_(w).copy() for w in model.trainable_weights]
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    start = float(np_(loss_fn(Y, model(X))))
    losses, train_acc = train(model, epochs=5)
    assert float(np_(loss_fn(Y, model(X)))) < start     # the whole set, not one noisy batch
    assert 0.0 <= train_acc <= 1.0
    assert all(not np.array_equal(b, np_(w)) for b, w in zip(before, model.trainable_weights))


def test_gradients_are_the_loss_gradients():
    model = get_model()
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    model.zero_grad()
    loss = loss_fn(Y, model(X))
    loss.backward()
    grad = np_(model.trainable_weights[-1].value.grad)     # the output bias
    probs = np.exp(np_(model(X)) - np_(model(X)).max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    np.testing.assert_allclose(grad, (probs - Y).mean(0), rtol=1e-4, atol=1e-6)


def test_loop_with_add_loss():
    model = get_model(regularized=True)
    losses, _ = train(model, epochs=1, regularized=True)
    assert len(model.losses) == 1 and np.isfinite(losses).all()
