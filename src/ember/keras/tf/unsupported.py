"""The parts of TensorFlow ember does not have, each with the ember way to do the same job: the
messages ``ember.keras.tf`` raises when a program reaches for them."""

__all__ = ["UNSUPPORTED", "UnsupportedError"]


class UnsupportedError(NotImplementedError, AttributeError):
    """A TensorFlow feature ember does not provide (an ``AttributeError`` too, so ``hasattr``
    and ``getattr(tf, name, default)`` treat it as absent)."""


UNSUPPORTED = {
    "saved_model": "ember has no SavedModel format; save with model.save('model.keras') "
                   "(keras.models.load_model reads it back), or export for serving with "
                   "ember.onnx.export(model, example_input, 'model.onnx')",
    "distribute": "ember has no tf.distribute strategies; run data-parallel training with mpirun "
                  "and ember.distributed (see docs/distributed.md) -- model.fit is unchanged",
    "lite": "ember has no TensorFlow Lite converter; export with ember.onnx.export(...) and shrink "
            "the model with ember.quantize_dynamic(model) (int8 weights)",
    "summary": "ember has no tf.summary writers; pass keras.callbacks.TensorBoard(log_dir) to "
               "model.fit, or log the values yourself (e.g. with CSVLogger)",
    "io": "ember has no tf.io; read files with Python/NumPy (numpy.load, open(...).read()) and "
          "images with keras.utils.load_img / img_to_array",
    "Module": "ember has no tf.Module; subclass keras.layers.Layer (or ember.nn.Module) to hold "
              "variables",
    "compat": "ember has no tf.compat (TensorFlow 1 graph code); write the model with tf.keras "
              "layers and a tf.GradientTape loop",
    "estimator": "ember has no tf.estimator; use a keras Model with fit()",
    "feature_column": "ember has no feature columns; use keras preprocessing layers "
                      "(Normalization, StringLookup, CategoryEncoding ...)",
    "train": "ember has no tf.train checkpoints; use model.save_weights('w.weights.h5') / "
             "model.load_weights, or model.save('model.keras')",
    "string": "ember tensors hold numbers only (no tf.string dtype); keep text as Python strings",
    "sparse": "ember has no sparse tensors; use dense tensors",
    "SparseTensor": "ember has no sparse tensors; use dense tensors",
    "ragged": "ember has no ragged tensors; pad the sequences "
              "(keras.utils.pad_sequences) and use a mask",
    "RaggedTensor": "ember has no ragged tensors; pad the sequences "
                    "(keras.utils.pad_sequences) and use a mask",
    "TensorArray": "ember has no TensorArray; append tensors to a Python list and tf.stack it",
    "TensorShape": "ember shapes are tuples (x.shape); use tuple(x.shape) / list(x.shape)",
    "xla": "ember has no XLA compilation; the code runs eagerly as written",
    "autograph": "ember runs eagerly; there is no autograph to configure",
    "py_function": "ember runs eagerly: call the Python function directly",
    "numpy_function": "ember runs eagerly: call the NumPy function directly",
    "audio": "ember has no tf.audio; decode audio with a Python library (e.g. soundfile)",
    "signal": "ember has no tf.signal; keras.ops.stft-like transforms are not provided either",
    "experimental": "ember has no tf.experimental (tf.experimental.numpy: use keras.ops)",
    "errors": "ember raises Python's exceptions (ValueError, TypeError ...), not tf.errors",
    "debugging": "ember has no tf.debugging; check values with NumPy "
                 "(np.testing.assert_allclose(x.numpy(), ...))",
}
