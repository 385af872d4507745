"""Tokenizers (ember.text): round trips on arbitrary Unicode, files, errors, lazy import."""
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ember
from ember.text import ByteLevelBPETokenizer, CharTokenizer, load_tokenizer, tokenizer_from_json

# Text a byte-level tokenizer must survive: emoji (with skin tone and ZWJ sequences), combining
# marks, NUL and other control characters, runs of mixed whitespace, CRLF, right-to-left scripts,
# characters outside the Basic Multilingual Plane, and a literal special token.
HARD_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b\x00\x00",
    "   leading and trailing   ",
    "tabs\t\tand\n\n\nnewlines\r\n\r\nCRLF",
    "\u3000\u00a0\u2009 mixed spaces \u200b",
    "👍🏽 family: 👩‍👩‍👧‍👦 flag: 🇫🇷",
    "e\u0301 \u0065\u0301\u0301 ñ n\u0303 (combining marks stay unnormalised)",
    "Ωμέγα Привет مرحبا שלום 你好 こんにちは 한국어",
    "\U0001f600\U0010ffff\ufeff\ufffd",
    "<|endoftext|>",
    "before<|endoftext|>after <|endoftext|><|endoftext|>",
    "'s 've 're 'll  'd",
    "x" * 300,
]

CORPUS = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
    "All:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n"
) * 20 + "Größe café naïve 東京 🎉 emoji\n"


@pytest.fixture(scope="module")
def bpe():
    return ByteLevelBPETokenizer().train(CORPUS, vocab_size=300)


# -- CharTokenizer ------------------------------------------------------------------------------------
def test_char_alphabet_is_sorted_distinct_characters():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert tok.vocab_size == 8 == len(tok)
    assert tok.encode("hold") == [3, 5, 4, 1]
    assert tok.decode([3, 5, 4, 1]) == "hold"


def test_char_ids_match_nanogpt_shakespeare_char():
    # nanoGPT's data/shakespeare_char/prepare.py: vocab 65, "First Citizen" starts 18 47 56 57 58 1.
    text = pathlib.Path("/work/shared/data/tinyshakespeare/input.txt")
    if not text.exists():
        pytest.skip("tiny Shakespeare not available")
    tok = CharTokenizer.from_text(text.read_text(encoding="utf-8"))
    assert tok.vocab_size == 65
    assert tok.encode("First Citizen") == [18, 47, 56, 57, 58, 1, 15, 47, 58, 47, 64, 43, 52]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_char_round_trip_over_corpus_alphabet(data):
    corpus = data.draw(st.text(min_size=1, max_size=40), label="corpus")
    tok = CharTokenizer.from_text(corpus)
    s = data.draw(st.text(alphabet=sorted(set(corpus)), max_size=200), label="s")
    ids = tok.encode(s)
    assert all(type(i) is int for i in ids)
    assert tok.decode(ids) == s
    arr = tok.encode_to_numpy(s)
    assert arr.dtype == np.int64 and arr.tolist() == ids
    assert tok.decode(arr) == s
    assert tok.decode(ember.tensor(arr, dtype=ember.int64)) == s


def test_char_round_trip_hard_strings():
    corpus = "".join(HARD_STRINGS)
    tok = CharTokenizer.from_text(corpus)
    for s in HARD_STRINGS:
        assert tok.decode(tok.encode(s)) == s


def test_char_unknown_character_is_a_clear_error():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match=r"'z' at position 2 is not in the tokenizer's alphabet"):
        tok.encode("abz")


def test_char_errors():
    with pytest.raises(ValueError, match="corpus is empty"):
        CharTokenizer.from_text("")
    with pytest.raises(TypeError, match="expected a str"):
        CharTokenizer.from_text(b"bytes")
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match=r"token id 3 is outside the vocabulary \[0, 3\)"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match=r"token id -1 is outside"):
        tok.decode(np.array([-1]))
    with pytest.raises(TypeError, match="must be integers"):
        tok.decode(np.array([0.5]))
    with pytest.raises(ValueError, match="1-D"):
        tok.decode(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="sorted"):
        CharTokenizer(["b", "a"])
    assert tok.decode([]) == ""


def test_char_save_load(tmp_path):
    tok = CharTokenizer.from_text("".join(HARD_STRINGS))
    path = tmp_path / "chars.json"
    tok.save(path)
    again = CharTokenizer.load(path)
    assert again == tok
    assert load_tokenizer(path) == tok
    assert tokenizer_from_json(tok.to_json()) == tok
    with pytest.raises(ValueError, match="not a CharTokenizer file"):
        CharTokenizer.from_json('{"chars": ["a"]}')


# -- ByteLevelBPETokenizer --------------------------------------------------------------------------
def test_bpe_vocabulary_layout(bpe):
    assert bpe.vocab_size == 300 == len(bpe)
    assert bpe.special_tokens == {"<|endoftext|>": 0}
    # It learned merges: a frequent word is one or two tokens, far fewer than its bytes.
    assert len(bpe.encode("First Citizen:")) <= 4
    assert bpe.encode("<|endoftext|>") == [0]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_bpe_round_trip_arbitrary_unicode(bpe, s):
    ids = bpe.encode(s)
    assert all(0 <= i < bpe.vocab_size for i in ids)
    assert bpe.decode(ids) == s


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(HARD_STRINGS + ["\t", "\n", "  ", "🎉", "\u0301", "\x00"]),
                max_size=12))
def test_bpe_round_trip_concatenated_hard_pieces(bpe, pieces):
    s = "".join(pieces)
    assert bpe.decode(bpe.encode(s)) == s
    assert bpe.decode(bpe.encode_to_numpy(s)) == s


def test_bpe_round_trip_hard_strings(bpe):
    for s in HARD_STRINGS:
        assert bpe.decode(bpe.encode(s)) == s, repr(s)


def test_bpe_unseen_bytes_are_encodable(bpe):
    # Characters absent from the training corpus still encode (as byte tokens), never dropped.
    s = "\u0915\u094d\u0937 \U0001d54f"
    ids = bpe.encode(s)
    assert len(ids) >= 4 and all(0 <= i < bpe.vocab_size for i in ids)
    assert bpe.decode(ids) == s


def test_bpe_train_from_files_and_save_load(tmp_path, bpe):
    corpus_file = tmp_path / "corpus.txt"
    corpus_file.write_text(CORPUS, encoding="utf-8")
    from_file = ByteLevelBPETokenizer().train([corpus_file], vocab_size=300)
    assert from_file.encode(CORPUS) == bpe.encode(CORPUS)
    path = tmp_path / "tokenizer.json"
    bpe.save(path)
    again = ByteLevelBPETokenizer.load(path)
    assert isinstance(load_tokenizer(path), ByteLevelBPETokenizer)
    for s in HARD_STRINGS:
        assert again.encode(s) == bpe.encode(s)
    # The file is a Hugging Face tokenizer.json: the library reads it directly.
    import tokenizers
    assert tokenizers.Tokenizer.from_file(str(path)).encode(CORPUS[:50]).ids == bpe.encode(CORPUS[:50])


def test_bpe_errors(bpe, tmp_path):
    with pytest.raises(ValueError, match=r"vocab_size >= 257"):
        ByteLevelBPETokenizer().train(CORPUS, vocab_size=100)
    with pytest.raises(ValueError, match="is empty"):
        ByteLevelBPETokenizer().train([], vocab_size=300)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ByteLevelBPETokenizer().train([tmp_path / "missing.txt"], vocab_size=300)
    with pytest.raises(RuntimeError, match="not trained"):
        ByteLevelBPETokenizer().encode("x")
    with pytest.raises(ValueError, match=r"token id 300 is outside the vocabulary \[0, 300\)"):
        bpe.decode([1, 300])
    with pytest.raises(TypeError, match="expected a str"):
        bpe.encode(b"bytes")
    with pytest.raises(ValueError, match="surrogate"):
        bpe.encode("\ud800")


def test_bpe_missing_library_names_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)   # makes `import tokenizers` fail
    with pytest.raises(ImportError, match="pip install tokenizers"):
        ByteLevelBPETokenizer().train(CORPUS, vocab_size=300)


def test_import_ember_does_not_import_tokenizers():
    code = ("import sys, ember, ember.text; t = ember.text.CharTokenizer.from_text('ab'); "
            "assert 'tokenizers' not in sys.modules, 'tokenizers imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True)
