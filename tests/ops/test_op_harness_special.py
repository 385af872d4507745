"""The table harness's special-value run (op_harness.with_special_values / test_parity_special):
which inputs get -0.0 / 0.0 / nan / inf / -inf, and that the check catches what it is for."""
import numpy as np
import pytest

import ember.functional as F
from op_harness import (SPECIAL_VALUES, Row, check_parity, const, fixed, ints, make_inputs, mask,
                        no_special, randn, special_rows, torch, uniform)

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)


def _specials(a):
    """The special values in a (as sorted strings, so that nan and -0.0 count)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    picked = a[~np.isfinite(a) | (a == 0)]
    return sorted(repr(float(v)) for v in picked)


def test_random_differentiable_inputs_get_every_special_value_once():
    row = Row("r", None, None, [randn(3, 4), uniform(5), fixed([1.0, 2.0]), ints(3, 4), mask(4),
                                const(randn(3))], seed=3)
    plain = make_inputs(row, np.float32)
    edited = make_inputs(row, np.float32, special=True)
    want = sorted(repr(float(v)) for v in SPECIAL_VALUES)
    for i in (0, 1):
        assert _specials(edited[i]) == want
        kept = np.isfinite(edited[i]) & (edited[i] != 0)
        np.testing.assert_array_equal(edited[i][kept], plain[i][kept])     # the rest as before
        assert kept.sum() == plain[i].size - len(SPECIAL_VALUES)
    for i in (2, 3, 4, 5):                                                  # fixed, ints, mask, const
        np.testing.assert_array_equal(edited[i], plain[i])
    again = make_inputs(row, np.float32, special=True)
    np.testing.assert_array_equal(again[0], edited[0])                      # deterministic per seed


def test_tiny_inputs_get_as_many_special_values_as_fit():
    row = Row("r", None, None, [randn(2), randn()], seed=1)
    a, b = make_inputs(row, np.float32, special=True)
    assert len(set(_specials(a))) == 2 and len(_specials(b)) == 1


def test_special_run_catches_what_the_plain_run_misses():
    # an op that turns nan into 0 agrees with PyTorch on finite inputs only
    row = Row("nan_eater", lambda x: F.nan_to_num(x, nan=0.0, posinf=np.inf, neginf=-np.inf) * 2.0,
              lambda x: x * 2.0, [randn(3, 4)])
    check_parity(row)
    with pytest.raises(AssertionError, match="nan location mismatch"):
        check_parity(row, special=True)


def test_when_pytorch_rejects_the_special_values_ember_must_too():
    def t_reject(x):
        if torch.isnan(x).any():
            raise RuntimeError("nan")
        return x * 1.0
    accepts = Row("accepts", lambda x: x * 1.0, t_reject, [randn(3, 4)])
    with pytest.raises(pytest.fail.Exception):
        check_parity(accepts, special=True)
    rejects = Row("rejects", lambda x: F.sqrt(x) if not np.isnan(x.numpy()).any() else 1 / 0, t_reject,
                  [randn(3, 4)])
    check_parity(rejects, special=True)


def test_opting_out_needs_a_known_row_and_a_reason():
    rows = [Row("a", F.exp, torch.exp, [randn(3)]), Row("b", F.exp, torch.exp, [const(randn(3))])]
    assert [r.name for r in special_rows(rows)] == ["a"]                    # b: nothing to edit
    with pytest.raises(ValueError, match="no rows named"):
        no_special(rows, {"c": "why"})
    with pytest.raises(ValueError, match="reason"):
        no_special(rows, {"a": " "})
    no_special(rows, {"a": "because"})
    assert special_rows(rows) == []
