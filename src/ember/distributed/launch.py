"""Start a Python program on several MPI ranks of this machine: ``python -m
ember.distributed.launch -n 2 train.py --epochs 3``.

It runs ``mpirun -n N python train.py ...`` with the settings a laptop or CI box needs and people
forget: one BLAS/OpenMP thread per rank (``OMP_NUM_THREADS=1`` etc., unless already set), and for
Open MPI ``--oversubscribe`` when there are more ranks than cores and ``--allow-run-as-root``
when running as root (containers).  On a cluster call ``mpirun`` yourself (hostfile, bindings).
"""
import argparse
import os
import shutil
import subprocess
import sys

__all__ = ["mpirun_command", "rank_environment", "main"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _launcher():
    for name in ("mpirun", "mpiexec"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _is_open_mpi(launcher):
    try:
        out = subprocess.run([launcher, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return "Open MPI" in (out.stdout + out.stderr) or "OpenRTE" in (out.stdout + out.stderr)


def rank_environment(threads_per_rank=1, base=None):
    """The environment for the ranks: ``base`` (default ``os.environ``) with one BLAS/OpenMP
    thread per rank unless set, and Open MPI's run-as-root consent when running as root."""
    env = dict(os.environ if base is None else base)
    for name in THREAD_VARIABLES:
        env.setdefault(name, str(threads_per_rank))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    return env


def mpirun_command(n, argv, python=None):
    """The command list that runs ``python argv...`` on ``n`` ranks of this machine.

    Raises FileNotFoundError (with the install command) when no ``mpirun``/``mpiexec`` exists.
    """
    launcher = _launcher()
    if launcher is None:
        raise FileNotFoundError(
            "ember.distributed.launch: no mpirun or mpiexec on PATH. Install an MPI, e.g. "
            "'apt-get install -y openmpi-bin libopenmpi-dev && pip install mpi4py'")
    cmd = [launcher, "-n", str(int(n))]
    if _is_open_mpi(launcher):
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        # Allowed even when not needed; required when n exceeds the cores Open MPI counts.
        cmd.append("--oversubscribe")
    return cmd + [python or sys.executable] + list(argv)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m ember.distributed.launch",
        description="Run a Python script on N MPI ranks of this machine (one thread per rank).")
    parser.add_argument("-n", "--nproc", type=int, default=2, help="number of ranks (default 2)")
    parser.add_argument("--threads-per-rank", type=int, default=1,
                        help="BLAS/OpenMP threads per rank (default 1)")
    parser.add_argument("--dry-run", action="store_true", help="print the command and exit")
    parser.add_argument("script", help="the Python file to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    ns = parser.parse_args(argv)
    if ns.nproc < 1:
        parser.error("-n must be at least 1")
    cmd = mpirun_command(ns.nproc, [ns.script] + ns.args)
    if ns.dry_run:
        print(" ".join(cmd))
        return 0
    return subprocess.call(cmd, env=rank_environment(ns.threads_per_rank))


if __name__ == "__main__":
    sys.exit(main())
