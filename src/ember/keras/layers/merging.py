"""Merging layers: ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``,
``Concatenate`` and ``Dot``, and their functional forms (``add([a, b])`` = ``Add()([a, b])``).

Each takes a LIST of tensors (``Add()([a, b])``), real or symbolic (``keras.Input``: the
functional API), as Keras:

* the element-wise layers broadcast as Keras' merge layers do: sizes equal or 1 on each axis but
  the batch axis; an input of lower rank gets size-1 axes inserted after the batch axis;
* ``Concatenate(axis=-1)``: equal shapes except on ``axis``;
* ``Dot(axes, normalize=False)``: Keras' ``batch_dot`` of two inputs over ``axes`` (an int, the
  same axis of both, or a pair; the batch axis 0 cannot be one), optionally of the L2-normalised
  inputs (cosine similarity); two (N, d) inputs give (N, 1);
* masks (``supports_masking``): the element-wise layers pass on the OR of their inputs' masks
  (none unless every input has one), ``Concatenate`` Keras' concatenation of them; ``Dot``
  drops them (Keras 3's rules).
"""
from functools import reduce

from ... import functional as F
from .. import masking as _masking
from ._arguments import as_input, shape_str
from .base import Layer

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]


def _as_float(x):
    return x if x.dtype.kind == "f" else x.astype("float32")


def _shapes(inputs):
    return ", ".join(shape_str(tuple(x.shape)) for x in inputs)


class _Merge(Layer):
    """Checks the list of inputs and their shapes, lifts lower-rank inputs (Keras'
    ``_reshape_required``) and applies ``_merge`` to the list."""

    supports_masking = True
    _min_inputs = 1
    _exact_inputs = None

    def _check_list(self, inputs):
        layer = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{layer}: a merge layer is called on a LIST of tensors, e.g. "
                             f"{layer}()([a, b]); got {type(inputs).__name__}")
        n = len(inputs)
        if self._exact_inputs is not None and n != self._exact_inputs:
            raise ValueError(f"{layer}: expected exactly {self._exact_inputs} inputs, got {n}")
        if n < self._min_inputs:
            raise ValueError(f"{layer}: expected at least {self._min_inputs} input(s), got {n}")
        inputs = [as_input(x) for x in inputs]
        batches = {x.shape[0] for x in inputs if x.ndim}
        if len(batches) > 1:
            raise ValueError(f"{layer}: cannot merge tensors with different batch sizes; got shapes "
                             f"{_shapes(inputs)}")
        return inputs

    def _check_broadcast(self, inputs):
        """Keras' element-wise shape rule: per axis after the batch axis, sizes equal or 1."""
        rank = max(x.ndim for x in inputs)
        out = []
        for x in inputs:
            shape = tuple(x.shape)[1:]
            shape = (1,) * (rank - 1 - len(shape)) + shape
            for i, n in enumerate(shape):
                if i == len(out):
                    out.append(n)
                elif n != out[i] and 1 not in (n, out[i]):
                    raise ValueError(f"{type(self).__name__}: inputs have incompatible shapes "
                                     f"{_shapes(inputs)}; the sizes of each axis but the batch "
                                     "axis must be equal (or 1)")
                else:
                    out[i] = max(n, out[i])
        # a lower-rank input gets its size-1 axes after the batch axis (Keras' expand_dims(x, 1))
        lifted = []
        for x in inputs:
            for _ in range(rank - x.ndim):
                x = F.expand_dims(x, 1)
            lifted.append(x)
        return lifted

    def call(self, inputs):
        inputs = self._check_list(inputs)
        return self._merge(self._check_broadcast(inputs))

    def _merge(self, inputs):
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        """The OR of the inputs' masks (Keras 3's merge masking); None unless every input has
        one."""
        if mask is None:
            mask = [_masking.mask_of(x) for x in inputs] if isinstance(inputs, (list, tuple)) \
                else None
        if not isinstance(mask, (list, tuple)) or any(m is None for m in mask):
            return None
        return reduce(F.logical_or, [as_input(m) for m in mask])


class Add(_Merge):
    """The element-wise sum of the inputs (same shapes, or broadcastable as Keras)."""

    def _merge(self, inputs):
        return reduce(F.add, inputs)


class Subtract(_Merge):
    """``inputs[0] - inputs[1]``: exactly two inputs."""
    _exact_inputs = 2

    def _merge(self, inputs):
        return F.subtract(inputs[0], inputs[1])


class Multiply(_Merge):
    """The element-wise product of the inputs."""

    def _merge(self, inputs):
        return reduce(F.multiply, inputs)


class Average(_Merge):
    """The element-wise mean of the inputs."""

    def _merge(self, inputs):
        return reduce(F.add, inputs) * (1.0 / len(inputs))


class Maximum(_Merge):
    """The element-wise maximum of the inputs."""

    def _merge(self, inputs):
        return reduce(F.maximum, inputs)


class Minimum(_Merge):
    """The element-wise minimum of the inputs."""

    def _merge(self, inputs):
        return reduce(F.minimum, inputs)


class Concatenate(_Merge):
    """Concatenate the inputs along ``axis`` (default -1, the features / channels); their other
    sizes must be equal."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Concatenate: axis must be an int, got {axis!r}")
        self.axis = axis

    def call(self, inputs):
        inputs = self._check_list(inputs)
        ranks = {x.ndim for x in inputs}
        rank = inputs[0].ndim
        axis = self.axis + rank if self.axis < 0 else self.axis
        ok = len(ranks) == 1 and 0 <= axis < rank
        if ok:
            rest = {tuple(n for i, n in enumerate(x.shape) if i != axis) for x in inputs}
            ok = len(rest) == 1
        if not ok:
            raise ValueError(f"Concatenate(axis={self.axis}): inputs must have one rank and equal "
                             f"sizes on every axis but the concatenation axis; got shapes "
                             f"{_shapes(inputs)}")
        return F.concatenate(inputs, axis=axis)

    def compute_mask(self, inputs, mask=None):
        """Keras': each input's mask (all True when it has none) broadcast to the input,
        concatenated along ``axis``, then ANY over the last axis."""
        if mask is None and isinstance(inputs, (list, tuple)):
            mask = [_masking.mask_of(x) for x in inputs]
        if not isinstance(mask, (list, tuple)) or all(m is None for m in mask):
            return None
        full = []
        for x, m in zip(inputs, mask):
            x = as_input(x)
            if m is None:
                full.append(F.broadcast_to(as_input(True), tuple(x.shape)))
                continue
            m = as_input(m)
            if m.ndim < x.ndim:
                m = F.broadcast_to(F.expand_dims(m, -1), tuple(x.shape))
            full.append(m)
        axis = self.axis + inputs[0].ndim if self.axis < 0 else self.axis
        return F.any(F.concatenate(full, axis=axis), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Keras' ``batch_dot`` of two inputs over ``axes`` (int or pair; counted with the batch
    axis, which cannot be one): (N, X..., d) . (N, d, Y...) -> (N, X..., Y...), and (N, d) .
    (N, d) -> (N, 1).  ``normalize=True`` L2-normalises both inputs along their axes first, so
    the output is the cosine similarity."""
    _exact_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(isinstance(a, int) and not isinstance(a, bool)
                                         for a in axes):
                raise ValueError(f"Dot: axes must be an int or a pair of ints, got {axes!r}")
            axes = list(axes)
        elif isinstance(axes, bool) or not isinstance(axes, int):
            raise TypeError(f"Dot: axes must be an int or a pair of ints, got {axes!r}")
        self.axes = axes
        self.normalize = bool(normalize)

    def call(self, inputs):
        x, y = self._check_list(inputs)
        pair = self.axes if isinstance(self.axes, list) else [self.axes, self.axes]
        a, b = (ax % t.ndim if ax < 0 else ax for ax, t in zip(pair, (x, y)))
        if x.ndim < 2 or y.ndim < 2 or not (0 < a < x.ndim and 0 < b < y.ndim) \
                or x.shape[a] != y.shape[b]:
            raise ValueError(f"Dot(axes={self.axes}): inputs of shapes {_shapes([x, y])} cannot be "
                             "multiplied: expected two inputs of rank >= 2 whose sizes on the dot "
                             "axes (not the batch axis 0) are equal")
        x, y = _as_float(x), _as_float(y)
        if self.normalize:
            x = F.normalize(x, axis=a)
            y = F.normalize(y, axis=b)
        n, d = x.shape[0], x.shape[a]
        xm = F.moveaxis(x, a, -1)                 # (N, X..., d)
        ym = F.moveaxis(y, b, 1)                  # (N, d, Y...)
        xs, ys = tuple(xm.shape[1:-1]), tuple(ym.shape[2:])
        out = F.matmul(F.reshape(xm, (n, -1, d)), F.reshape(ym, (n, d, -1)))
        shape = (n,) + xs + ys
        return F.reshape(out, shape if len(shape) > 1 else (n, 1))

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """``Dot(axes, normalize, **kwargs)(inputs)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
