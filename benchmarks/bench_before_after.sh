#!/usr/bin/env bash
# Training-step benchmarks of two ember trees, alternately, in one sitting:
#   benchmarks/bench_before_after.sh REV [ROUNDS]
# REV (e.g. a commit before a refactor) is checked out into a temporary git worktree; "after" is
# this working tree.  Each round runs bench_training.py (MLP, CNN, LSTM against PyTorch in one
# process) and a 30-iteration GPT `baby` run of bench_gpt.py for both trees.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rev=${1:?usage: bench_before_after.sh REV [ROUNDS]}
rounds=${2:-2}
before=$(mktemp -d)
git -C "$here" worktree add --detach "$before" "$rev" >/dev/null
trap 'git -C "$here" worktree remove --force "$before"' EXIT
export EMBER_SHAKESPEARE=${EMBER_SHAKESPEARE:-$here/../shared/data/tinyshakespeare/input.txt}
for round in $(seq 1 "$rounds"); do
  for tree in before after; do
    root=$([ "$tree" = before ] && echo "$before" || echo "$here")
    echo "=== $tree ($([ "$tree" = before ] && echo "$rev" || echo working tree)), round $round, $(date +%T)"
    (cd "$root/benchmarks" && PYTHONPATH="$root/src" python3 bench_training.py | grep -E "step|ember /")
    (cd "$root/benchmarks" && PYTHONPATH="$root/src" python3 bench_gpt.py --framework ember \
        --iters 30 --no-interleaved | grep -E "step [0-9.]+ ms")
  done
done
