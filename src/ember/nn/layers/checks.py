"""Input checks shared by the channels-last layers of ``ember.nn`` and ``ember.keras``."""
from ._utils import shape_str

__all__ = ["check_channels_last"]


def check_channels_last(shape, name, ndims, layout, channels, channels_name, label,
                        spatial=None):
    """Raise a ValueError naming the layer unless ``shape`` is a channels-last input it accepts.

    ndims: the accepted numbers of axes; layout: how the accepted shapes read, e.g.
    ``"(N, H, W, C)"``; channels: the channels the layer was built for (None: not built yet), called
    ``channels_name`` in the message; label: the layer as the message shows it, e.g.
    ``"Conv2d(1, 32, ...)"``.  ``spatial`` (convolutions: 1 or 2) adds the usual fixes: a batch
    axis for a single example, and the transpose for a channels-first input."""
    shape = tuple(shape)
    if len(shape) not in ndims:
        what = f"a {ndims[0]}-D input" if spatial is not None else "an input"
        hint = (" (add a batch axis for a single example: x[None])"
                if spatial is not None and len(shape) == ndims[0] - 1 else "")
        raise ValueError(f"{name} expects {what} of shape {layout} (channels last), got a "
                         f"{len(shape)}-D input of shape {shape_str(shape)}{hint}")
    if channels is not None and shape[-1] != channels:
        if spatial is None:
            hint = " (ember is channels-last)"
        elif shape[1] == channels:
            perm = "(0, 2, 1)" if spatial == 1 else "(0, 2, 3, 1)"
            hint = (f"; the input looks channels-first: ember is channels-last {layout}, "
                    f"transpose it with x.permute{perm}")
        else:
            hint = ""
        raise ValueError(f"{label} got input of shape {shape_str(shape)} with {shape[-1]} channels "
                         f"on the last axis, but {channels_name} is {channels}{hint}")
