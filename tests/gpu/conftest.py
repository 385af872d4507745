"""tests/gpu: tests that need a CUDA GPU (and, for parity, PyTorch CUDA).  Elsewhere they skip;
the reason is printed at the end of the run (and per test with ``pytest -rs``)."""
import os
import sys

# the op tables (tests/ops/test_ops_*.py) are reused here; op_harness and the PyTorch GPT reference
# are in tests/support, which tests/conftest.py puts on sys.path
_OPS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ops")
if _OPS not in sys.path:
    sys.path.insert(0, _OPS)


def pytest_terminal_summary(terminalreporter):
    from _gpu import NO_GPU, NO_TORCH_CUDA
    if NO_GPU:
        terminalreporter.write_line(f"tests/gpu skipped: {NO_GPU}")
    elif NO_TORCH_CUDA:
        terminalreporter.write_line(f"tests/gpu parity tests skipped: {NO_TORCH_CUDA}")
