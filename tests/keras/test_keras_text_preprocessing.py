"""Keras 3's text / categorical preprocessing layers on ember (``StringLookup``, ``IntegerLookup``,
``CategoryEncoding``, ``Hashing``, ``TextVectorization``) against real Keras 3.15.1.

Real Keras runs these layers (all but ``CategoryEncoding``) only with TensorFlow installed, which
the test environment has not: ``EXPECTED`` holds what Keras 3.15.1 (torch backend) with
TensorFlow 2.21 returned for ``CASES`` (vocabulary after ``adapt``, vocabulary size, and every
call's dtype, shape and values), recorded by running the same cases there.
``test_live_keras`` compares live instead when TensorFlow is importable; ``CategoryEncoding`` is
compared live with real Keras.
"""
import importlib.util

import numpy as np
import pytest

from tests.support.keras_battery import real_keras

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "A cat, a dog; a bird?",
         "Hello   WORLD hello", "Ünïcode ÄÖ straße"]
WORDS = ["b", "a", "c", "a", "d", "c", "a", "zz", "b"]
CASES = [
    ("str_adapt", "StringLookup", {}, WORDS, [["a", "b", "q"], [["c", "d"], ["zz", "nope"]]]),
    ("str_max_tokens", "StringLookup", {"max_tokens": 3}, WORDS, [["a", "b", "c", "d"]]),
    ("str_mask", "StringLookup", {"mask_token": "[M]"}, WORDS + ["[M]", "[UNK]", "[UNK]"],
     [["[M]", "a", "x", "[UNK]"]]),
    ("str_vocab_one_hot", "StringLookup", {"vocabulary": ["x", "y", "z"], "output_mode": "one_hot"},
     None, [["x", "q", "z"], [["y"], ["x"]], [["x", "y"], ["z", "z"]]]),
    ("str_multi_hot", "StringLookup", {"output_mode": "multi_hot"}, WORDS,
     [[["a", "b", "a"], ["q", "d", "d"]], ["a", "zz"]]),
    ("str_count_mask", "StringLookup", {"output_mode": "count", "mask_token": ""}, WORDS,
     [[["a", "", "a"], ["q", "d", ""]]]),
    ("str_count_pad", "StringLookup", {"output_mode": "count", "max_tokens": 8,
                                       "pad_to_max_tokens": True}, WORDS, [[["a", "b", "a"], ["q", "q", "c"]]]),
    ("str_tfidf", "StringLookup", {"output_mode": "tf_idf"}, [["a", "b", "a"], ["b", "c", "c"], ["a", "d", "e"]],
     [[["a", "b", "a"], ["q", "c", "e"]]]),
    ("str_tfidf_vocab", "StringLookup", {"output_mode": "tf_idf", "vocabulary": ["a", "b", "c"],
                                         "idf_weights": [0.5, 0.25, 2.0]}, None, [[["a", "b", "z"], ["c", "c", "a"]]]),
    ("str_no_oov", "StringLookup", {"num_oov_indices": 0, "vocabulary": ["a", "b"]}, None, [["b", "a"]]),
    ("str_invert", "StringLookup", {"vocabulary": ["a", "b", "c"], "invert": True}, None, [[0, 1, 2, 3, 4, 9]]),
    ("str_invert_mask", "StringLookup", {"vocabulary": ["a", "b"], "invert": True, "mask_token": "<m>"},
     None, [[0, 1, 2, 3, 7]]),
    ("str_vocab_specials", "StringLookup", {"vocabulary": ["", "[UNK]", "a", "b"], "mask_token": ""}, None,
     [["a", "", "b", "zz"]]),
    ("int_adapt", "IntegerLookup", {}, [12, 36, 1138, 36, 42, 12, 12, -1, 7],
     [[12, 36, 99], [[1138, 42], [7, 0]]]),
    ("int_mask_oov2", "IntegerLookup", {"mask_token": 0, "num_oov_indices": 2, "vocabulary": [12, 36, 1138]},
     None, [[[12, 0, 5, 6], [36, 1138, -3, 7]]]),
    ("int_multi_hot", "IntegerLookup", {"output_mode": "multi_hot", "max_tokens": 4},
     [5, 5, 5, 6, 6, 7, 8], [[[5, 6, 9], [8, 8, 7]]]),
    ("int_invert", "IntegerLookup", {"vocabulary": [12, 36, 1138], "invert": True}, None, [[0, 1, 2, 3, 8]]),
    ("tv_default", "TextVectorization", {}, TEXTS, [TEXTS[:2], ["cat unknownword the"]]),
    ("tv_seq_len", "TextVectorization", {"max_tokens": 8, "output_sequence_length": 4}, TEXTS,
     [TEXTS, [["a cat"], ["the the the the the the"]]]),
    ("tv_lower", "TextVectorization", {"standardize": "lower"}, TEXTS, [["the cat. HELLO, dog!"]]),
    ("tv_strip", "TextVectorization", {"standardize": "strip_punctuation"}, TEXTS, [["The cat. hello, dog!"]]),
    ("tv_none", "TextVectorization", {"standardize": None, "split": "whitespace"}, TEXTS, [["The cat. hello"]]),
    ("tv_char", "TextVectorization", {"split": "character", "output_sequence_length": 6}, TEXTS, [["abc!", "Ü x"]]),
    ("tv_nosplit", "TextVectorization", {"split": None}, ["a", "b", "b", "c d"], [["b", "c d", "q"]]),
    ("tv_ngrams2", "TextVectorization", {"ngrams": 2}, TEXTS, [TEXTS[:3]]),
    ("tv_ngrams_tuple", "TextVectorization", {"ngrams": (2, 3), "max_tokens": 12}, TEXTS, [TEXTS[2:4]]),
    ("tv_multi_hot", "TextVectorization", {"output_mode": "multi_hot", "max_tokens": 10}, TEXTS,
     [TEXTS[:3], ["the the cat zebra"]]),
    ("tv_count", "TextVectorization", {"output_mode": "count"}, TEXTS, [TEXTS[:3]]),
    ("tv_count_pad", "TextVectorization", {"output_mode": "count", "max_tokens": 30, "pad_to_max_tokens": True},
     TEXTS, [TEXTS[:2]]),
    ("tv_tfidf", "TextVectorization", {"output_mode": "tf_idf"}, TEXTS, [TEXTS[:3], ["the the cat zebra"]]),
    ("tv_tfidf_ngrams", "TextVectorization", {"output_mode": "tf_idf", "ngrams": 2, "max_tokens": 15}, TEXTS,
     [TEXTS[:3]]),
    ("tv_vocab", "TextVectorization", {"vocabulary": ["the", "cat", "dog"], "output_sequence_length": 5},
     None, [["The dog, the CAT and a bird"]]),
    ("tv_vocab_tfidf", "TextVectorization", {"vocabulary": ["the", "cat", "dog"], "output_mode": "tf_idf",
                                             "idf_weights": [0.1, 1.5, 2.0]}, None, [["The dog, the CAT and a bird"]]),
]
CASES += [
    ("str_oov3", "StringLookup", {"vocabulary": ["a", "b"], "num_oov_indices": 3}, None,
     [["a", "q", "zz", "hello", "b", "Ü", "x" * 70]]),
    ("str_oov2_salt", "StringLookup", {"vocabulary": ["a"], "num_oov_indices": 2, "salt": 99, "mask_token": "-"},
     None, [["a", "-", "q", "zz", "hello"]]),
    ("int_oov3_farmhash", "IntegerLookup", {"vocabulary": [5], "num_oov_indices": 3, "oov_method": "farmhash"},
     None, [[5, 6, 7, -8, 123456789]]),
    ("hash_str", "Hashing", {"num_bins": 7}, None, [["a", "b", "cat", "", "Ünïcode", "z" * 80], [["a"], ["q"]]]),
    ("hash_int_mask", "Hashing", {"num_bins": 6, "mask_value": 0}, None, [[[0, 1, 2], [-5, 0, 1234567]]]),
    ("hash_str_mask_salt", "Hashing", {"num_bins": 6, "mask_value": "", "salt": [3, 4]}, None,
     [["", "a", "b", "cat"]]),
    ("hash_float", "Hashing", {"num_bins": 5}, None, [[[1.0, 2.7, -3.2]]]),
    ("hash_one_hot", "Hashing", {"num_bins": 4, "output_mode": "one_hot"}, None, [[["a"], ["b"], ["c"]]]),
    ("hash_count", "Hashing", {"num_bins": 4, "output_mode": "count"}, None, [[["a", "b", "a"], ["c", "d", "e"]]]),
]
CASES += [
    ("str_tfidf_mask_batches", "StringLookup", {"output_mode": "tf_idf", "mask_token": "[M]"},
     {"batches": [["a", "b", "a"], ["b", "c"], [["c", "d"], ["a", "[M]"]]]}, [[["a", "b", "[M]"], ["d", "q", "q"]]]),
    ("str_tfidf_specials", "StringLookup", {"output_mode": "tf_idf", "vocabulary": ["[UNK]", "a", "b"],
                                            "idf_weights": [0.3, 0.5, 0.25], "max_tokens": 5, "pad_to_max_tokens": True},
     None, [[["a", "b", "z"], ["b", "b", "a"]]]),
    ("int_mask_adapt", "IntegerLookup", {"mask_token": 0, "max_tokens": 5}, [0, 0, 0, 3, 3, 4, 4, 5, 6, -1, -1, -1],
     [[[0, 3, 4, 5, 6, 9]]]),
    ("tv_batches_tfidf", "TextVectorization", {"output_mode": "tf_idf", "max_tokens": 9, "pad_to_max_tokens": True},
     {"batches": [["b a c", "a a"], ["c d", "e"], ["a b b"]]}, [["a b c d e f"]]),
    ("tv_multi_hot_nosplit", "TextVectorization", {"split": None, "output_mode": "multi_hot"},
     ["x y", "x y", "z"], [[["x y"], ["Z"], ["w"]]]),
    ("tv_ties_unicode", "TextVectorization", {"standardize": None}, ["é e É E z Z ä a"], [["a z é"]]),
    ("tv_ngram3_short", "TextVectorization", {"ngrams": 3}, ["a b", "a b c d"], [["a b", "a b c d e", ""]]),
]

# Keras 3.15.1 + TensorFlow 2.21 on CASES: {id: {vocab, size, outputs: [{dtype, shape, value}]}}
EXPECTED = {'str_adapt': {'vocab': ['[UNK]', 'a', 'c', 'b', 'zz', 'd'],
               'size': 6,
               'outputs': [{'dtype': 'int64', 'shape': [3], 'value': [1, 3, 0]},
                           {'dtype': 'int64', 'shape': [2, 2], 'value': [[2, 5], [4, 0]]}]},
 'str_max_tokens': {'vocab': ['[UNK]', 'a', 'c'],
                    'size': 3,
                    'outputs': [{'dtype': 'int64', 'shape': [4], 'value': [1, 0, 2, 0]}]},
 'str_mask': {'vocab': ['[M]', '[UNK]', 'a', 'c', 'b', 'zz', 'd'],
              'size': 7,
              'outputs': [{'dtype': 'int64', 'shape': [4], 'value': [0, 2, 1, 1]}]},
 'str_vocab_one_hot': {'vocab': ['[UNK]', 'x', 'y', 'z'],
                       'size': 4,
                       'outputs': [{'dtype': 'int64',
                                    'shape': [3, 4],
                                    'value': [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]},
                                   {'dtype': 'int64',
                                    'shape': [2, 4],
                                    'value': [[0, 0, 1, 0], [0, 1, 0, 0]]},
                                   {'dtype': 'int64',
                                    'shape': [2, 2, 4],
                                    'value': [[[0, 1, 0, 0], [0, 0, 1, 0]],
                                              [[0, 0, 0, 1], [0, 0, 0, 1]]]}]},
 'str_multi_hot': {'vocab': ['[UNK]', 'a', 'c', 'b', 'zz', 'd'],
                   'size': 6,
                   'outputs': [{'dtype': 'int64',
                                'shape': [2, 6],
                                'value': [[0, 1, 0, 1, 0, 0], [1, 0, 0, 0, 0, 1]]},
                               {'dtype': 'int64', 'shape': [6], 'value': [0, 1, 0, 0, 1, 0]}]},
 'str_count_mask': {'vocab': ['[UNK]', 'a', 'c', 'b', 'zz', 'd'],
                    'size': 6,
                    'outputs': [{'dtype': 'int64',
                                 'shape': [2, 6],
                                 'value': [[0, 2, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1]]}]},
 'str_count_pad': {'vocab': ['[UNK]', 'a', 'c', 'b', 'zz', 'd'],
                   'size': 6,
                   'outputs': [{'dtype': 'int64',
                                'shape': [2, 8],
                                'value': [[0, 2, 0, 1, 0, 0, 0, 0], [2, 0, 1, 0, 0, 0, 0, 0]]}]},
 'str_tfidf': {'vocab': ['[UNK]', 'a', 'c', 'b', 'e', 'd'],
               'size': 6,
               'outputs': [{'dtype': 'float32',
                            'shape': [2, 6],
                            'value': [[0.0, 1.3862943649291992, 0.0, 0.6931471824645996, 0.0, 0.0],
                                      [0.8270333409309387, 0.0, 0.9162907600402832, 0.0,
                                       0.9162907600402832, 0.0]]}]},
 'str_tfidf_vocab': {'vocab': ['[UNK]', 'a', 'b', 'c'],
                     'size': 4,
                     'outputs': [{'dtype': 'float32',
                                  'shape': [2, 4],
                                  'value': [[0.9166666865348816, 0.5, 0.25, 0.0],
                                            [0.0, 0.5, 0.0, 4.0]]}]},
 'str_no_oov': {'vocab': ['a', 'b'],
                'size': 2,
                'outputs': [{'dtype': 'int64', 'shape': [2], 'value': [1, 0]}]},
 'str_invert': {'vocab': ['[UNK]', 'a', 'b', 'c'],
                'size': 4,
                'outputs': [{'dtype': 'str',
                             'shape': [6],
                             'value': ['[UNK]', 'a', 'b', 'c', '[UNK]', '[UNK]']}]},
 'str_invert_mask': {'vocab': ['<m>', '[UNK]', 'a', 'b'],
                     'size': 4,
                     'outputs': [{'dtype': 'str',
                                  'shape': [5],
                                  'value': ['<m>', '[UNK]', 'a', 'b', '[UNK]']}]},
 'str_vocab_specials': {'vocab': ['', '[UNK]', 'a', 'b'],
                        'size': 4,
                        'outputs': [{'dtype': 'int64', 'shape': [4], 'value': [2, 0, 3, 1]}]},
 'int_adapt': {'vocab': [-1, 12, 36, 1138, 42, 7],
               'size': 6,
               'outputs': [{'dtype': 'int64', 'shape': [3], 'value': [1, 2, 0]},
                           {'dtype': 'int64', 'shape': [2, 2], 'value': [[3, 4], [5, 0]]}]},
 'int_mask_oov2': {'vocab': [0, -1, -1, 12, 36, 1138],
                   'size': 6,
                   'outputs': [{'dtype': 'int64',
                                'shape': [2, 4],
                                'value': [[3, 0, 2, 1], [4, 5, 2, 2]]}]},
 'int_multi_hot': {'vocab': [-1, 5, 6, 8],
                   'size': 4,
                   'outputs': [{'dtype': 'int64',
                                'shape': [2, 4],
                                'value': [[1, 1, 1, 0], [1, 0, 0, 1]]}]},
 'int_invert': {'vocab': [-1, 12, 36, 1138],
                'size': 4,
                'outputs': [{'dtype': 'int64', 'shape': [5], 'value': [-1, 12, 36, 1138, -1]}]},
 'tv_default': {'vocab': ['', '[UNK]', 'the', 'a', 'hello', 'dog', 'cat', 'Ünïcode', 'ÄÖ', 'world',
                          'straße', 'sat', 'on', 'my', 'mat', 'homework', 'bird', 'ate'],
                'size': 18,
                'outputs': [{'dtype': 'int64',
                             'shape': [2, 6],
                             'value': [[2, 6, 11, 12, 2, 14], [2, 5, 17, 13, 15, 0]]},
                            {'dtype': 'int64', 'shape': [1, 3], 'value': [[6, 1, 2]]}]},
 'tv_seq_len': {'vocab': ['', '[UNK]', 'the', 'a', 'hello', 'dog', 'cat', 'Ünïcode'],
                'size': 8,
                'outputs': [{'dtype': 'int64',
                             'shape': [5, 4],
                             'value': [[2, 6, 1, 1], [2, 5, 1, 1], [3, 6, 3, 5], [4, 1, 4, 0],
                                       [7, 1, 1, 0]]},
                            {'dtype': 'int64',
                             'shape': [2, 4],
                             'value': [[3, 6, 0, 0], [2, 2, 2, 2]]}]},
 'tv_lower': {'vocab': ['', '[UNK]', 'the', 'a', 'hello', 'Ünïcode', 'ÄÖ', 'world', 'straße', 'sat',
                        'on', 'my', 'mat.', 'homework!', 'dog;', 'dog', 'cat,', 'cat', 'bird?',
                        'ate'],
              'size': 20,
              'outputs': [{'dtype': 'int64', 'shape': [1, 4], 'value': [[2, 1, 1, 1]]}]},
 'tv_strip': {'vocab': ['', '[UNK]', 'dog', 'cat', 'a', 'The', 'Ünïcode', 'ÄÖ', 'the', 'straße',
                        'sat', 'on', 'my', 'mat', 'homework', 'hello', 'bird', 'ate', 'WORLD',
                        'Hello', 'A'],
              'size': 21,
              'outputs': [{'dtype': 'int64', 'shape': [1, 4], 'value': [[5, 3, 15, 2]]}]},
 'tv_none': {'vocab': ['', '[UNK]', 'a', 'The', 'Ünïcode', 'ÄÖ', 'the', 'straße', 'sat', 'on', 'my',
                       'mat.', 'homework!', 'hello', 'dog;', 'dog', 'cat,', 'cat', 'bird?', 'ate',
                       'WORLD', 'Hello', 'A'],
             'size': 23,
             'outputs': [{'dtype': 'int64', 'shape': [1, 3], 'value': [[3, 1, 13]]}]},
 'tv_char': {'vocab': ['', '[UNK]', ' ', 't', 'o', 'e', 'a', 'h', 'l', 'd', 'r', 'm', 'c', 'w', 's',
                       'n', 'g', 'ï', 'ß', 'Ü', 'Ö', 'Ä', 'y', 'k', 'i', 'b'],
             'size': 26,
             'outputs': [{'dtype': 'int64',
                          'shape': [2, 6],
                          'value': [[6, 25, 12, 0, 0, 0], [19, 2, 1, 0, 0, 0]]}]},
 'tv_nosplit': {'vocab': ['', '[UNK]', 'b', 'c d', 'a'],
                'size': 5,
                'outputs': [{'dtype': 'int64', 'shape': [3], 'value': [2, 3, 1]}]},
 'tv_ngrams2': {'vocab': ['', '[UNK]', 'the', 'a', 'hello', 'dog', 'cat', 'Ünïcode ÄÖ', 'Ünïcode',
                          'ÄÖ straße', 'ÄÖ', 'world hello', 'world', 'the mat', 'the dog',
                          'the cat', 'straße', 'sat on', 'sat', 'on the', 'on', 'my homework', 'my',
                          'mat', 'homework', 'hello world', 'dog ate', 'dog a', 'cat sat', 'cat a',
                          'bird', 'ate my', 'ate', 'a dog', 'a cat', 'a bird'],
                'size': 36,
                'outputs': [{'dtype': 'int64',
                             'shape': [3, 11],
                             'value': [[2, 6, 18, 20, 2, 23, 15, 28, 17, 19, 13],
                                       [2, 5, 32, 22, 24, 14, 26, 31, 21, 0, 0],
                                       [3, 6, 3, 5, 3, 30, 34, 29, 33, 27, 35]]}]},
 'tv_ngrams_tuple': {'vocab': ['', '[UNK]', 'Ünïcode ÄÖ straße', 'Ünïcode ÄÖ', 'ÄÖ straße',
                               'world hello', 'the mat', 'the dog ate', 'the dog', 'the cat sat',
                               'the cat', 'sat on the'],
                     'size': 12,
                     'outputs': [{'dtype': 'int64',
                                  'shape': [2, 9],
                                  'value': [[1, 1, 1, 1, 1, 1, 1, 1, 1],
                                            [1, 5, 1, 0, 0, 0, 0, 0, 0]]}]},
 'tv_multi_hot': {'vocab': ['[UNK]', 'the', 'a', 'hello', 'dog', 'cat', 'Ünïcode', 'ÄÖ', 'world',
                            'straße'],
                  'size': 10,
                  'outputs': [{'dtype': 'int64',
                               'shape': [3, 10],
                               'value': [[1, 1, 0, 0, 0, 1, 0, 0, 0, 0],
                                         [1, 1, 0, 0, 1, 0, 0, 0, 0, 0],
                                         [1, 0, 1, 0, 1, 1, 0, 0, 0, 0]]},
                              {'dtype': 'int64',
                               'shape': [1, 10],
                               'value': [[1, 1, 0, 0, 0, 1, 0, 0, 0, 0]]}]},
 'tv_count': {'vocab': ['[UNK]', 'the', 'a', 'hello', 'dog', 'cat', 'Ünïcode', 'ÄÖ', 'world',
                        'straße', 'sat', 'on', 'my', 'mat', 'homework', 'bird', 'ate'],
              'size': 17,
              'outputs': [{'dtype': 'int64',
                           'shape': [3, 17],
                           'value': [[0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0],
                                     [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1],
                                     [0, 0, 3, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]]}]},
 'tv_count_pad': {'vocab': ['[UNK]', 'the', 'a', 'hello', 'dog', 'cat', 'Ünïcode', 'ÄÖ', 'world',
                            'straße', 'sat', 'on', 'my', 'mat', 'homework', 'bird', 'ate'],
                  'size': 17,
                  'outputs': [{'dtype': 'int64',
                               'shape': [2, 30],
                               'value': [[0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0,
                                          0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                                         [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0,
                                          0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]}]},
 'tv_tfidf': {'vocab': ['[UNK]', 'the', 'a', 'hello', 'dog', 'cat', 'Ünïcode', 'ÄÖ', 'world',
                        'straße', 'sat', 'on', 'my', 'mat', 'homework', 'bird', 'ate'],
              'size': 17,
              'outputs': [{'dtype': 'float32',
                           'shape': [3, 17],
                           'value': [[0.0, 1.9616584777832031, 0.0, 0.0, 0.0, 0.9808292388916016,
                                      0.0, 0.0, 0.0, 0.0, 1.2527629137039185, 1.2527629137039185,
                                      0.0, 1.2527629137039185, 0.0, 0.0, 0.0],
                                     [0.0, 0.9808292388916016, 0.0, 0.0, 0.9808292388916016, 0.0,
                                      0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.2527629137039185, 0.0,
                                      1.2527629137039185, 0.0, 1.2527629137039185],
                                     [0.0, 0.0, 3.758288860321045, 0.0, 0.9808292388916016,
                                      0.9808292388916016, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                                      0.0, 1.2527629137039185, 0.0]]},
                          {'dtype': 'float32',
                           'shape': [1, 17],
                           'value': [[1.201775312423706, 1.9616584777832031, 0.0, 0.0, 0.0,
                                      0.9808292388916016, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                                      0.0, 0.0, 0.0]]}]},
 'tv_tfidf_ngrams': {'vocab': ['[UNK]', 'the', 'a', 'hello', 'dog', 'cat', 'Ünïcode ÄÖ', 'Ünïcode',
                               'ÄÖ straße', 'ÄÖ', 'world hello', 'world', 'the mat', 'the dog',
                               'the cat'],
                     'size': 15,
                     'outputs': [{'dtype': 'float32',
                                  'shape': [3, 15],
                                  'value': [[7.166948318481445, 1.9616584777832031, 0.0, 0.0, 0.0,
                                             0.9808292388916016, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                                             1.2527629137039185, 0.0, 1.2527629137039185],
                                            [7.166948318481445, 0.9808292388916016, 0.0, 0.0,
                                             0.9808292388916016, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                                             0.0, 1.2527629137039185, 0.0],
                                            [7.166948318481445, 0.0, 3.758288860321045, 0.0,
                                             0.9808292388916016, 0.9808292388916016, 0.0, 0.0, 0.0,
                                             0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]}]},
 'tv_vocab': {'vocab': ['', '[UNK]', 'the', 'cat', 'dog'],
              'size': 5,
              'outputs': [{'dtype': 'int64', 'shape': [1, 5], 'value': [[2, 4, 2, 3, 1]]}]},
 'tv_vocab_tfidf': {'vocab': ['[UNK]', 'the', 'cat', 'dog'],
                    'size': 4,
                    'outputs': [{'dtype': 'float32',
                                 'shape': [1, 4],
                                 'value': [[3.6000001430511475, 0.20000000298023224, 1.5, 2.0]]}]},
 'str_oov3': {'vocab': ['[UNK]', '[UNK]', '[UNK]', 'a', 'b'],
              'size': 5,
              'outputs': [{'dtype': 'int64', 'shape': [7], 'value': [3, 2, 1, 1, 4, 1, 0]}]},
 'str_oov2_salt': {'vocab': ['-', '[UNK]', '[UNK]', 'a'],
                   'size': 4,
                   'outputs': [{'dtype': 'int64', 'shape': [5], 'value': [3, 0, 1, 1, 2]}]},
 'int_oov3_farmhash': {'vocab': [-1, -1, -1, 5],
                       'size': 4,
                       'outputs': [{'dtype': 'int64', 'shape': [5], 'value': [3, 2, 1, 2, 2]}]},
 'hash_str': {'vocab': None,
              'size': None,
              'outputs': [{'dtype': 'int64', 'shape': [6], 'value': [5, 2, 0, 6, 4, 3]},
                          {'dtype': 'int64', 'shape': [2, 1], 'value': [[5], [1]]}]},
 'hash_int_mask': {'vocab': None,
                   'size': None,
                   'outputs': [{'dtype': 'int64',
                                'shape': [2, 3],
                                'value': [[0, 5, 5], [2, 0, 4]]}]},
 'hash_str_mask_salt': {'vocab': None,
                        'size': None,
                        'outputs': [{'dtype': 'int64', 'shape': [4], 'value': [0, 4, 4, 3]}]},
 'hash_float': {'vocab': None,
                'size': None,
                'outputs': [{'dtype': 'int64', 'shape': [1, 3], 'value': [[4, 4, 4]]}]},
 'hash_one_hot': {'vocab': None,
                  'size': None,
                  'outputs': [{'dtype': 'float32',
                               'shape': [3, 4],
                               'value': [[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0],
                                         [1.0, 0.0, 0.0, 0.0]]}]},
 'hash_count': {'vocab': None,
                'size': None,
                'outputs': [{'dtype': 'float32',
                             'shape': [2, 4],
                             'value': [[0.0, 0.0, 1.0, 2.0], [1.0, 2.0, 0.0, 0.0]]}]},
 'str_tfidf_mask_batches': {'vocab': ['[UNK]', 'a', 'c', 'b', 'd'],
                            'size': 5,
                            'outputs': [{'dtype': 'float32',
                                         'shape': [2, 5],
                                         'value': [[0.0, 0.8472978472709656, 0.0,
                                                    0.8472978472709656, 0.0],
                                                   [1.8202528953552246, 0.0, 0.0, 0.0,
                                                    1.0986123085021973]]}]},
 'str_tfidf_specials': {'vocab': ['[UNK]', 'a', 'b'],
                        'size': 3,
                        'outputs': [{'dtype': 'float32',
                                     'shape': [2, 5],
                                     'value': [[0.30000001192092896, 0.5, 0.25, 0.0, 0.0],
                                               [0.0, 0.5, 0.5, 0.0, 0.0]]}]},
 'int_mask_adapt': {'vocab': [0, -1, 4, 3, 6],
                    'size': 5,
                    'outputs': [{'dtype': 'int64',
                                 'shape': [1, 6],
                                 'value': [[0, 3, 2, 1, 4, 1]]}]},
 'tv_batches_tfidf': {'vocab': ['[UNK]', 'a', 'b', 'c', 'e', 'd'],
                      'size': 6,
                      'outputs': [{'dtype': 'float32',
                                   'shape': [1, 9],
                                   'value': [[1.0556228160858154, 0.8109301924705505,
                                              0.9808292388916016, 0.9808292388916016,
                                              1.2527629137039185, 1.2527629137039185, 0.0, 0.0,
                                              0.0]]}]},
 'tv_multi_hot_nosplit': {'vocab': ['[UNK]', 'x y', 'z'],
                          'size': 3,
                          'outputs': [{'dtype': 'int64',
                                       'shape': [3, 3],
                                       'value': [[0, 1, 0], [0, 0, 1], [1, 0, 0]]}]},
 'tv_ties_unicode': {'vocab': ['', '[UNK]', 'é', 'ä', 'É', 'z', 'e', 'a', 'Z', 'E'],
                     'size': 10,
                     'outputs': [{'dtype': 'int64', 'shape': [1, 3], 'value': [[7, 5, 2]]}]},
 'tv_ngram3_short': {'vocab': ['', '[UNK]', 'b', 'a b', 'a', 'd', 'c d', 'c', 'b c d', 'b c',
                               'a b c'],
                     'size': 11,
                     'outputs': [{'dtype': 'int64',
                                  'shape': [3, 12],
                                  'value': [[4, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                                            [4, 2, 7, 5, 1, 3, 9, 6, 1, 10, 8, 1],
                                            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]}]}}


def _make(cls, kwargs):
    from ember.keras import layers
    return getattr(layers, cls)(**kwargs)


def _call_input(cls, c):
    # Hashing takes numbers as arrays (Keras converts lists of numbers to tensors)
    arr = np.asarray(c)
    return arr if cls == "Hashing" and arr.dtype.kind in "iuf" else c


def _check(layer, cid, cls, calls, exp, to_numpy=lambda y: np.asarray(y.numpy())):
    if exp["vocab"] is not None:
        assert [v if isinstance(v, (str, int)) else int(v) for v in layer.get_vocabulary()] \
            == exp["vocab"], cid
        assert layer.vocabulary_size() == exp["size"], cid
    for c, want in zip(calls, exp["outputs"]):
        y = to_numpy(layer(_call_input(cls, c)))
        dtype = "str" if y.dtype.kind in "OSU" else str(y.dtype)
        assert (dtype, list(y.shape)) == (want["dtype"], want["shape"]), (cid, c)
        if dtype == "float32":
            np.testing.assert_allclose(y, np.asarray(want["value"], np.float32), rtol=1e-6,
                                       atol=1e-6, err_msg=cid)
        else:
            assert y.tolist() == want["value"], (cid, c)


@pytest.mark.parametrize("cid,cls,kwargs,data,calls", CASES, ids=[c[0] for c in CASES])
def test_matches_keras(cid, cls, kwargs, data, calls):
    """Vocabulary order after adapt, and the outputs of every mode, as Keras 3.15.1 (+TF)."""
    layer = _make(cls, kwargs)
    if data is not None:
        layer.adapt(iter(data["batches"]) if isinstance(data, dict) else data)
    _check(layer, cid, cls, calls, EXPECTED[cid])


def test_live_keras():
    """The same cases on real Keras when TensorFlow is installed (Keras' lookup layers need it):
    checks that EXPECTED still is what Keras returns."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("Keras' StringLookup / TextVectorization / Hashing need TensorFlow")
    keras = real_keras()
    for cid, cls, kwargs, data, calls in CASES:
        layer = getattr(keras.layers, cls)(**kwargs)
        if data is not None:
            layer.adapt(iter([np.array(b) for b in data["batches"]]) if isinstance(data, dict)
                        else np.array(data) if cls == "IntegerLookup" else data)
        exp = EXPECTED[cid]
        if exp["vocab"] is not None:
            exp = {**exp, "vocab": [v.decode() if isinstance(v, bytes) else v for v in exp["vocab"]]}

        def to_numpy(y):
            a = np.asarray(keras.ops.convert_to_numpy(y))
            return a.astype(str) if a.dtype.kind in "OS" else a
        _check(layer, cid, cls, calls, exp, to_numpy)


@pytest.mark.parametrize("mode", ["multi_hot", "one_hot", "count"])
def test_category_encoding_vs_keras(mode):
    keras = real_keras()
    from ember.keras import layers
    inputs = [np.array([[0, 1, 1, 3], [2, 2, 2, 0]]), np.array([3, 0, 1]), np.array([[1], [3]])]
    for x in inputs:
        if mode != "one_hot" and x.shape[-1] == 1:
            continue
        want = keras.ops.convert_to_numpy(keras.layers.CategoryEncoding(4, output_mode=mode)(x))
        got = layers.CategoryEncoding(4, output_mode=mode)(x).numpy()
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    w = np.array([[0.5, 1.0, 2.0, 1.5], [1.0, 1.0, 1.0, 3.0]], np.float32)
    x = inputs[0]
    want = keras.ops.convert_to_numpy(keras.layers.CategoryEncoding(4, output_mode="count")(
        x, count_weights=w))
    got = layers.CategoryEncoding(4, output_mode="count")(x, count_weights=w).numpy()
    np.testing.assert_allclose(got, want)
    with pytest.raises(ValueError, match="out of range"):
        layers.CategoryEncoding(3)(np.array([[0, 3]]))


def _same_layer(a, b, inputs):
    assert a.get_config() == b.get_config()
    np.testing.assert_array_equal(np.asarray(a(inputs).numpy()), np.asarray(b(inputs).numpy()))


def test_config_round_trip_keeps_vocabulary():
    from ember.keras import layers
    texts = ["The cat sat.", "the dog, the cat", "A bird"]
    for kwargs in ({"max_tokens": 6, "output_sequence_length": 4},
                   {"output_mode": "tf_idf", "ngrams": 2, "pad_to_max_tokens": True, "max_tokens": 20},
                   {"output_mode": "count", "split": "character", "standardize": "lower"}):
        tv = layers.TextVectorization(**kwargs)
        tv.adapt(texts)
        back = layers.TextVectorization.from_config(tv.get_config())
        assert back.get_vocabulary() == tv.get_vocabulary()
        _same_layer(tv, back, texts + ["zebra cat"])
    sl = layers.StringLookup(mask_token="", num_oov_indices=2, output_mode="int")
    sl.adapt(["a", "b", "b", ""])
    _same_layer(sl, layers.StringLookup.from_config(sl.get_config()), [["a", "", "q", "b"]])
    il = layers.IntegerLookup(output_mode="tf_idf")
    il.adapt(np.array([[1, 2, 2], [3, 1, 1]]))
    _same_layer(il, layers.IntegerLookup.from_config(il.get_config()), np.array([[1, 9, 3]]))
    h = layers.Hashing(8, salt=3, mask_value="")
    _same_layer(h, layers.Hashing.from_config(h.get_config()), ["", "a", "bb"])
    ce = layers.CategoryEncoding(5, output_mode="count")
    _same_layer(ce, layers.CategoryEncoding.from_config(ce.get_config()), np.array([[1, 1, 4]]))


def test_adapt_on_tf_data_and_map(tmp_path):
    """keras-io's pattern: adapt on a tf.data text dataset, vectorize in dataset.map, train an
    Embedding + GlobalAveragePooling1D + Dense with fit; save the vectorizer in a .keras model."""
    from ember import keras
    from ember.keras import layers
    import ember.keras.tf as tf
    texts = ["good movie great fun", "bad movie awful plot", "great acting good story",
             "awful boring bad", "fun great good", "boring bad plot"]
    labels = np.array([1, 0, 1, 0, 1, 0], "float32")
    ds = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(2)
    vec = layers.TextVectorization(max_tokens=20, output_sequence_length=5)
    vec.adapt(ds.map(lambda x, y: x))
    direct = layers.TextVectorization(max_tokens=20, output_sequence_length=5)
    direct.adapt(np.array(texts))
    assert vec.get_vocabulary() == direct.get_vocabulary()
    assert vec.get_vocabulary()[:4] == ["", "[UNK]", "great", "good"]   # 3 each: 'good' < 'great'
    vds = ds.map(lambda x, y: (vec(x), y))
    x0, _ = next(iter(vds))
    assert str(x0.dtype) == "int64" and tuple(x0.shape) == (2, 5)
    np.testing.assert_array_equal(x0.numpy(), vec(texts[:2]).numpy())
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(5,), dtype="int64"), layers.Embedding(20, 8),
                              layers.GlobalAveragePooling1D(), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(vds, epochs=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0] * 0.5
    assert hist.history["accuracy"][-1] == 1.0
    # a model with the vectorizer first: saved and loaded with its vocabulary
    end_to_end = keras.Sequential([vec, model])
    want = end_to_end(texts).numpy()
    end_to_end.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].get_vocabulary() == vec.get_vocabulary()
    np.testing.assert_allclose(loaded(texts).numpy(), want, rtol=1e-6)


def test_inputs_kinds_and_errors():
    from ember import keras
    from ember.keras import layers
    from ember.tensor import Tensor
    vec = layers.TextVectorization(vocabulary=["cat", "dog"])
    want = [[2, 1, 3]]
    for x in (["Cat the dog"], np.array(["Cat the dog"]), np.array([["Cat the dog"]], object),
              [b"Cat the dog"], Tensor.wrap(np.array(["Cat the dog"]))):
        assert vec(x).numpy().tolist() == want
    assert vec("Cat the dog").numpy().tolist() == want[0]
    with pytest.raises(ValueError, match="cannot adapt"):
        vec.adapt(["more text"])
    with pytest.raises(TypeError, match="dtype='string'"):
        keras.Input(shape=(1,), dtype="string")
    with pytest.raises(ValueError, match="sparse=True is not supported"):
        layers.StringLookup(output_mode="multi_hot", sparse=True)
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        layers.StringLookup(vocabulary=["a"], num_oov_indices=0)(["b"])
    with pytest.raises(ValueError, match="idf_weights"):
        layers.StringLookup(vocabulary=["a"], output_mode="tf_idf")
    with pytest.raises(RuntimeError, match="adapt"):
        layers.StringLookup(output_mode="multi_hot")(["a"])
    with pytest.raises(ValueError, match="repeats"):
        layers.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="output_sequence_length"):
        layers.TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="rank 1 or a last axis of size 1"):
        vec(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="expected strings"):
        layers.StringLookup(vocabulary=["a"])([1, 2])


def test_callables_and_set_vocabulary():
    from ember.keras import layers

    def standardize(x):             # Keras' non-TF backends pass a NumPy str array
        assert isinstance(x, np.ndarray)
        return np.char.replace(np.char.lower(x), "-", " ")

    def split(x):
        return [s.split(" ") for s in x.tolist()]
    vec = layers.TextVectorization(standardize=standardize, split=split, output_sequence_length=4)
    vec.adapt(["A-b a", "b-C c c"])
    assert vec.get_vocabulary() == ["", "[UNK]", "c", "b", "a"]
    assert vec(["C-a-Q"]).numpy().tolist() == [[2, 4, 1, 0]]
    vec.set_vocabulary(["x", "c"])
    assert vec(["C-x"]).numpy().tolist() == [[3, 2, 0, 0]]
    assert vec.get_vocabulary(include_special_tokens=False) == ["x", "c"]
    inv = layers.StringLookup(vocabulary=["a", "b"], invert=True)
    fwd = layers.StringLookup(vocabulary=["a", "b"])
    ids = fwd([["b", "a"], ["q", "b"]])
    assert inv(ids).numpy().tolist() == [["b", "a"], ["[UNK]", "b"]]


def test_integer_lookup_in_functional_model(tmp_path):
    """keras-io's structured-data pattern: IntegerLookup(one_hot) on keras.Input(dtype='int64')
    in a functional model, saved to .keras and loaded back with its vocabulary."""
    from ember import keras
    from ember.keras import layers
    lookup = layers.IntegerLookup(output_mode="one_hot")
    lookup.adapt(np.array([[1], [2], [2], [3]]))
    inp = keras.Input(shape=(1,), dtype="int64")
    encoded = lookup(inp)
    assert encoded.shape == (None, 4)
    model = keras.Model(inp, layers.Dense(2)(keras.ops.cast(encoded, "float32")))
    x = np.array([[1], [3], [7]])
    want = model.predict(x, verbose=0)
    np.testing.assert_allclose(
        want, model.layers[-1](lookup(x).numpy().astype("float32")).numpy(), rtol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, rtol=1e-6)


# tf.strings.to_hash_bucket_fast(s, 2**62) and to_hash_bucket_strong(s, 2**62, key=[133, 2**40 + 7])
# from TensorFlow 2.21: every length branch of FarmHash (0-16, 17-32, 33-64, > 64 bytes)
HASHES = [
    ("", 1936946117179621455, 1763187239611297126),
    ("a", 3694432073954588131, 1099131657617994417),
    ("ab", 3066228220894225694, 506070495874550417),
    ("abc", 2640714258260161385, 3354348606667554968),
    ("abcd", 1897425971756105985, 1389957693641941408),
    ("hello", 3786372426573024488, 1555574223259535373),
    ("hello w", 1806291608031355033, 4141378815688205581),
    ("12345678", 3430003927990384362, 1975118006174384507),
    ("123456789abcdef", 4570271001221851636, 4438565640513653674),
    ("0123456789abcdefg", 2800675501336285770, 131007231357866164),
    ("x" * 31, 653807226908884511, 781782961766103591),
    ("y" * 32, 2351315479247125839, 2442520457090201479),
    ("z" * 33, 1983000239170337647, 1703379107260263962),
    ("Ünïcode straße ÄÖ", 2790794607492529880, 4525912862295679549),
    ("q" * 63, 2530101068778109086, 3225099436832924413),
    ("r" * 64, 2541438898951119077, 4265718474093570846),
    ("s" * 65, 1061654871742741127, 3676606391347443033),
    ("The quick brown fox jumps over the lazy dog, again and again and again!", 3085418243975595470, 1889346697192294175),
    ("t" * 128, 1199171485689579515, 2350563945397894671),
    ("u" * 129, 1186471084750925620, 3250992474229351091),
    ("v" * 200, 3418923557503646492, 4581200225904551934),
    ("w" * 1000, 2136240263560119370, 3965637096876038676),
]


def test_string_hashes_match_tensorflow():
    from ember.keras.layers.string_hash import fingerprint64, siphash24
    for s, fast, strong in HASHES:
        assert fingerprint64(s) % 2**62 == fast, (s, len(s.encode()))
        assert siphash24((133, 2**40 + 7), s) % 2**62 == strong, (s, len(s.encode()))


def test_hashing_layer_from_a_keras_config():
    """Keras records Hashing's int64 output as its dtype policy; a .keras file's config loads."""
    from ember.keras.keras_file.config_map import layer_from_keras
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "int64"},
              "registered_name": None}
    spec = {"module": "keras.layers", "class_name": "Hashing", "registered_name": None,
            "config": {"name": "h", "dtype": policy, "num_bins": 7, "salt": None,
                       "mask_value": None, "output_mode": "int", "sparse": False}}
    got = layer_from_keras(spec)(["a", "b", "cat", "", "Ünïcode"]).numpy().tolist()
    assert got == EXPECTED["hash_str"]["outputs"][0]["value"][:5]
