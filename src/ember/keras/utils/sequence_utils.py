"""``pad_sequences``: Keras' padding / truncation of variable-length sequences into one array."""
import numpy as np

__all__ = ["pad_sequences"]


def _check_mode(name, mode):
    if mode not in ("pre", "post"):
        raise ValueError(f"pad_sequences: {name}={mode!r} is not understood; use 'pre' or 'post'")


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pad (or truncate) sequences to one length: Keras' ``keras.utils.pad_sequences``.

    Args:
        sequences: N sequences (lists or arrays) of length ``L_i``; each element may itself be an
            array of shape ``S`` (all the same; taken from the first non-empty sequence).
        maxlen: the output length; default the longest sequence.
        dtype: the output dtype (``object`` or a string dtype for string values).
        padding: ``'pre'`` pads at the start, ``'post'`` at the end.
        truncating: ``'pre'`` drops the start of longer sequences, ``'post'`` their end.
        value: the padding value.

    Returns:
        An array of shape ``(N, maxlen) + S`` and dtype ``dtype``.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"pad_sequences: sequences must be a list of sequences, got "
                         f"{type(sequences).__name__}")
    _check_mode("padding", padding)
    _check_mode("truncating", truncating)
    lengths = []
    for i, s in enumerate(sequences):
        try:
            lengths.append(len(s))
        except TypeError:
            raise ValueError(f"pad_sequences: sequences[{i}] = {s!r} is not a sequence; pass a "
                             "list of lists (or arrays)") from None
    lengths = np.asarray(lengths, dtype=np.int64)
    is_text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_text:
        raise ValueError(f"pad_sequences: value={value!r} is a string but dtype={dtype!r}; use "
                         "dtype=object for variable-length strings")
    if maxlen is None:
        maxlen = int(lengths.max()) if lengths.size else 0
    keep = np.minimum(lengths, maxlen)
    parts = [np.asarray(s[-k:] if truncating == "pre" else s[:k], dtype=dtype)
             for s, k in zip(sequences, keep.tolist()) if k]
    sample_shape = parts[0].shape[1:] if parts else ()
    for i, part in zip(np.flatnonzero(keep), parts):
        if part.shape[1:] != sample_shape:
            raise ValueError(f"pad_sequences: sequences[{i}] has elements of shape "
                             f"{part.shape[1:]} but the first non-empty sequence's are "
                             f"{sample_shape}; every element must have the same shape")
    out = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    if parts:
        # One scatter for all rows: element j of row i's kept part goes to column j (post) or
        # maxlen - keep_i + j (pre).
        flat = np.concatenate(parts)
        rows = np.repeat(np.arange(len(lengths)), keep)
        within = np.arange(len(flat)) - np.repeat(np.cumsum(keep) - keep, keep)
        columns = within if padding == "post" else within + np.repeat(maxlen - keep, keep)
        out[rows, columns] = flat
    return out
