"""A gradient that is zero except at some indices, as indexing's backward returns it.

``x[i]`` sends back a gradient of x's shape that is ``g`` at the indexed positions and zero
elsewhere.  Materialised, each of the T pieces of ``x.unbind(1)`` or of a loop over ``x[:, t]``
costs a zero array the size of x, and summing the T of them costs T more passes over it.  An
:class:`IndexedGrad` keeps only the index and the values: the engine writes them into the
gradient it is summing (or into a leaf's ``.grad``) in place, so the pieces cost their own size.
"""
import math

from ..backend import xp

__all__ = ["IndexedGrad", "dense", "own", "add_in_place"]


class IndexedGrad:
    """The gradient of shape ``shape`` that is ``values`` at ``index`` (scatter-added: repeated
    advanced indices accumulate) and zero elsewhere.  ``unique``: ``index`` never repeats an
    element (basic indices -- slices, integers, None, Ellipsis -- never do), so plain indexed
    assignment and ``+=`` are exact."""

    __slots__ = ("shape", "dtype", "index", "values", "unique")

    def __init__(self, shape, index, values, unique):
        self.shape, self.dtype = tuple(shape), values.dtype
        self.index, self.values, self.unique = index, values, unique

    @property
    def size(self):
        return math.prod(self.shape)

    def astype(self, dtype):
        return IndexedGrad(self.shape, self.index, self.values.astype(dtype), self.unique)

    def reshape(self, shape):
        return dense(self).reshape(shape)

    def add_into(self, array):
        """``array`` (of this shape) += this gradient, in place."""
        if self.unique:
            array[self.index] += self.values
        else:
            xp.add.at(array, self.index, self.values)
        return array

    def write_into(self, array):
        """``array`` (of this shape) = this gradient, in place (a -0.0 value stays -0.0)."""
        array[...] = 0
        return self._fill(array)

    def _fill(self, zeros):
        if self.unique:
            zeros[self.index] = self.values
        else:
            xp.add.at(zeros, self.index, self.values)
        return zeros


def dense(g):
    """``g`` as an array (a new one for an :class:`IndexedGrad`; an array is returned as is)."""
    if isinstance(g, IndexedGrad):
        return g._fill(xp.zeros(g.shape, dtype=g.dtype))
    return g


def own(g, owned=False):
    """An array of ``g``'s values that the caller may add into in place: ``g`` itself when
    ``owned`` (nothing else refers to it), else a new one."""
    if isinstance(g, IndexedGrad):
        return dense(g)
    return g if owned else g.copy()


def add_in_place(array, g):
    """``array += g`` for an array or an :class:`IndexedGrad` ``g`` of ``array``'s shape."""
    if isinstance(g, IndexedGrad):
        return g.add_into(array)
    array += g
    return array

