"""Checkpoints across world sizes.  Run with 1 process (``python resume.py ...``) or 2
(``mpirun -n 2 python resume.py ...``); the global batch is always 20 (20 / world_size per rank).

  --mode full --tag T: train steps 0..19 from scratch, write T_ckpt10.safetensors after step 10
      and T_final.safetensors (the parameters) at the end;
  --mode resume --load CKPT --tag T: load CKPT (written under any world size), train the
      remaining steps, write T_final.safetensors.
With 2 ranks the optimizer is a ZeroRedundancyOptimizer (sharded Adam) inside DDP; with 1 it is
plain Adam: a checkpoint written by either must resume in the other.
"""
import argparse
import os

import common
import ember
import ember.distributed as dist

GLOBAL_BATCH = 20
STEPS = 20
SAVE_AT = 10


def build():
    model = common.make_model(seed=5)
    if dist.world_size() > 1:
        net = dist.DistributedDataParallel(model)
        opt = dist.ZeroRedundancyOptimizer(net.parameters(), ember.optim.Adam, lr=5e-3)
    else:
        net = model
        opt = ember.optim.Adam(model.parameters(), lr=5e-3)
    return model, net, opt


def train(net, opt, first, out_dir, tag, save):
    x, y = common.data()
    p = dist.world_size()
    sampler = dist.DistributedSampler(common.N_SAMPLES, seed=common.ORDER_SEED)
    sampler.set_epoch(0)
    mine = sampler.indices()
    per_rank = GLOBAL_BATCH // p
    for s in range(first, STEPS):
        idx = mine[s * per_rank:(s + 1) * per_rank]
        loss = common.loss_of(net, x[idx], y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if save and s + 1 == SAVE_AT:
            dist.save_checkpoint(os.path.join(out_dir, f"{tag}_ckpt10.safetensors"), net, opt,
                                 extra={"step": s + 1})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["full", "resume"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--load")
    args = ap.parse_args()
    model, net, opt = build()
    first = 0
    if args.mode == "resume":
        extra = dist.load_checkpoint(args.load, net, opt)
        first = int(extra["step"])
    train(net, opt, first, args.out, args.tag, save=args.mode == "full")
    if dist.is_main():
        ember.save({"params": [p.data for p in model.parameters()],
                    "world_size": dist.world_size()},
                   os.path.join(args.out, f"{args.tag}_final.safetensors"))


if __name__ == "__main__":
    main()
