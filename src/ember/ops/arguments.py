"""Argument parsing shared by the ops and the layers built on them (``ember.nn``, ``ember.keras``).

    from ember.ops.arguments import int_tuple
    stride = int_tuple(stride, 2, "stride", "ember.conv2d", minimum=1)     # 2 -> (2, 2)
"""
__all__ = ["int_tuple"]


def int_tuple(value, n, name, where, minimum=None):
    """``value`` -- an int or a sequence of ``n`` ints (kernel_size, stride, padding, ...) -- as an
    n-tuple of Python ints.

    Args:
        value: an int (repeated n times) or a list/tuple of n ints.  NumPy integers and integral
            floats (2.0) count as ints; booleans and strings do not.
        n: the length of the result (the number of spatial axes).
        name: the argument's name, for the error message.
        where: who is asking, the error message's prefix (``"ember.conv2d"``, ``"Conv2d"``).
        minimum: the smallest allowed entry (1 for sizes and strides, 0 for paddings); None
            (default) allows any.
    Raises TypeError for a value that is not made of numbers, ValueError for a wrong length, a
    non-integral entry or an entry below ``minimum``.
    """
    seq = isinstance(value, (tuple, list))
    vals = tuple(value) if seq else (value,) * n
    if seq and len(vals) != n:
        raise ValueError(f"{where}: {name} must be an int or a sequence of {n} ints, got {value!r}")
    try:
        if any(isinstance(v, (bool, str, bytes)) for v in vals):
            raise TypeError
        out = tuple(int(v) for v in vals)
    except (TypeError, ValueError, OverflowError):     # None, "3", a nested tuple, nan, inf
        raise TypeError(f"{where}: {name} must be an int or a sequence of {n} ints, "
                        f"got {value!r}") from None
    if any(o != v for o, v in zip(out, vals)):
        raise ValueError(f"{where}: {name} must be integers, got {value!r}")
    if minimum is not None and any(o < minimum for o in out):
        bound = "positive integers" if minimum == 1 else f"integers >= {minimum}"
        raise ValueError(f"{where}: {name} must be {bound}, got {value!r}")
    return out
