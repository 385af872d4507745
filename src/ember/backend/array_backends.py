"""Which array module holds an array, and how arrays move between devices.

An :class:`ArrayBackend` describes one device type: its array module (NumPy for ``'cpu'``, CuPy
for ``'cuda'``), the array types it owns, and how arrays go to and from the host.  The NumPy
backend is always there; any other is *registered* when first needed (CuPy is imported only when
a ``'cuda'`` device is asked for -- see ``cupy_backend.py``).  Tests register a fake second
backend through the same :func:`register` to exercise the multi-device paths without a GPU.

Cost on the CPU hot path: while NumPy is the only backend (``single_backend()``), every function
here answers from a module flag without looking at the arrays, and code on higher floors that
must check devices per op (``ember.ops._base``) subscribes with :func:`on_backends_changed` and
keeps its own flag, so a CPU-only process pays one falsy global test per binary op.
"""
import numpy

from .device import CPU, Device, DeviceError

__all__ = ["ArrayBackend", "NumpyBackend", "DeviceUnavailableError", "DeviceMismatchError",
           "check_same_device", "register", "unregister",
           "backend_for", "backend_of", "get_array_module", "device_of", "to_device", "to_host",
           "single_backend", "on_backends_changed", "loaded_backends", "is_available"]


class DeviceUnavailableError(RuntimeError):
    """A known device type that cannot be used in this process (no CuPy, no GPU, ...)."""


class DeviceMismatchError(RuntimeError):
    """One op got arrays on two different devices."""


class ArrayBackend:
    """One device type: its array module and its host transfers.  Subclasses fill these in.

    Attributes: ``device_type`` (``'cpu'``, ``'cuda'``), ``module`` (the NumPy-like module whose
    functions create and compute on these arrays), ``array_types`` (tuple of types owned).
    """

    device_type = None
    module = None
    array_types = ()

    def device_of(self, array):
        """The :class:`Device` that holds ``array`` (with its index for multi-device types)."""
        raise NotImplementedError

    def current_index(self):
        """The device index that ``Device(type)`` without an index means (the current device)."""
        return 0

    def device_count(self):
        return 1

    def from_host(self, host_array, index):
        """A new array on device ``index`` holding a copy of NumPy ``host_array``."""
        raise NotImplementedError

    def to_host(self, array):
        """A NumPy array with ``array``'s values (a copy: the data lives elsewhere)."""
        raise NotImplementedError

    def move(self, array, index):
        """``array`` (of this backend) copied to this backend's device ``index``."""
        return self.from_host(self.to_host(array), index)

    def full(self, shape, fill_value, dtype, index):
        """A new array of ``shape`` filled with ``fill_value``, made on device ``index``."""
        return self.from_host(numpy.full(shape, fill_value, dtype=dtype), index)

    # -- device-wide services (ember.cuda) -----------------------------------------------------------
    def synchronize(self, index):
        """Wait until all work queued on device ``index`` has finished."""

    def memory_allocated(self, index):
        return 0

    def max_memory_allocated(self, index):
        return 0

    def memory_reserved(self, index):
        return 0

    def reset_peak_memory_stats(self, index):
        pass


class NumpyBackend(ArrayBackend):
    """The host: NumPy arrays (and NumPy scalars, which some reductions return)."""

    device_type = "cpu"
    module = numpy
    array_types = (numpy.ndarray, numpy.generic)

    def device_of(self, array):
        return CPU

    def from_host(self, host_array, index):
        return numpy.array(host_array, copy=True)

    def to_host(self, array):
        return numpy.asarray(array)

    def move(self, array, index):
        return array

    def full(self, shape, fill_value, dtype, index):
        return numpy.full(shape, fill_value, dtype=dtype)


_NUMPY = NumpyBackend()
_others = {}          # device type -> registered non-CPU backend
_single = True        # True while NumPy is the only backend (the fast path everywhere)
_listeners = []       # callables(single: bool), told when the set of backends changes
_loaders = {}         # device type -> callable returning an ArrayBackend (or raising)


def _notify():
    for fn in list(_listeners):
        fn(_single)


def on_backends_changed(fn):
    """Call ``fn(single)`` now and whenever a backend is registered or removed; ``single`` is True
    while NumPy is the only one.  For per-op code that wants a local flag instead of a call."""
    _listeners.append(fn)
    fn(_single)
    return fn


def register(backend):
    """Make ``backend`` the one for its ``device_type`` (replacing a previous one)."""
    global _single
    if backend.device_type == "cpu":
        raise ValueError("ember.backend.register: the 'cpu' backend is NumPy and cannot be replaced")
    _others[backend.device_type] = backend
    _single = False
    _notify()
    return backend


def unregister(device_type):
    """Remove the backend of ``device_type`` (arrays it made become unknown to ember)."""
    global _single
    _others.pop(device_type, None)
    _single = not _others
    _notify()


def set_loader(device_type, loader):
    """``loader()`` builds the backend of ``device_type`` on first use (or raises
    :class:`DeviceUnavailableError` saying what is missing)."""
    _loaders[device_type] = loader


def loaded_backends():
    """``{device type: backend}`` of the backends in use now (always includes ``'cpu'``)."""
    return {"cpu": _NUMPY, **_others}


def single_backend():
    """True while NumPy is the only array backend in this process."""
    return _single


def backend_for(device):
    """The backend of ``device`` (a Device or a name), loading it on first use.

    Raises :class:`~ember.backend.device.DeviceError` for unknown names and
    :class:`DeviceUnavailableError` (naming what is missing) when it cannot be used here.
    """
    dev = device if isinstance(device, Device) else Device(device)
    kind = dev.type
    if kind == "cpu":
        return _NUMPY
    backend = _others.get(kind)
    if backend is None:
        loader = _loaders.get(kind)
        if loader is None:
            raise DeviceUnavailableError(f"ember: no backend for device type {kind!r} in this build")
        backend = register(loader())
    if dev.index is not None and dev.index >= backend.device_count():
        raise DeviceUnavailableError(
            f"ember: device {str(dev)!r} does not exist here: {backend.device_count()} {kind} "
            f"device(s) visible (valid indices 0..{backend.device_count() - 1})")
    return backend


def is_available(device_type):
    """True when ``device_type`` can be used here (loads its backend if needed; never raises)."""
    try:
        backend_for(device_type)
    except (DeviceUnavailableError, DeviceError):
        return False
    return True


def backend_of(array):
    """The backend owning ``array`` (NumPy for NumPy arrays, scalars and anything unknown)."""
    if _single:
        return _NUMPY
    for backend in _others.values():
        if isinstance(array, backend.array_types):
            return backend
    return _NUMPY


def get_array_module(*arrays):
    """The array module to compute on ``arrays`` with: NumPy, or e.g. CuPy when any of them is a
    CuPy array (as ``cupy.get_array_module``).  Free while NumPy is the only backend."""
    if _single:
        return numpy
    for a in arrays:
        backend = backend_of(a)
        if backend is not _NUMPY:
            return backend.module
    return numpy


def device_of(array):
    """The :class:`Device` holding ``array`` (``CPU`` for NumPy arrays and scalars)."""
    if _single:
        return CPU
    return backend_of(array).device_of(array)


def _resolve(backend, dev):
    return backend.current_index() if dev.index is None else dev.index


def to_device(array, device):
    """``array`` on ``device``: the same object when it is already there, else a copy."""
    dev = device if isinstance(device, Device) else Device(device)
    target = backend_for(dev)
    source = backend_of(array)
    if target is _NUMPY:
        return array if source is _NUMPY else source.to_host(array)
    index = _resolve(target, dev)
    if source is target:
        return array if source.device_of(array).index == index else target.move(array, index)
    host = array if source is _NUMPY else source.to_host(array)
    return target.from_host(host, index)


def full(shape, fill_value, dtype, device):
    """A new array of ``shape`` filled with ``fill_value`` on ``device`` (made there, not copied)."""
    dev = device if isinstance(device, Device) else Device(device)
    backend = backend_for(dev)
    return backend.full(shape, fill_value, dtype, _resolve(backend, dev))


def to_host(array):
    """``array`` as a NumPy array: no copy for NumPy arrays, a device-to-host copy otherwise."""
    if _single:
        return numpy.asarray(array)
    return backend_of(array).to_host(array)


def check_same_device(op, *arrays, names=None):
    """Raise :class:`DeviceMismatchError` naming both devices when ``arrays`` (arrays, or None to
    skip) do not all live on one device.  Free while NumPy is the only backend."""
    if _single:
        return
    first = first_name = None
    for i, a in enumerate(arrays):
        if a is None:
            continue
        dev = backend_of(a).device_of(a)
        name = names[i] if names is not None else f"input {i}"
        if first is None:
            first, first_name = dev, name
        elif dev != first:
            raise DeviceMismatchError(
                f"ember.{op}: expected all tensors on one device, but {first_name} is on {first} "
                f"and {name} is on {dev}; move one of them first, e.g. x.to('{first}')")
