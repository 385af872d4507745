"""Reading a Hugging Face model folder (no PyTorch, no network).

A folder as ``transformers`` / ``sentence-transformers`` save it holds:

* ``config.json``: the architecture (``model_type``, ``architectures``, sizes);
* ``model.safetensors`` (or shards listed in ``model.safetensors.index.json``): the weights, read
  with ember's own safetensors reader (``ember.serialization.load_file``: validated header, raw
  little-endian bytes, never pickle).  PyTorch's pickled ``pytorch_model.bin`` is refused;
* ``tokenizer.json``: the fast tokenizer, read with the ``tokenizers`` library (optional
  dependency, imported when needed);
* for sentence-transformers models, ``modules.json`` (the pipeline: Transformer, Pooling,
  Normalize), ``1_Pooling/config.json`` (the pooling mode) and ``sentence_bert_config.json``
  (``max_seq_length``).

:func:`load_bert_weights` maps a BERT checkpoint's tensor names onto an ember model's state-dict
names (``bert.`` prefixes, TF-era ``gamma``/``beta``, pretraining heads skipped) and transposes the
``Linear`` weights (ember stores them (in, out), PyTorch (out, in)).

Every problem raises :class:`ModelFolderError` (a :class:`ember.CheckpointError`, hence a
``ValueError``) whose message names the file and what is wrong with it.
"""
import json
import os

from ..nn.layers import Linear
from ..serialization import CheckpointError, load_file

__all__ = ["ModelFolderError", "read_config", "read_weights", "load_tokenizer",
           "read_sentence_config", "weights_path", "bert_canonical_name", "bert_key_map",
           "load_bert_weights"]


class ModelFolderError(CheckpointError):
    """A model folder that cannot be read: the message names the file and the problem."""


def _folder(directory, what):
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        if os.path.exists(directory):
            raise ModelFolderError(f"{what}: {directory} is a file, not a model folder (pass the "
                                   "folder that holds config.json and model.safetensors)")
        raise ModelFolderError(f"{what}: model folder {directory} does not exist")
    return directory


def _missing(path, what, needed_for):
    folder = os.path.dirname(path)
    try:
        present = ", ".join(sorted(os.listdir(folder))) or "nothing"
    except OSError:
        present = "?"
    return ModelFolderError(f"{what}: {path} is missing ({needed_for}); the folder holds: {present}")


def read_json(path, what, needed_for="required"):
    """The parsed JSON object in ``path``; a missing or malformed file raises ModelFolderError."""
    if not os.path.isfile(path):
        raise _missing(path, what, needed_for)
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except json.JSONDecodeError as e:
        raise ModelFolderError(f"{what}: {path} is not valid JSON ({e.msg} at line {e.lineno}, "
                               f"column {e.colno})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ModelFolderError(f"{what}: cannot read {path}: {e}") from None
    return value


def read_config(directory, model_types=None, what="read_config"):
    """``config.json`` of ``directory`` as a dict.

    ``model_types``: accepted values of ``config["model_type"]`` (e.g. ``("bert",)``); a config of
    another architecture raises ModelFolderError naming the file, the architecture found and the
    ones accepted.
    """
    directory = _folder(directory, what)
    path = os.path.join(directory, "config.json")
    config = read_json(path, what, "it describes the architecture")
    if not isinstance(config, dict):
        raise ModelFolderError(f"{what}: {path} must hold a JSON object, got {type(config).__name__}")
    if model_types is not None:
        found = config.get("model_type")
        archs = config.get("architectures") or []
        if found is None and archs:
            # Very old configs lack model_type; recognise the architecture names instead.
            ok = any(str(a).lower().startswith(tuple(t.lower() for t in model_types)) for a in archs)
        else:
            ok = found in model_types
        if not ok:
            arch = f", architectures {archs}" if archs else ""
            raise ModelFolderError(
                f"{what}: {path} describes a model_type {found!r}{arch} model, but this loader "
                f"reads only model_type {' or '.join(repr(t) for t in model_types)}")
    return config


def weights_path(directory, what="read_weights"):
    """The weight file(s) of ``directory``: ``[model.safetensors]`` or the shards of an index."""
    directory = _folder(directory, what)
    single = os.path.join(directory, "model.safetensors")
    if os.path.isfile(single):
        return [single]
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.isfile(index):
        spec = read_json(index, what)
        weight_map = spec.get("weight_map") if isinstance(spec, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise ModelFolderError(f"{what}: {index} has no 'weight_map' object naming the shards")
        shards = []
        for shard in weight_map.values():
            path = os.path.join(directory, str(shard))
            if path not in shards:
                shards.append(path)
        for path in shards:
            if not os.path.isfile(path):
                raise _missing(path, what, f"listed in {os.path.basename(index)}")
        return shards
    pickled = [n for n in ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")
               if os.path.exists(os.path.join(directory, n))]
    if pickled:
        raise ModelFolderError(
            f"{what}: {single} is missing; the folder has only {', '.join(pickled)}, which ember "
            "does not read (pickle / other frameworks). Convert the weights to safetensors first, "
            "e.g. with transformers: model.save_pretrained(folder, safe_serialization=True)")
    raise _missing(single, what, "it holds the weights")


def read_weights(directory, what="read_weights"):
    """``({name: numpy array}, {name: file it came from})`` for every tensor in the folder's
    safetensors file(s).  A corrupt file raises CheckpointError naming it."""
    arrays = {}
    origin = {}
    for path in weights_path(directory, what):
        for name, array in load_file(path).items():
            if name in arrays:
                raise ModelFolderError(f"{what}: tensor {name!r} appears in both {origin[name]} "
                                       f"and {path}")
            arrays[name] = array
            origin[name] = path
    return arrays, origin


def _tokenizers_module(what):
    try:
        import tokenizers
    except ImportError:
        raise ImportError(f"{what} needs the 'tokenizers' package to read tokenizer.json: "
                          "pip install tokenizers") from None
    return tokenizers


def load_tokenizer(directory, max_length=None, pad_id=None, pad_token=None, what="load_tokenizer"):
    """The folder's ``tokenizer.json`` as a ``tokenizers.Tokenizer`` that truncates to
    ``max_length`` tokens (if given) and pads a batch to its longest sequence.

    ``pad_id`` / ``pad_token`` default to the file's padding settings, else ``[PAD]`` and its id.
    A missing file, or one ``tokenizers`` cannot parse, raises ModelFolderError naming it.
    """
    tokenizers = _tokenizers_module(what)
    directory = _folder(directory, what)
    path = os.path.join(directory, "tokenizer.json")
    if not os.path.isfile(path):
        raise _missing(path, what, "sentences cannot be turned into token ids without it")
    try:
        tokenizer = tokenizers.Tokenizer.from_file(path)
    except Exception as e:     # tokenizers raises a bare Exception for a malformed file
        raise ModelFolderError(f"{what}: {path} cannot be read as a tokenizer ({e}); is it a "
                               "tokenizers/transformers 'tokenizer.json'?") from None
    padding = tokenizer.padding or {}
    if pad_token is None:
        pad_token = padding.get("pad_token") or "[PAD]"
    if pad_id is None:
        pad_id = padding.get("pad_id")
        if pad_id is None:
            pad_id = tokenizer.token_to_id(pad_token)
        if pad_id is None:
            pad_id = 0
    if max_length is not None:
        tokenizer.enable_truncation(int(max_length))
    else:
        tokenizer.no_truncation()
    # Pad to the longest sequence of each batch (the file may ask for a fixed length).
    tokenizer.enable_padding(pad_id=int(pad_id), pad_token=pad_token)
    return tokenizer


_POOLING_KEYS = {             # sentence-transformers' keys, in the order it concatenates them
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_weightedmean_tokens": "weighted_mean",
    "pooling_mode_lasttoken": "last_token",
}


def read_sentence_config(directory, what="read_sentence_config"):
    """How sentence-transformers turns the folder's model into sentence embeddings.

    Returns ``{"pooling": [modes...], "normalize": bool, "max_seq_length": int or None,
    "do_lower_case": bool}``.  Modes are ``cls``, ``max``, ``mean``, ``mean_sqrt_len``,
    ``weighted_mean``, ``last_token`` (concatenated in that order when several are on).  A folder
    without ``modules.json`` gets sentence-transformers' default: mean pooling, no normalisation.
    """
    directory = _folder(directory, what)
    out = {"pooling": ["mean"], "normalize": False, "max_seq_length": None, "do_lower_case": False}
    st_config = os.path.join(directory, "sentence_bert_config.json")
    if os.path.isfile(st_config):
        cfg = read_json(st_config, what)
        if isinstance(cfg, dict):
            if cfg.get("max_seq_length") is not None:
                out["max_seq_length"] = int(cfg["max_seq_length"])
            out["do_lower_case"] = bool(cfg.get("do_lower_case", False))
    modules_path = os.path.join(directory, "modules.json")
    if not os.path.isfile(modules_path):
        return out
    modules = read_json(modules_path, what)
    if not isinstance(modules, list):
        raise ModelFolderError(f"{what}: {modules_path} must hold a JSON list of modules")
    for m in modules:
        kind = str(m.get("type", "")) if isinstance(m, dict) else ""
        short = kind.rsplit(".", 1)[-1]
        if short == "Normalize":
            out["normalize"] = True
        elif short == "Pooling":
            pool_path = os.path.join(directory, str(m.get("path", "")), "config.json")
            cfg = read_json(pool_path, what, "modules.json lists a Pooling module")
            modes = [mode for key, mode in _POOLING_KEYS.items() if cfg.get(key)]
            if not modes and cfg.get("pooling_mode") in _POOLING_KEYS.values():
                modes = [cfg["pooling_mode"]]
            if not modes:
                raise ModelFolderError(f"{what}: {pool_path} enables no pooling mode I know "
                                       f"(expected one of {', '.join(_POOLING_KEYS)} set to true)")
            out["pooling"] = modes
        elif short in ("Transformer", ""):
            continue
        else:
            raise ModelFolderError(f"{what}: {modules_path} lists a {kind!r} module, which ember "
                                   "does not implement (known: Transformer, Pooling, Normalize)")
    return out


# ================================================================================================
# BERT weights: Hugging Face tensor names -> ember state-dict names
# ================================================================================================
# Tensors a BERT checkpoint may hold that are not weights of the model being loaded: buffers, and
# the heads of pretraining (masked LM / next sentence) and of downstream tasks; they are skipped
# unless the model has them (BertForSequenceClassification loads "classifier.*").
_BERT_NOT_WEIGHTS = ("embeddings.position_ids", "embeddings.token_type_ids")
_BERT_OTHER_HEADS = ("cls.", "classifier.", "qa_outputs.")


def _linear_weight_names(model):
    return {f"{name}.weight" if name else "weight"
            for name, m in model.named_modules() if isinstance(m, Linear)}


def bert_canonical_name(name):
    """``name`` with TF-era LayerNorm names (``.gamma`` / ``.beta``) as ``.weight`` / ``.bias``."""
    if name.endswith(".gamma"):
        return name[:-6] + ".weight"
    if name.endswith(".beta"):
        return name[:-5] + ".bias"
    return name


def bert_key_map(arrays, prefix=""):
    """``{our state-dict name: file tensor name}`` for the tensors of a BERT checkpoint.

    ``prefix`` is what our names start with (``""`` for BertModel, ``"bert."`` inside the
    classifier); the file may or may not use a ``bert.`` prefix.  Head tensors (``cls.``,
    ``classifier.``, ``qa_outputs.``) are never prefixed.
    """
    out = {}
    for name in arrays:
        canon = bert_canonical_name(name)
        if canon.startswith("bert."):
            canon = canon[5:]
        out[canon if canon.startswith(_BERT_OTHER_HEADS) else prefix + canon] = name
    return out


def load_bert_weights(model, arrays, origin, where, prefix="", optional=(),
                      config_path="config.json"):
    """Copy the Hugging Face BERT ``arrays`` into ``model`` (transposing Linear weights).

    ``origin`` maps each file tensor name to the file it came from (as :func:`read_weights`
    returns).  Unknown and missing names raise one ModelFolderError listing them all; a tensor
    whose shape disagrees with the config raises an error naming it, both shapes and its file.
    Names in ``optional`` (our names) may be missing.  Returns the file names that were ignored
    (pretraining heads, buffers).
    """
    own = model.state_dict()
    linear = _linear_weight_names(model)
    by_ours = bert_key_map(arrays, prefix)
    ignored = [f for o, f in by_ours.items() if o not in own and
               (o[len(prefix):] in _BERT_NOT_WEIGHTS or o.startswith(_BERT_OTHER_HEADS))]
    unexpected = sorted(f for o, f in by_ours.items() if o not in own and f not in ignored)
    missing = sorted(k for k in own if k not in by_ours and k not in optional)
    files = sorted(set(origin.values()))
    if unexpected or missing:
        lines = [f"{where}: the weights in {', '.join(files)} do not match the BERT model that "
                 f"{config_path} describes:"]
        if missing:
            lines.append(f"  missing ({len(missing)}): {', '.join(missing)}")
        if unexpected:
            lines.append(f"  unknown ({len(unexpected)}): {', '.join(unexpected)}")
        raise ModelFolderError("\n".join(lines))
    wrong = []
    for ours, t in own.items():
        if ours not in by_ours:
            continue
        fname = by_ours[ours]
        arr = arrays[fname]
        need = tuple(t.shape)[::-1] if ours in linear else tuple(t.shape)
        if tuple(arr.shape) != need:
            wrong.append(f"{fname}: shape {tuple(arr.shape)} in {origin[fname]}, but the config "
                         f"needs {need}")
        elif arr.dtype.kind != "f":
            wrong.append(f"{fname}: dtype {arr.dtype} in {origin[fname]}, expected floating point")
    if wrong:
        raise ModelFolderError(f"{where}: weights disagree with {config_path}:\n  " +
                               "\n  ".join(wrong))
    for ours, t in own.items():
        if ours in by_ours:
            arr = arrays[by_ours[ours]]
            t.data[...] = arr.T if ours in linear else arr
    return ignored
