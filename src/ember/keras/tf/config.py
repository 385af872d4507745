"""``tf.config``: the device queries and settings programs make before they start.

``list_physical_devices('GPU')`` lists the GPUs ember can use (CuPy's; [] on a CPU-only
machine), ``list_physical_devices('CPU')`` the host; the memory-growth, visible-device and
eager-execution settings are accepted and do nothing (ember allocates on demand through its
backend and always runs eagerly).
"""
import collections

from ... import cuda
from ._base import missing_name

__all__ = ["PhysicalDevice", "list_physical_devices", "list_logical_devices",
           "get_visible_devices", "set_visible_devices", "run_functions_eagerly",
           "functions_run_eagerly", "set_soft_device_placement", "experimental"]

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])


def list_physical_devices(device_type=None):
    """The devices of ``device_type`` ('CPU', 'GPU'; None: all) as ``PhysicalDevice``
    (name, device_type) tuples, named as TensorFlow names them."""
    kind = None if device_type is None else str(device_type).upper()
    if kind not in (None, "CPU", "GPU"):
        return []
    out = []
    if kind in (None, "CPU"):
        out.append(PhysicalDevice("/physical_device:CPU:0", "CPU"))
    if kind in (None, "GPU"):
        out += [PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(cuda.device_count())]
    return out


def list_logical_devices(device_type=None):
    return [PhysicalDevice(d.name.replace("/physical_device:", "/device:"), d.device_type)
            for d in list_physical_devices(device_type)]


get_visible_devices = list_physical_devices


def set_visible_devices(devices, device_type=None):
    """Accepted and ignored (choose ember's device with ``ember.device`` / ``.to('cuda')``)."""


def run_functions_eagerly(run_eagerly):
    """Accepted and ignored: ember always runs eagerly."""


def functions_run_eagerly():
    return True


def set_soft_device_placement(enabled):
    """Accepted and ignored."""


def _set_memory_growth(device, enable):
    """Accepted and ignored: ember's GPU memory comes from CuPy's pool as needed."""


def _get_memory_growth(device):
    return True


experimental = type("experimental", (), {
    "__doc__": "``tf.config.experimental``: memory growth (a no-op) and device lists.",
    "set_memory_growth": staticmethod(_set_memory_growth),
    "get_memory_growth": staticmethod(_get_memory_growth),
    "list_physical_devices": staticmethod(list_physical_devices),
    "list_logical_devices": staticmethod(list_logical_devices),
    "set_visible_devices": staticmethod(set_visible_devices),
    "get_visible_devices": staticmethod(get_visible_devices),
})


def __getattr__(name):
    raise missing_name("ember.keras.tf.config", name, __all__)
