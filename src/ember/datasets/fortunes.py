"""Fortune-cookie texts by category (Debian package ``fortunes``) as a text-classification task.

Each category is a file in ``/usr/share/games/fortunes/`` whose entries are separated by lines
holding ``%``.  Entries are cleaned (terminal overstrike sequences such as ``_\\bx`` resolved,
whitespace runs collapsed to one space), empty ones dropped, duplicates within a category kept
once, and texts that appear in more than one category dropped (their label is ambiguous).

The train/test split is a pure function of each text: the first 8 bytes of its SHA-1 as a number
in [0, 1) below ``test_fraction`` means test.  It does not depend on Python's randomised
``hash``, on the order of categories, or on which other categories are loaded.
"""
import hashlib
import re
from pathlib import Path

import numpy as np

__all__ = ["load_data", "DEFAULT_CATEGORIES", "DEFAULT_PATH", "read_fortune_file", "is_test_text"]

DEFAULT_CATEGORIES = ("computers", "politics", "science", "songs-poems", "law", "food", "startrek",
                      "sports")
DEFAULT_PATH = "/usr/share/games/fortunes"

_SEPARATOR = re.compile(r"^%[ \t]*\r?$", flags=re.MULTILINE)
_OVERSTRIKE = re.compile(r"[^\x08\n]\x08")   # "x\by": the terminal prints y over x


def _clean(entry):
    while "\x08" in entry:
        cleaned = _OVERSTRIKE.sub("", entry)
        if cleaned == entry:   # a backspace with nothing before it on its line
            cleaned = entry.replace("\x08", "")
        entry = cleaned
    return " ".join(entry.split())


def read_fortune_file(path):
    """The cleaned, non-empty entries of one fortune file, in order, without duplicates."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    entries = (_clean(part) for part in _SEPARATOR.split(text))
    return list(dict.fromkeys(e for e in entries if e))   # ordered de-duplication


def is_test_text(text, test_fraction):
    """True when ``text`` belongs to the test part (SHA-1 based, the same on every machine)."""
    digest = hashlib.sha1(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < test_fraction


def _available(directory):
    return sorted(p.name for p in directory.iterdir()
                  if p.is_file() and not p.name.endswith((".dat", ".u8")))


def load_data(categories=DEFAULT_CATEGORIES, path=DEFAULT_PATH, test_fraction=0.2):
    """Load fortunes as ``((texts_train, labels_train), (texts_test, labels_test), class_names)``.

    Args:
        categories: fortune file names to use as classes (label ``i`` is ``categories[i]``).
        path: the directory of fortune files.
        test_fraction: the share of texts (by SHA-1 of the text) put in the test part.

    Texts are lists of str; labels are int64 arrays; ``class_names`` is the list of categories.
    """
    categories = [categories] if isinstance(categories, str) else list(categories)
    if not categories or any(not isinstance(c, str) or not c for c in categories):
        raise ValueError(f"fortunes.load_data: categories must be non-empty names, got {categories!r}")
    if len(set(categories)) != len(categories):
        raise ValueError(f"fortunes.load_data: categories must be distinct, got {categories!r}")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"fortunes.load_data: test_fraction must lie in [0, 1), got {test_fraction!r}")
    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"fortunes.load_data: no fortune files at {directory}; install the Debian package "
            "with `apt-get install -y fortunes`, or pass path= the directory holding them")
    missing = [c for c in categories if not (directory / c).is_file()]
    if missing:
        raise FileNotFoundError(f"fortunes.load_data: no category file {', '.join(missing)} in "
                                f"{directory}; available: {', '.join(_available(directory))}")
    per_category = [read_fortune_file(directory / c) for c in categories]
    owners = {}
    for label, entries in enumerate(per_category):
        for text in entries:
            owners.setdefault(text, set()).add(label)
    split = {"train": ([], []), "test": ([], [])}
    for label, entries in enumerate(per_category):
        for text in entries:
            if len(owners[text]) > 1:
                continue   # the same text filed under two categories: no single true label
            texts, labels = split["test" if is_test_text(text, test_fraction) else "train"]
            texts.append(text)
            labels.append(label)
    (train_texts, train_labels), (test_texts, test_labels) = split["train"], split["test"]
    return ((train_texts, np.asarray(train_labels, dtype=np.int64)),
            (test_texts, np.asarray(test_labels, dtype=np.int64)),
            list(categories))
