"""Run under ``mpirun -n 2``: rank 1 raises while rank 0 waits in a collective.

Without ember.distributed's excepthook, rank 1 would finalize MPI and exit while rank 0 waits in
its allreduce forever; with it, rank 1 prints its traceback and calls MPI_Abort, which stops the
whole job with a non-zero exit status.
"""
import numpy as np

import ember.distributed as dist

dist.init()
buf = np.ones(4, dtype=np.float32)
dist.allreduce(buf)                         # both ranks get here
if dist.rank() == 1:
    raise ValueError("deliberate failure on rank 1")
for _ in range(3):
    dist.allreduce(buf)                     # rank 0 would wait here forever
print("rank 0 finished: the failure did not stop the job", flush=True)
