"""Device names: ``ember.device("cpu")``, ``ember.device("cuda")``, ``ember.device("cuda:1")``.

A :class:`Device` is a small immutable value (a type and an optional index), as ``torch.device``.
It lives on the backend floor because the tensor floor needs it, and it is only a *name*:
parsing a device never imports CuPy nor checks that a GPU exists (``ember.backend.backend_for``
does that, when an array is actually placed there).

There is deliberately no ``ember/device.py`` module: ``ember.device`` is this class, and a
submodule of that name would replace it as an attribute of the ``ember`` package on first import.
"""

__all__ = ["Device", "DeviceError", "CPU"]

#: Device types ember knows.  Only these names parse; whether one can be used here is decided when
#: an array is placed on it.
DEVICE_TYPES = ("cpu", "cuda")


class DeviceError(ValueError):
    """A device string or object that ember does not know (``'gpu'``, ``'cuda:x'``, ...)."""


def _unknown(spec):
    return DeviceError(
        f"ember.device: unknown device {spec!r}; expected 'cpu', 'cuda' or 'cuda:N' with N the GPU "
        "number (e.g. 'cuda:0'), or an ember.device")


class Device:
    """Where a tensor's data lives: ``type`` (``'cpu'`` or ``'cuda'``) and ``index``.

    ``Device("cpu")``, ``Device("cuda")`` (the current GPU: ``index`` None), ``Device("cuda:1")``,
    ``Device("cuda", 1)``, or ``Device(other_device)``.  ``'cpu:0'`` is the same as ``'cpu'`` (there
    is one host).  ``str(d)`` gives the canonical name (``'cpu'``, ``'cuda'``, ``'cuda:0'``).

    Unlike ``torch.device``, a Device compares equal to its canonical name, so
    ``tensor.device == "cpu"`` is True (and hashes like it, so it can key the same dict).
    ``Device("cuda") != Device("cuda:0")``, as in PyTorch: the first means "the current GPU".
    """

    __slots__ = ("type", "index")

    def __new__(cls, spec, index=None):
        if isinstance(spec, Device):
            if index is None or index == spec.index:
                return spec
            spec = spec.type
        if isinstance(spec, bool) or not isinstance(spec, (str, int)):
            raise DeviceError(f"ember.device: expected a device name such as 'cpu' or 'cuda:0' (a str), "
                              f"got {type(spec).__name__} {spec!r}")
        if isinstance(spec, int):                    # torch.device(1) means cuda:1
            spec, index = "cuda", spec if index is None else index
        kind, sep, number = spec.partition(":")
        if kind not in DEVICE_TYPES:
            raise _unknown(spec)
        if sep:
            if index is not None:
                raise DeviceError(f"ember.device: {spec!r} already names an index; do not pass "
                                  f"index={index!r} as well")
            if not number.isdigit() or not number.isascii():
                raise _unknown(spec)
            index = int(number)
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise DeviceError(f"ember.device: the device index must be an int >= 0, got {index!r}")
        if kind == "cpu":
            if index not in (None, 0):
                raise DeviceError(f"ember.device: there is one CPU device ('cpu'); got index {index}")
            index = None
        self = object.__new__(cls)
        # object.__setattr__, not ``self.type = ...``: this class's __setattr__ refuses every
        # assignment (a Device is immutable), so the slots are filled past it, here only.
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "index", index)
        return self

    def __setattr__(self, name, value):
        raise AttributeError("ember.device objects are immutable")

    def __reduce__(self):
        return (Device, (self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type={self.type!r})"
        return f"device(type={self.type!r}, index={self.index})"

    def __eq__(self, other):
        if isinstance(other, Device):
            return self.type == other.type and self.index == other.index
        if isinstance(other, str):
            try:
                other = Device(other)
            except DeviceError:
                return False
            return self.type == other.type and self.index == other.index
        return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash(str(self))


#: The host.
CPU = Device("cpu")
