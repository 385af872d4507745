"""ember.backend.blas_spin: OpenBLAS's idle worker threads sleep soon after a product."""
import os
import subprocess
import sys
import textwrap

import pytest

from ember.backend import blas_spin


@pytest.fixture(autouse=True)
def _keep_decision(monkeypatch):
    # tune() records what it did in a module global that ember.backend.info() (and so every
    # checkpoint's metadata) reports: the fake environments below must not leave theirs there
    monkeypatch.setattr(blas_spin, "decision", blas_spin.decision)


def test_sets_the_timeout_rereads_the_environment_then_restarts_the_workers():
    env, calls = {}, []
    functions = (lambda: calls.append(("read_env", env.get("OPENBLAS_THREAD_TIMEOUT"))),
                 lambda: calls.append(("shutdown", None)) or 0)
    reason = blas_spin.tune(env, functions=functions)
    assert env["OPENBLAS_THREAD_TIMEOUT"] == "22"
    assert calls == [("read_env", "22"), ("shutdown", None)]      # OpenBLAS reads the new value
    assert "OPENBLAS_THREAD_TIMEOUT=22" in reason


def test_leaves_alone_opt_out_user_choice_and_other_blas():
    def refuse():
        raise AssertionError("OpenBLAS must not be touched")
    for env in ({"EMBER_BLAS_SPIN_TUNING": "0"}, {"OPENBLAS_THREAD_TIMEOUT": "28"}):
        before = dict(env)
        blas_spin.tune(env, functions=(refuse, refuse))
        assert env == before
    assert "set by the environment" in blas_spin.tune({"OPENBLAS_THREAD_TIMEOUT": "28"})


_IDLE_CPU = textwrap.dedent("""
    import time
    import ember                       # tunes OpenBLAS at import (unless told not to)
    import numpy as np
    a = np.ones((1024, 1024), dtype=np.float32)
    for _ in range(3):
        a @ a                          # a threaded product wakes the worker threads
    start = time.process_time()
    time.sleep(0.1)                    # this thread idles: any CPU now is OpenBLAS spinning
    print(time.process_time() - start)
""")


def _idle_cpu_seconds(**env):
    full = dict(os.environ, OPENBLAS_NUM_THREADS="2", **env)
    full.pop("OPENBLAS_THREAD_TIMEOUT", None)
    out = subprocess.run([sys.executable, "-c", _IDLE_CPU], env=full, capture_output=True,
                         text=True, timeout=120, check=True)
    return float(out.stdout.split()[-1])


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores for OpenBLAS worker threads")
def test_idle_workers_stop_burning_a_core_after_a_product():
    if blas_spin._functions() is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS with openblas_read_env/blas_thread_shutdown_")
    # OpenBLAS's own default: the worker spins ~0.1 s after the product, through the whole sleep
    # (a loaded machine gives it only part of a core, hence the modest bound)
    assert _idle_cpu_seconds(EMBER_BLAS_SPIN_TUNING="0") > 0.02
    assert _idle_cpu_seconds() < 0.01
