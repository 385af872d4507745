"""ember.backend.malloc_tuning: when it raises glibc's malloc thresholds and when it leaves them."""
import resource
import sys

import numpy as np
import pytest

from ember.backend import malloc_tuning


def test_sets_both_thresholds_through_mallopt():
    calls = []
    reason = malloc_tuning.tune({}, mallopt=lambda param, value: calls.append((param, value)) or 1)
    assert calls == [(-3, 32 << 20), (-1, 256 << 20)]
    assert "32 MiB" in reason and "256 MiB" in reason


def test_leaves_alone_opt_out_user_choice_and_other_libcs():
    def refuse(param, value):
        raise AssertionError("mallopt must not be called")
    for env in ({"EMBER_MALLOC_TUNING": "0"}, {"MALLOC_MMAP_THRESHOLD_": "131072"},
                {"MALLOC_TRIM_THRESHOLD_": "0"}, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}):
        malloc_tuning.tune(env, mallopt=refuse)
    assert malloc_tuning.tune({}, mallopt=lambda p, v: 0) == "glibc refused the thresholds: left alone"


@pytest.mark.skipif(not sys.platform.startswith("linux") or malloc_tuning._glibc() is None,
                    reason="glibc only")
def test_repeated_mib_sized_arrays_do_not_page_fault():
    import os
    reason = malloc_tuning.tune(os.environ)      # what importing ember did (idempotent)
    if not reason.startswith("glibc: mmap"):
        pytest.skip(f"tuning not applied here: {reason}")
    a = np.ones((512, 1024), dtype=np.float32)            # 2 MiB

    def step():
        # like a training step: several MiB-sized arrays alive together, then all freed (with
        # glibc's defaults the freed heap top is trimmed and every step faults ~4,000 pages)
        arrays = [a * i for i in range(8)]
        return sum(float(x[0, 0]) for x in arrays)
    for _ in range(3):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()
    per_step = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20
    assert per_step < 100, per_step
