"""Argument parsing shared by the ops and the layers built on them (``ember.nn``, ``ember.keras``).

    from ember.ops.arguments import int_tuple
    stride = int_tuple(stride, 2, "stride", "ember.conv2d", minimum=1)     # 2 -> (2, 2)
"""
import functools
import inspect

__all__ = ["int_tuple", "axis_or_dim", "torch_names"]


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


def axis_or_dim(axis, dim, default, where):
    """The axis an op works on, given as NumPy's ``axis`` or PyTorch's ``dim`` (one of them; None
    when not given), else ``default``.  ``where`` names the op for the error message."""
    if dim is None:
        return default if axis is None else axis
    if axis is not None and axis != dim:
        raise TypeError(f"{where}: got axis={axis!r} and dim={dim!r}; give one of them "
                        "(dim is PyTorch's name for axis)")
    return dim


def torch_names(fn=None, **renames):
    """Decorator: let an op also take PyTorch's keyword names for NumPy's arguments.

    By default ``dim=`` stands for ``axis=`` and ``keepdim=`` for ``keepdims=`` (each only where the
    function has the NumPy name and does not take the PyTorch one itself); ``renames`` adds more
    as ``torch_name="numpy_name"``.  Giving both names with different values raises TypeError.

        @torch_names
        def sum(x, axis=None, keepdims=False): ...          # sum(x, dim=1, keepdim=True)

        @torch_names(start_dim="start_axis", end_dim="end_axis")
        def flatten(x, start_axis=0, end_axis=-1): ...

    The wrapped function keeps its name, docstring (with a line on the accepted names) and
    signature (``inspect.signature`` follows ``__wrapped__``); ``op.torch_names`` is the table.
    """
    if fn is None:
        return lambda f: torch_names(f, **renames)
    params = inspect.signature(fn).parameters
    table = {t: n for t, n in {"dim": "axis", "keepdim": "keepdims", **renames}.items()
             if n in params and t not in params}
    if not table:
        return fn
    where = f"ember.{fn.__name__}"

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if kwargs:
            for torch_name, numpy_name in table.items():
                if torch_name in kwargs:
                    value = kwargs.pop(torch_name)
                    if numpy_name in kwargs and kwargs[numpy_name] != value:
                        raise TypeError(f"{where}: got {numpy_name}={kwargs[numpy_name]!r} and "
                                        f"{torch_name}={value!r}; give one of them ({torch_name} "
                                        f"is PyTorch's name for {numpy_name})")
                    kwargs[numpy_name] = value
        return fn(*args, **kwargs)

    op.torch_names = dict(table)
    names = ", ".join(f"``{t}`` for ``{n}``" for t, n in table.items())
    op.__doc__ = (fn.__doc__ or "").rstrip() + f"\n\n    PyTorch's names are accepted too: {names}.\n"
    return op

