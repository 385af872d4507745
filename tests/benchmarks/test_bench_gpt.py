"""benchmarks/bench_gpt.py's nanoGPT protocol: ember, started from nanoGPT's initial weights and fed
torch's batch draws, follows the PyTorch run (the seed-sweep numbers in RESULTS.md rest on this).
A few iterations on a small corpus; the benchmark's numbers themselves are not tested here."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "bench_gpt.py")
TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. "
        "resolved.\n\n") * 40


def child(framework, corpus, iters=30, seed=3):
    env = dict(os.environ, EMBER_SHAKESPEARE=str(corpus))
    out = subprocess.run([sys.executable, BENCH, "--child", "nanogpt-" + framework, str(iters), str(seed)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_ember_on_nanogpt_draws_follows_pytorch(tmp_path):
    corpus = tmp_path / "small.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    torch_run = child("torch", corpus)
    ember_run = child("ember", corpus)
    assert torch_run["framework"] == "nanogpt-torch" and ember_run["framework"] == "nanogpt-ember"
    for key in ("printed_val", "printed_train", "val_20", "val_200", "val_full", "train_200"):
        assert ember_run[key] == pytest.approx(torch_run[key], abs=2e-4), key
    # the comparison can fail: 30 steps of AdamW (still in the warm-up) moved the loss far more
    # than the tolerance away from where one step leaves it
    one_step = child("torch", corpus, iters=1)
    assert torch_run["val_full"] < one_step["val_full"] - 0.05
