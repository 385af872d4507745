"""keras.optimizers.schedules: Keras' learning-rate schedules, their values against real Keras,
and their use as ``learning_rate=`` (evaluated at every update with ``optimizer.iterations``)."""
import sys

import numpy as np
import pytest

import ember
from ember import keras
from ember.keras.optimizers.schedules import ExponentialDecay, LearningRateSchedule

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "support"))
from keras_battery import real_keras  # noqa: E402

STEPS = [0, 1, 3, 7, 10, 15, 31, 100]
CASES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=4, decay_rate=0.9,
                              staircase=True)),
    ("PiecewiseConstantDecay", dict(boundaries=[3, 10], values=[1.0, 0.5, 0.1])),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=20, end_learning_rate=0.01,
                             power=2.0)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=6, cycle=True)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5,
                              staircase=True)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=20, alpha=0.1)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=20, warmup_target=0.1,
                         warmup_steps=5)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=4)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=5, t_mul=1.0,
                                 m_mul=0.5, alpha=0.1)),
]


@pytest.mark.parametrize("name,config", CASES)
def test_schedule_values_match_keras(name, config):
    k3 = real_keras()
    ours = getattr(keras.optimizers.schedules, name)(**config)
    theirs = getattr(k3.optimizers.schedules, name)(**config)
    for step in STEPS:
        expected = float(k3.ops.convert_to_numpy(theirs(step)))
        assert ours(step) == pytest.approx(expected, rel=1e-5, abs=1e-7), (name, step)
    again = type(ours).from_config(ours.get_config())
    assert again(7) == ours(7)
    assert keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(ours))(3) \
        == ours(3)


def test_schedules_check_their_arguments():
    with pytest.raises(ValueError, match="one more than the number of boundaries"):
        keras.optimizers.schedules.PiecewiseConstantDecay([1, 2], [1.0])
    with pytest.raises(ValueError, match="decay_steps must be > 0"):
        ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(NotImplementedError, match="must override"):
        LearningRateSchedule()(0)


class Halving(LearningRateSchedule):
    """A user's schedule (Keras' subclassing contract)."""

    def __call__(self, step):
        return 0.2 / (step + 1)

    def get_config(self):
        return {}


@pytest.mark.parametrize("make", [lambda: ExponentialDecay(0.2, 2, 0.5), Halving])
def test_a_schedule_drives_every_update_as_in_keras(make):
    k3 = real_keras()
    ember.manual_seed(3)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((12, 4)).astype(np.float32), rng.standard_normal((12, 2)).astype(np.float32)
    ours = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    theirs = k3.Sequential([k3.Input((4,)), k3.layers.Dense(2)])
    theirs.set_weights(ours.get_weights())
    schedule = make()
    their_schedule = (k3.optimizers.schedules.ExponentialDecay(0.2, 2, 0.5)
                      if isinstance(schedule, ExponentialDecay) else _keras_halving(k3))
    ours.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=0.5), loss="mse")
    theirs.compile(optimizer=k3.optimizers.SGD(learning_rate=their_schedule, momentum=0.5),
                   loss="mse")
    ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    opt = ours.optimizer
    assert opt.iterations == 6
    assert opt.learning_rate == pytest.approx(schedule(6))      # the rate of the next update
    assert opt.learning_rate == pytest.approx(float(k3.ops.convert_to_numpy(theirs.optimizer.learning_rate)))


def _keras_halving(k3):
    class KHalving(k3.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            return 0.2 / (step + 1)
    return KHalving()


def test_apply_takes_two_lists_and_learning_rate_is_settable():
    w = ember.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = keras.optimizers.SGD(learning_rate=0.5)
    opt.apply([np.full(3, 2.0, np.float32)], [w])
    np.testing.assert_allclose(w.data, np.zeros(3))
    opt.learning_rate = 0.25
    opt.apply([np.full(3, 2.0, np.float32)])             # the variables it is bound to
    np.testing.assert_allclose(w.data, np.full(3, -0.5))
    assert opt.iterations == 2 and opt.learning_rate == 0.25
    with pytest.raises(ValueError, match="1 gradients for 2 variables"):
        opt.apply([np.zeros(3, np.float32)], [w, w])
