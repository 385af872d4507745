"""What checking per-tensor checksums costs when loading a checkpoint.

Writes one ~100 MB checkpoint (``--mb``; float32 tensors of a few MB each, like a model's, plus a
few small ones) with ``ember.save``, then loads it ``--repeats`` times with ``verify=True`` and with
``verify=False`` in the same process, alternating which goes first, and reports the median of each
(the file is in the page cache after the first read: this is the worst case for the relative cost,
since reading from a disk would only add to both).  Also: the median save time, and the raw
throughput of the checksums that NumPy/stdlib offer on the same bytes (why CRC-32 was chosen).

    flock /tmp/ember-cpu.lock python benchmarks/bench_checksum.py
    python benchmarks/bench_checksum.py --mb 400 --repeats 9 --json out.json
"""
import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
import zlib

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
import ember  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=100.0, help="checkpoint size in MB (10^6 bytes)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--dir", default=None, help="folder for the file (default: a temp folder)")
    ap.add_argument("--json", default=None, help="write the numbers here too")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    total = int(args.mb * 1e6)
    chunk = 4 << 20                                   # 4 MiB tensors, the rest in the last one
    state = {}
    left, i = total, 0
    while left > 0:
        n = min(chunk, left) // 4
        state[f"layer.{i}.weight"] = rng.standard_normal(n, dtype=np.float32)
        left -= 4 * n
        i += 1
        if n == 0:
            break
    state["layer.bias"] = np.zeros(128, np.float32)
    state["step"] = np.int64(1000)

    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        path = os.path.join(d, "ckpt.safetensors")
        saves = [timed(lambda: ember.save({"model": state}, path)) for _ in range(3)]
        size = os.path.getsize(path)
        ember.load(path)                               # warm the page cache
        on, off = [], []
        for r in range(args.repeats):
            order = [(True, on), (False, off)] if r % 2 == 0 else [(False, off), (True, on)]
            for verify, times in order:
                times.append(timed(lambda: ember.load(path, verify=verify, as_numpy=True)))
        with open(path, "rb") as f:
            blob = f.read()

    view = memoryview(blob)
    hashes = {"zlib.crc32": lambda: zlib.crc32(view), "zlib.adler32": lambda: zlib.adler32(view),
              "hashlib.blake2b": lambda: hashlib.blake2b(view).digest(),
              "hashlib.sha256": lambda: hashlib.sha256(view).digest(),
              "hashlib.md5": lambda: hashlib.md5(view).digest()}
    rates = {name: len(blob) / min(timed(fn) for _ in range(3)) / 1e9 for name, fn in hashes.items()}

    med_on, med_off = statistics.median(on), statistics.median(off)
    result = {
        "file_bytes": size, "tensors": len(state), "repeats": args.repeats,
        "load_verify_s": med_on, "load_noverify_s": med_off,
        "overhead_s": med_on - med_off, "overhead_pct": 100 * (med_on - med_off) / med_off,
        "save_s": statistics.median(saves),
        "checksum_GBps": rates,
        "numpy": np.__version__, "zlib": zlib.ZLIB_RUNTIME_VERSION, "python": sys.version.split()[0],
    }
    print(f"file: {size / 1e6:.1f} MB, {len(state)} tensors, {args.repeats} loads each way "
          "(page cache warm), medians:")
    print(f"  load, verify=True : {med_on * 1e3:8.1f} ms  ({size / med_on / 1e9:.2f} GB/s)")
    print(f"  load, verify=False: {med_off * 1e3:8.1f} ms  ({size / med_off / 1e9:.2f} GB/s)")
    print(f"  checking costs    : {(med_on - med_off) * 1e3:8.1f} ms  "
          f"(+{result['overhead_pct']:.1f}%)")
    print(f"  save (checksums computed while writing, fsync included): {result['save_s'] * 1e3:.1f} ms")
    print("  checksum throughput on the same bytes: "
          + ", ".join(f"{k} {v:.2f} GB/s" for k, v in rates.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
