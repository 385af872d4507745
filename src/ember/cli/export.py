"""``ember export``: convert a saved ember model to ONNX (``ember.onnx.export``).

    ember export model.safetensors model.onnx                 # a Model.save / keras save file
    ember export model.safetensors model.onnx --input-shape 28,28,1
    ember export out-baby/best.safetensors gpt.onnx           # an `ember train-gpt` checkpoint

CHECKPOINT is either a file written by ``Model.save`` (ember's safetensors format: an
``ember.Model`` / ``ember.Sequential`` or an ``ember.keras`` model, rebuilt with
``ember.train.load_model``) or a checkpoint of ``ember train-gpt`` (the GPT is rebuilt from the
config stored in it and exported as ``ids`` (batch, seq) int64 -> ``logits`` (batch, seq, vocab)
with dynamic batch and sequence axes).  Keras ``.keras`` / HDF5 files cannot be read: ember does
not load them today.  The batch axis of a saved model is dynamic; ``--input-shape`` (the shape of
one example, without the batch axis) is needed only when the file does not record it.

Exit status: 0 written, 2 an error (message on stderr).
"""
import argparse
import sys


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = __doc__
    parser.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="a Model.save file (ember safetensors) or an `ember train-gpt` "
                             "checkpoint (.keras files are not supported: ember cannot load them)")
    parser.add_argument("output", metavar="OUT.onnx", help="the ONNX file to write")
    parser.add_argument("--input-shape", metavar="D1,D2,...", default=None,
                        help="shape of one input example without the batch axis (e.g. 28,28,1); "
                             "default: the shape recorded in the checkpoint")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="batch size of the example traced (the batch axis stays dynamic)")
    parser.add_argument("--seq-len", type=int, default=8,
                        help="GPT: length of the example sequence traced (the axis stays dynamic)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (>= 17, default 17)")


def _gpt_checkpoint(path):
    """(model, None) for an `ember train-gpt` checkpoint, or None for any other file."""
    from ..models import gpt_trainer
    try:
        ckpt = gpt_trainer._load_checkpoint(path)
    except (ValueError, KeyError, TypeError, OSError):
        return None
    except Exception:      # noqa: BLE001  (not a checkpoint ember.load understands)
        return None
    from ..models.gpt import GPT
    from ..text import tokenizer_from_json
    config = gpt_trainer.TrainConfig.from_dict(ckpt["config"])
    vocab = tokenizer_from_json(ckpt["tokenizer"]).vocab_size
    model = GPT(gpt_trainer._gpt_config(config, vocab))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model


def run(args):
    import numpy as np
    try:
        import ember.onnx as eonnx
    except ImportError as e:
        print(f"ember export: needs the onnx package ({e}); pip install onnx", file=sys.stderr)
        return 2
    path = args.checkpoint
    if path.endswith((".keras", ".h5", ".hdf5")):
        print(f"ember export: {path}: Keras .keras / HDF5 files cannot be loaded by ember; save the "
              "model with model.save('model.safetensors') from ember", file=sys.stderr)
        return 2
    try:
        gpt = _gpt_checkpoint(path)
        if gpt is not None:
            T = max(1, min(args.seq_len, gpt.config.block_size))
            ids = np.zeros((max(1, args.batch_size), T), dtype=np.int64)
            eonnx.export(gpt, ids, args.output, input_names=["ids"], output_names=["logits"],
                         dynamic_axes={"ids": {0: "batch", 1: "seq"},
                                       "logits": {0: "batch", 1: "seq"}},
                         opset_version=args.opset)
            print(f"wrote {args.output}: GPT ids (batch, seq) -> logits (batch, seq, "
                  f"{gpt.config.vocab_size})")
            return 0
        from ..train import load_model
        model = load_model(path, compile=False)
        if args.input_shape:
            shape = tuple(int(s) for s in args.input_shape.replace("x", ",").split(",") if s.strip())
        else:
            shape = getattr(model, "_input_shape", None)
            if shape is None:
                print("ember export: the checkpoint does not record its input shape; give "
                      "--input-shape (one example, without the batch axis)", file=sys.stderr)
                return 2
        x = np.random.default_rng(0).standard_normal((max(1, args.batch_size),) + tuple(shape))
        eonnx.export(model, x.astype(np.float32), args.output, input_names=["input"],
                     output_names=["output"],
                     dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                     opset_version=args.opset)
    except (OSError, ValueError, TypeError, RuntimeError, NotImplementedError) as e:
        print(f"ember export: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}: input (batch, {', '.join(map(str, shape))})")
    return 0
