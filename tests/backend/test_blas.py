"""ember.backend.blas: ember reports NumPy's BLAS kernels and never changes them, so import order
cannot make two processes of one run compute with different kernels."""
import json
import os
import subprocess
import sys

import ember
from ember.backend import blas

AVX512 = ["fpu", "avx2", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]


def _cpuinfo(tmp_path, vendor, flags):
    path = tmp_path / f"cpuinfo-{vendor}-{len(flags)}"
    path.write_text(f"processor\t: 0\nvendor_id\t: {vendor}\nflags\t\t: {' '.join(flags)}\n\n")
    return str(path)


def _kernels_and_environment(order, env):
    code = (f"import {order[0]}, {order[1]}, json, os, ember; "
            "print(json.dumps([ember.backend.info()['blas']['corename'], "
            "os.environ.get('OPENBLAS_CORETYPE')]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_order_does_not_change_the_kernels_or_the_environment():
    for coretype in (None, "Haswell"):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
        if coretype:
            env["OPENBLAS_CORETYPE"] = coretype
        numpy_first = _kernels_and_environment(("numpy", "ember"), env)
        ember_first = _kernels_and_environment(("ember", "numpy"), env)
        assert numpy_first == ember_first, (coretype, numpy_first, ember_first)
        assert numpy_first[1] == coretype           # ember set nothing in the environment
        if coretype:
            assert numpy_first[0].lower() == coretype.lower()


def test_info_is_json_and_names_the_kernels_in_use():
    details = ember.backend.info()
    assert json.loads(json.dumps(details)) == details
    assert details["array_module"] == "numpy"
    b = details["blas"]
    assert b["OPENBLAS_CORETYPE"] == os.environ.get("OPENBLAS_CORETYPE")
    if b["corename"] is not None:                  # NumPy's wheels bundle OpenBLAS
        assert b["corename"] in ember.backend.describe()
        assert b["threads"] >= 1
    assert ("unset" in ember.backend.describe()) == (b["OPENBLAS_CORETYPE"] is None)


def test_hint_only_where_avx512_kernels_are_one_variable_away(tmp_path):
    amd = blas.cpu(_cpuinfo(tmp_path, "AuthenticAMD", AVX512))
    assert amd == ("AuthenticAMD", frozenset(AVX512))
    assert "OPENBLAS_CORETYPE=SKYLAKEX" in blas.hint("Haswell", *amd, environ={})
    assert "OPENBLAS_CORETYPE=Haswell is set" in blas.hint("Haswell", *amd,
                                                           environ={"OPENBLAS_CORETYPE": "Haswell"})
    assert blas.hint("SkylakeX", *amd, environ={}) is None                     # already fast
    assert blas.hint("Haswell", *blas.cpu(_cpuinfo(tmp_path, "GenuineIntel", AVX512)), {}) is None
    partial = blas.cpu(_cpuinfo(tmp_path, "AuthenticAMD", ["avx2", "avx512f"]))
    assert blas.hint("Haswell", *partial, environ={}) is None
    assert blas.cpu(str(tmp_path / "missing")) == ("", frozenset())
    assert blas.hint(None, *amd, environ={}) is None                           # not OpenBLAS


def test_describe_includes_the_hint(tmp_path):
    details = {"numpy": "2.0", "blas": {"corename": "Haswell", "OPENBLAS_CORETYPE": None,
                                        "threads": 1, "hint": "use SKYLAKEX"}}
    assert ember.backend.describe(details) == ("NumPy 2.0, OpenBLAS Haswell kernels, 1 thread, "
                                              "OPENBLAS_CORETYPE unset; hint: use SKYLAKEX")
    details["blas"]["OPENBLAS_CORETYPE"] = "Haswell"
    assert "OPENBLAS_CORETYPE=Haswell; hint" in ember.backend.describe(details)
