"""ember.keras: Keras' names and argument conventions on ember (a thin facade).

Programs written for Keras run with only their imports changed::

    from ember.keras.models import Sequential          # was: from keras.models import Sequential
    from ember.keras.layers import Dense, Conv2D, ...  # was: from keras.layers import ...
    import ember.keras.tf as tf                        # was: import tensorflow as tf

Layers are ``ember.nn`` modules written to Keras' layer contract, with Keras' arguments and
default initialisation, computing with ``ember.functional`` (``ember.keras.layers``); models are ``ember.train`` models with Keras' ``compile`` / ``fit`` /
``evaluate`` / ``predict`` (``ember.keras.models``); optimizers follow Keras' formulas and
defaults (``ember.keras.optimizers``); cross-entropy losses of softmax/sigmoid outputs are
computed stably from the logits (``ember.keras.losses``); ``GradientTape`` loops work
(``ember.keras.tf.GradientTape``, ``model.optimizer.apply_gradients``).
"""
from . import (activations, applications, backend, callbacks, constraints, datasets, initializers, layers, losses,
               metrics, models, ops, optimizers, preprocessing, random, regularizers, saving, utils)
from .layers import Input, Layer
from .models import Model, Sequential, load_model
from .variables import Variable
from ..train.gradient_tape import GradientTape

__all__ = ["activations", "applications", "backend", "callbacks", "constraints", "datasets", "initializers", "layers", "losses",
           "metrics", "models", "ops", "optimizers", "preprocessing", "random", "regularizers", "saving", "utils",
           "Input", "Layer", "Model",
           "Sequential", "load_model", "GradientTape", "Variable"]
