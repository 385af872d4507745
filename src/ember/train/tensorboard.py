"""TensorBoard logging: :class:`TensorBoard`, the callback (Keras 3's arguments, tags and folders),
and :class:`SummaryWriter`, the event-file writer under it.

Files are TensorBoard's own event files (``events.out.tfevents.*``), written with the
``tensorboard`` package's writer and protocol buffers -- no TensorFlow.  ``tensorboard --logdir
LOG_DIR`` shows them.  The package is optional: ``pip install tensorboard`` (or ``pip install
ember[tensorboard]``); the callback says so when it is missing.

Layout, as Keras': ``LOG_DIR/train`` holds ``epoch_<name>`` scalars (step = epoch, 0-based),
``epoch_learning_rate``, ``batch_<name>`` scalars (``update_freq``; step = global batch, 1-based),
weight histograms ``<layer>/<weight>/histogram`` (``histogram_freq``) and images
(``write_images``); ``LOG_DIR/validation`` holds the ``val_`` logs as ``epoch_<name>`` and
``evaluation_<name>_vs_iterations`` (step = optimizer steps so far).
"""
import os
import struct
import time
import zlib

import numpy as np

from . import parallel
from ._monitor import _get_lr
from .callback import Callback

__all__ = ["TensorBoard", "SummaryWriter"]

_INSTALL = ("ember's TensorBoard logging needs the 'tensorboard' package (it writes TensorBoard's "
            "event files; TensorFlow is not needed). Fix: pip install tensorboard  (or: pip "
            "install 'ember[tensorboard]')")


def _proto():
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as e:
        raise ImportError(_INSTALL) from e
    return event_pb2, summary_pb2, EventFileWriter


class SummaryWriter:
    """Writes summaries to one event file in ``logdir`` (created as needed): ``scalar(tag, value,
    step)``, ``histogram(tag, values, step, buckets=30)``, ``image(tag, images, step)`` (NHWC,
    floats in [0, 1] or uint8; C in 1, 3, 4), ``text(tag, string, step)``; ``flush()``,
    ``close()``.  Needs the ``tensorboard`` package."""

    def __init__(self, logdir):
        self._event_pb2, self._summary_pb2, writer = _proto()
        os.makedirs(logdir, exist_ok=True)
        self.logdir = logdir
        self._writer = writer(logdir)

    def _write(self, value, step):
        summary = self._summary_pb2.Summary(value=[value])
        self._writer.add_event(self._event_pb2.Event(wall_time=time.time(), step=int(step),
                                                     summary=summary))

    def scalar(self, tag, value, step):
        self._write(self._summary_pb2.Summary.Value(tag=tag, simple_value=float(value)), step)

    def histogram(self, tag, values, step, buckets=30):
        """The values' histogram in ``buckets`` equal bins between their min and max (as
        ``tf.summary.histogram``)."""
        v = np.asarray(values, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        if v.size:
            counts, edges = np.histogram(v, bins=buckets)
            limits, lo, hi = edges[1:], v.min(), v.max()
        else:
            counts, limits, lo, hi = np.zeros(0), np.zeros(0), 0.0, 0.0
        histo = self._summary_pb2.HistogramProto(
            min=float(lo), max=float(hi), num=float(v.size), sum=float(v.sum()),
            sum_squares=float(np.dot(v, v)), bucket_limit=limits.tolist(),
            bucket=counts.astype(np.float64).tolist())
        self._write(self._summary_pb2.Summary.Value(tag=tag, histo=histo), step)

    def image(self, tag, images, step):
        """One image summary per image of ``images`` (N, H, W, C); tags ``tag`` (N = 1) or
        ``tag/image/i`` (as TensorFlow's)."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
            raise ValueError(f"SummaryWriter.image: expected images of shape (N, H, W, C) with C "
                             f"in 1, 3, 4, got {images.shape}")
        if images.dtype != np.uint8:       # floats: [0, 1] -> [0, 255], clipped (tf.summary)
            images = (np.clip(images.astype(np.float64), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        n, h, w, c = images.shape
        for i in range(n):
            img = self._summary_pb2.Summary.Image(height=h, width=w, colorspace=c,
                                                  encoded_image_string=_png(images[i]))
            name = tag if n == 1 else f"{tag}/image/{i}"
            self._write(self._summary_pb2.Summary.Value(tag=name, image=img), step)

    def text(self, tag, string, step, plugin="text"):
        """A string tensor summary (the text plugin's, or ``plugin``'s)."""
        from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2, types_pb2
        tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING,
                                        tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                                        string_val=[string.encode("utf-8")])
        meta = self._summary_pb2.SummaryMetadata(
            plugin_data=self._summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin))
        self._write(self._summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=meta), step)

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()


class _NullWriter:
    """The writer of a process that does not write (not rank 0 of a data-parallel run)."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _png(image):
    """An (H, W, C) uint8 image as PNG bytes (grey, grey+alpha, RGB or RGBA; no filtering)."""
    h, w, c = image.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), image.reshape(h, w * c)], axis=1)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw.tobytes())) + chunk(b"IEND", b""))


def _weight_image(w):
    """A weight as Keras' TensorBoard shows it: (1, H, W, 1), one image per output channel of a
    1-D convolution kernel, a 4-D weight with 1, 3 or 4 in its last axis as is; None when it
    cannot be drawn."""
    w = np.squeeze(np.asarray(w, dtype=np.float32))
    if w.ndim == 1:                                     # a bias
        return w.reshape(1, w.shape[0], 1, 1)
    if w.ndim == 2:                                     # a dense kernel, wide side across
        if w.shape[0] > w.shape[1]:
            w = w.T
        return w.reshape(1, w.shape[0], w.shape[1], 1)
    if w.ndim == 3:                                     # (k, in, out): channels first
        w = np.transpose(w, (2, 0, 1))
        return w.reshape(w.shape + (1,))
    if w.ndim == 4 and w.shape[-1] in (1, 3, 4):        # as Keras: (kh, kw, in, out) drawn as is
        return w
    return None


def _named_weights(model):
    """``(name, array)`` for every weight: a Keras model's ``layer.weights`` by their path, or
    an ember model's parameters ('0.weight' -> '0/weight')."""
    layers = getattr(model, "layers", None)
    if layers is not None and all(hasattr(layer, "weights") for layer in layers):
        for layer in layers:
            for w in layer.weights:
                name = getattr(w, "path", None) or f"{layer.name}/{w.name}"
                yield name.replace(":", "_"), np.asarray(getattr(w, "data", w))
        return
    for name, p in model.named_parameters():
        yield name.replace(".", "/"), np.asarray(p.data)


class TensorBoard(Callback):
    """Log training to TensorBoard (Keras 3's callback, arguments and tags; see the module doc).

    log_dir: the run's folder ('logs'); ``train/`` and ``validation/`` are made in it.
    histogram_freq: every how many epochs weight histograms are written (0: never).
    write_graph: write the model's description (its summary as text, tag 'keras'; ember has no
        graph to draw).  write_images: weights as images at the histogram epochs.
    write_steps_per_second: also ``epoch_steps_per_second`` / ``batch_steps_per_second``.
    update_freq: 'epoch' (epoch scalars only), 'batch' or an int N: also ``batch_<name>``
        scalars every N batches (step: the global batch count, 1-based).
    profile_batch / embeddings_freq: must be 0 (ember has no profiler or projector writer).
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        _proto()        # fail at construction, not after the first epoch
        if profile_batch:
            raise ValueError(f"TensorBoard: profiling is not available in ember; profile_batch must "
                             f"be 0, got {profile_batch!r}")
        if embeddings_freq:
            raise NotImplementedError(f"TensorBoard: embeddings_freq={embeddings_freq!r} (the "
                                      "projector) is not supported by ember; leave it 0")
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int, "
                             f"got {update_freq!r}")
        if not (isinstance(histogram_freq, int) and histogram_freq >= 0):
            raise ValueError(f"TensorBoard: histogram_freq must be an int >= 0, got {histogram_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = bool(write_graph)
        self.write_images = bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = update_freq
        self._writers = {}
        self._global_train_batch = 0
        if update_freq != "epoch" or self.write_steps_per_second:
            # Bound per instance so that fit computes batch logs only when they are written
            # (CallbackList skips the hooks a callback does not have).
            self.on_train_batch_begin = self._batch_begin
            self.on_train_batch_end = self._batch_end

    def set_model(self, model):
        super().set_model(model)
        self._close_writers()
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._graph_written = False

    def _writer(self, which):
        if which not in self._writers:
            if not parallel.is_main():      # data-parallel: rank 0 writes (the logs agree)
                self._writers[which] = _NullWriter()
            else:
                self._writers[which] = SummaryWriter(self._train_dir if which == "train"
                                                     else self._val_dir)
        return self._writers[which]

    def _close_writers(self):
        for w in self._writers.values():
            w.close()
        self._writers = {}

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        if self.write_graph and not self._graph_written:
            self._write_model_summary()

    def _write_model_summary(self):
        lines = []
        try:
            self.model.summary(print_fn=lines.append)
        except Exception:   # noqa: BLE001 -- a model that cannot summarise itself (not built)
            lines = [repr(self.model)]
        text = "\n".join(str(line) for line in lines)
        self._writer("train").text("keras", f"```\n{text}\n```", step=0)
        self._graph_written = True

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._epoch_start_batch = self._global_train_batch

    def _batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.perf_counter()

    def _batch_end(self, batch, logs=None):
        step = self._global_train_batch
        writer = self._writer("train")
        if self.write_steps_per_second:
            writer.scalar("batch_steps_per_second",
                          1.0 / max(time.perf_counter() - self._batch_start, 1e-9), step)
        if self.update_freq != "epoch" and step % self.update_freq == 0 and isinstance(logs, dict):
            for name, value in logs.items():
                if np.ndim(value) == 0:
                    writer.scalar(f"batch_{name}", value, step)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if not logs or optimizer is None:
            return
        step = int(getattr(optimizer, "iterations", getattr(self.model, "steps_completed", 0)))
        writer = self._writer("validation")
        for name, value in logs.items():
            if np.ndim(value) == 0:
                writer.scalar(f"evaluation_{name}_vs_iterations", value, step)
        writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        scalars = {k: v for k, v in logs.items() if np.ndim(v) == 0}
        train = {k: v for k, v in scalars.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in scalars.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and "learning_rate" not in train:
            try:
                train["learning_rate"] = _get_lr(optimizer)
            except (AttributeError, IndexError, KeyError, TypeError):
                pass            # an optimizer without a learning rate
        if self.write_steps_per_second:
            seconds = max(time.perf_counter() - self._epoch_start, 1e-9)
            steps = self._global_train_batch - self._epoch_start_batch
            train["steps_per_second"] = steps / seconds
        for which, values in (("train", train), ("validation", val)):
            if values:
                writer = self._writer(which)
                for name, value in values.items():
                    writer.scalar(f"epoch_{name}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for w in self._writers.values():
            w.flush()

    def _log_weights(self, epoch):
        writer = self._writer("train")
        for name, w in _named_weights(self.model):
            writer.histogram(f"{name}/histogram", w, epoch)
            if self.write_images:
                image = _weight_image(w)
                if image is not None:
                    writer.image(f"{name}/image", image, epoch)
