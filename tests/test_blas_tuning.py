"""ember.backend.blas_tuning: when it sets OPENBLAS_CORETYPE and when it must leave it alone."""
from ember.backend import blas_tuning


def _cpuinfo(tmp_path, vendor, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: {vendor}\nflags\t\t: {' '.join(flags)}\n\n")
    return str(path)


AVX512 = ["fpu", "avx2", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]


def test_amd_with_avx512_gets_skylakex(tmp_path):
    env = {}
    reason = blas_tuning.tune(env, modules={}, cpuinfo=_cpuinfo(tmp_path, "AuthenticAMD", AVX512))
    assert env == {"OPENBLAS_CORETYPE": "SKYLAKEX"}
    assert "SKYLAKEX" in reason


def test_leaves_alone_user_choice_intel_missing_flags_late_import_and_opt_out(tmp_path):
    amd = _cpuinfo(tmp_path, "AuthenticAMD", AVX512)
    cases = [
        ({"OPENBLAS_CORETYPE": "Haswell"}, {}, amd),                               # user chose
        ({}, {"numpy": object()}, amd),                                            # too late
        ({"EMBER_BLAS_TUNING": "0"}, {}, amd),                                     # opt-out
        ({}, {}, _cpuinfo(tmp_path, "GenuineIntel", AVX512)),                      # Intel
        ({}, {}, _cpuinfo(tmp_path, "AuthenticAMD", ["avx2", "avx512f"])),          # partial AVX-512
        ({}, {}, str(tmp_path / "missing")),                                       # no /proc
    ]
    for env, modules, cpuinfo in cases:
        before = dict(env)
        blas_tuning.tune(env, modules=modules, cpuinfo=cpuinfo)
        assert env == before, (before, modules, cpuinfo)
