"""The data of ember's GPT trainer: the text, its train/validation split, the tokenizer, and the
batches (nanoGPT's ``get_batch`` on generators of their own); re-exported by
:mod:`ember.models.gpt_trainer`, where the module docstring describes them."""
import hashlib
import os

import numpy as np

from ..text import ByteLevelBPETokenizer, CharTokenizer, tokenizer_from_json


def _read_text(text_path):
    path = os.fspath(text_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"train_gpt: text file {path!r} does not exist")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise ValueError(f"train_gpt: {path!r} is not UTF-8 text ({e}); convert it to UTF-8 "
                         "first (e.g. iconv -t UTF-8)") from None
    if not text:
        raise ValueError(f"train_gpt: the corpus {path!r} is empty; give a text file with at "
                         "least a few thousand characters")
    return text


def _text_digest(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _split_text(text, val_fraction):
    n = int(len(text) * (1.0 - val_fraction))
    return text[:n], text[n:]


def _build_tokenizer(config, train_text, full_text):
    if config.tokenizer == "char":
        return CharTokenizer.from_text(full_text)
    return ByteLevelBPETokenizer().train(train_text, vocab_size=config.bpe_vocab_size)


def _encode_split(tokenizer, text):
    dtype = np.uint16 if tokenizer.vocab_size <= 1 << 16 else np.int32
    return tokenizer.encode_to_numpy(text, dtype=dtype)


def _check_split_length(name, tokens, config, text_path):
    if len(tokens) <= config.block_size:
        raise ValueError(
            f"train_gpt: the corpus {os.fspath(text_path)!r} is shorter than one block: its "
            f"{name} split has {len(tokens)} tokens but block_size={config.block_size} needs at "
            f"least {config.block_size + 1} (a block of inputs plus the next token); use a longer "
            "text, a smaller block_size (--block-size)"
            + (", or a larger val_fraction" if name == "validation" else ""))


def _load_data(config, text_path, checkpoint, last_path):
    """``(tokenizer, train_tokens, val_tokens, digest)`` of the text (all checks before any
    training work); a resumed run takes the checkpoint's tokenizer and must have its text."""
    text = _read_text(text_path)
    digest = _text_digest(text)
    train_text, val_text = _split_text(text, config.val_fraction)
    if checkpoint is not None:
        if checkpoint["data"]["text_sha256"] != digest:
            raise ValueError(f"train_gpt: {os.fspath(text_path)!r} is not the text the checkpoint "
                             f"{last_path} was trained on (its SHA-256 differs); resume needs the "
                             "same corpus")
        tokenizer = tokenizer_from_json(checkpoint["tokenizer"])
    else:
        # Cheap early checks before a BPE tokenizer is trained on a hopeless corpus.
        _check_split_length("training", train_text, config, text_path)
        _check_split_length("validation", val_text, config, text_path)
        tokenizer = _build_tokenizer(config, train_text, text)
    train_tokens = _encode_split(tokenizer, train_text)
    val_tokens = _encode_split(tokenizer, val_text)
    _check_split_length("training", train_tokens, config, text_path)
    _check_split_length("validation", val_tokens, config, text_path)
    return tokenizer, train_tokens, val_tokens, digest


def get_batch(tokens, rng, batch_size, block_size):
    """nanoGPT's ``get_batch``: ``batch_size`` windows of ``tokens`` at random offsets.

    Offsets are drawn from ``rng.integers(0, len(tokens) - block_size, size=batch_size)``.
    Returns ``(inputs, targets)``, C-contiguous int64 arrays of shape ``(batch_size, block_size)``;
    the targets are the inputs shifted one token to the left.
    """
    offsets = rng.integers(0, len(tokens) - block_size, size=batch_size)
    positions = offsets[:, None] + np.arange(block_size)
    # Two gathers give two C-contiguous arrays (slices of one window array would not be).
    return tokens[positions].astype(np.int64), tokens[positions + 1].astype(np.int64)


def batch_generator(seed):
    """The generator of the training batches: a stream independent of ``ember.manual_seed(seed)``'s
    (which draws the initial weights) and of the evaluation batches' streams."""
    # [seed, 3]: not [seed, 0], whose SeedSequence equals plain ``seed``'s (trailing zero words
    # do not change it); 1 and 2 are the evaluation streams.
    return np.random.default_rng([int(seed), 3])


def _eval_generator(seed, split):
    return np.random.default_rng([int(seed), 2 if split == "val" else 1])
