"""Run under ``mpirun -n 2``: ``Model.fit`` data-parallel without any distributed code here.

Usage: ``python fit_model.py RANK0_DIR RANK1_DIR ONE_PROCESS_CHECKPOINT``.  Each rank works in its
own directory (``os.chdir``) and every file name below is relative, so a file written by rank 1
would appear in RANK1_DIR: the test checks that only rank 0 wrote.  Rank 0 also writes
``results.safetensors`` (parameters, histories, measurements) there.  The single-process
reference runs in the test itself (models and data from fit_common).
"""
import os
import sys

import numpy as np

import ember
import fit_common as fc
from ember.train.callbacks import Callback, CSVLogger, ModelCheckpoint


class StopOnRank1(Callback):
    """Asks to stop after batch 3 -- on rank 1 only: every rank must stop there."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 3 and ember.distributed.rank() == 1:
            self.model.stop_training = True


def flat(model):
    return np.concatenate([p.data.reshape(-1) for p in model.parameters()])


def main():
    rank = ember.distributed.rank()           # (only for choosing the directory)
    os.chdir(sys.argv[1 + rank])
    one_process_checkpoint = sys.argv[3]
    x, y, xv, yv = fc.data()
    results = {}

    # 1. Adam, validation data of uneven size, a checkpoint, a CSV log, a plot.
    model = fc.make_model()
    history = model.fit(x, y, batch_size=fc.BATCH // 2, epochs=1, seed=fc.SEED,
                        validation_data=(xv, yv), verbose=2,
                        callbacks=[ModelCheckpoint("plain.safetensors", save_best_only=False),
                                   CSVLogger("log.csv")])
    history.plot("history.png")
    results["plain_params"] = flat(model)
    results["plain_history"] = {k: np.array(v) for k, v in history.history.items()}

    # 2. ZeRO-1 (shard_optimizer_state=True), saved with Model.save by every rank.
    zmodel = fc.make_model()
    zhistory = zmodel.fit(x, y, batch_size=fc.BATCH // 2, epochs=1, seed=fc.SEED, verbose=0,
                          shard_optimizer_state=True)
    zmodel.save("zero_epoch1.safetensors")
    state_bytes = np.array([ember.distributed.optimizer_state_nbytes(zmodel.optimizer)],
                           dtype=np.int64)
    results["zero_params"] = flat(zmodel)
    results["zero_history_loss"] = np.array(zhistory.history["loss"])
    results["zero_state_bytes_per_rank"] = ember.distributed.allgather(state_bytes)
    results["zero_optimizer_class"] = np.frombuffer(
        type(zmodel.optimizer).__name__.encode(), dtype=np.uint8).copy()

    # 3. Gradient accumulation (2 micro-batches of B/4 per rank and step: one step of B).
    amodel = fc.make_model()
    amodel.fit(x, y, batch_size=fc.BATCH // 4, epochs=1, seed=fc.SEED, verbose=0,
               gradient_accumulation_steps=2)
    results["accumulation_params"] = flat(amodel)

    # 4. A callback stops rank 1 after batch 3: both ranks stop after 4 steps.
    smodel = fc.make_model()
    smodel.fit(x, y, batch_size=fc.BATCH // 2, epochs=1, seed=fc.SEED, verbose=0,
               callbacks=[StopOnRank1()])
    results["stop_steps_per_rank"] = ember.distributed.allgather(
        np.array([smodel.steps_completed], dtype=np.int64))

    # 5. Resume a single-process checkpoint (after epoch 1) on 2 ranks with ZeRO for epoch 2.
    rmodel = ember.train.load_model(one_process_checkpoint)
    rmodel.fit(x, y, batch_size=fc.BATCH // 2, epochs=2, initial_epoch=1, seed=fc.SEED,
               verbose=0, shard_optimizer_state=True)
    results["resumed_params"] = flat(rmodel)

    # 6. An ember.keras model through keras' fit (no seed given: rank 0's draw is used).
    kmodel = fc.make_keras_model()
    kmodel.fit(x, y, batch_size=fc.BATCH // 2, epochs=1, verbose=0)
    results["keras_params"] = flat(kmodel)

    # Replicas agree bit for bit.
    mine = np.concatenate([results[k] for k in ("plain_params", "zero_params",
                                                "accumulation_params", "resumed_params",
                                                "keras_params")])
    root = mine.copy()
    ember.distributed.broadcast(root)
    results["replica_max_abs_diff"] = np.array([float(np.abs(mine - root).max())])
    if ember.distributed.is_main():
        ember.save(results, "results.safetensors")


if __name__ == "__main__":
    main()
