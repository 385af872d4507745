"""Model and data shared by fit_model.py (2 ranks) and its single-process reference in
tests/distributed/test_distributed.py.  One epoch is 400 / BATCH = 20 optimizer steps."""
import numpy as np

import ember
import ember.nn as nn

SEED = 11          # fit's shuffling seed
BATCH = 20         # the global batch: 2 ranks x 10
N_TRAIN = 400
N_VALIDATION = 101  # odd: the ranks get 51 and 50 validation samples


def data():
    rng = np.random.default_rng(2024)
    x = rng.standard_normal((N_TRAIN + N_VALIDATION, 16)).astype(np.float32)
    w = rng.standard_normal((16, 5)).astype(np.float32)
    y = np.argmax(x @ w + 0.5 * rng.standard_normal((len(x), 5)), axis=1).astype(np.int64)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def make_model():
    ember.manual_seed(3)
    # Smooth activations: see common.SharedLayerNet for why ReLU's kink defeats any tolerance.
    model = ember.Sequential([nn.Linear(16, 48), nn.GELU(), nn.Linear(48, 48), nn.Tanh(),
                              nn.Linear(48, 5)], input_shape=(16,))
    model.compile(optimizer=ember.optim.Adam(model.parameters(), lr=1e-2),
                  loss="cross_entropy", metrics=["accuracy"])
    return model


def make_keras_model():
    """An ember.keras model (its own __call__ and _forward): trained by keras' fit, which has no
    seed argument -- the shuffling seed comes from ember's global generator (rank 0's)."""
    from ember.keras.layers import Dense
    from ember.keras.models import Sequential
    ember.manual_seed(4)
    model = Sequential([Dense(32, activation="relu", input_shape=(16,)),
                        Dense(5, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
