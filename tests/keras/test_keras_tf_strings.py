"""``tf.strings`` on NumPy string arrays (TensorFlow is not installed: expected values are
TensorFlow's documented results), and keras-io's ``custom_standardization`` feeding
``TextVectorization`` unchanged."""
import re
import string

import numpy as np
import pytest

import ember.keras.tf as tf
from ember.keras import layers


def test_case_and_regex_functions_keep_shape_and_scalars():
    x = np.array([["Hello World", "ÀB c"], ["x<br />y", "  pad  "]])
    np.testing.assert_array_equal(tf.strings.lower(x), np.char.lower(x))
    assert tf.strings.upper("abc") == "ABC"
    assert tf.strings.regex_replace("a1b22c", r"\d+", "#") == "a#b#c"
    assert tf.strings.regex_replace("a1b22c", r"\d+", "#", replace_global=False) == "a#b22c"
    assert tf.strings.regex_replace("ab", r"(a)(b)", r"\2\1") == "ba"
    np.testing.assert_array_equal(tf.strings.regex_replace(x, "<br />", " ")[1, 0], "x y")
    np.testing.assert_array_equal(tf.strings.strip(x)[1, 1], "pad")
    np.testing.assert_array_equal(tf.strings.regex_full_match(["abc", "abd"], "ab[c]").numpy(), [True, False])
    assert tf.strings.lower([b"ABC"]).tolist() == ["abc"]                  # bytes decoded as UTF-8


def test_lengths_joins_splits_and_numbers():
    np.testing.assert_array_equal(tf.strings.length(["héllo", ""]).numpy(), [6, 0])     # UTF-8 bytes
    assert int(tf.strings.length("héllo", unit="UTF8_CHAR")) == 5
    np.testing.assert_array_equal(tf.strings.join([["a", "b"], ["c", "d"]], separator="-"), ["a-c", "b-d"])
    assert tf.strings.reduce_join(["a", "b", "c"], separator=",") == "a,b,c"
    np.testing.assert_array_equal(tf.strings.reduce_join([["a", "b"], ["c", "d"]], axis=0), ["ac", "bd"])
    np.testing.assert_array_equal(tf.strings.split("a  b c"), ["a", "b", "c"])
    parts = tf.strings.split(["a b", "c"])
    assert [p.tolist() for p in parts] == [["a", "b"], ["c"]]
    assert tf.strings.substr("hello", 1, 3) == "ell" and tf.strings.substr("hello", -3, 2) == "ll"
    np.testing.assert_allclose(tf.strings.to_number(["1.5", "-2"]).numpy(), [1.5, -2.0])
    assert tf.strings.to_number(["7"], out_type="int64").numpy().dtype == np.int64
    np.testing.assert_array_equal(tf.strings.as_string(np.array([1.5, 2.0]), precision=2), ["1.50", "2.00"])
    with pytest.raises(ValueError, match="to_number"):
        tf.strings.to_number(["x"])
    with pytest.raises(TypeError, match="expected strings"):
        tf.strings.lower(np.array([1.0]))


def custom_standardization(input_data):
    # keras-io text_classification_from_scratch, unchanged
    lowercase = tf.strings.lower(input_data)
    stripped_html = tf.strings.regex_replace(lowercase, "<br />", " ")
    return tf.strings.regex_replace(stripped_html, f"[{re.escape(string.punctuation)}]", "")


def test_keras_io_custom_standardization_feeds_text_vectorization():
    layer = layers.TextVectorization(standardize=custom_standardization, max_tokens=20,
                                     output_mode="int", output_sequence_length=5)
    layer.adapt(["Great movie!<br />Great fun.", "A bad, BAD movie"])
    vocab = layer.get_vocabulary()
    assert vocab[:2] == ["", "[UNK]"] and set(vocab[2:]) == {"great", "movie", "bad", "fun", "a"}
    out = layer(["great, BAD<br />film"]).numpy()
    assert out.shape == (1, 5)
    assert [vocab[i] for i in out[0][:3]] == ["great", "bad", "[UNK]"] and not out[0][3:].any()
