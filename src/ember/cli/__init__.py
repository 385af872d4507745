"""The ``ember`` console script: ``ember <command> [options]``.

Each command lives in its own module of this package and defines ``add_arguments(parser)`` and
``run(args)``; the module is imported only when its command is used, so ``ember demo`` never pays
for the GPT code and vice versa.
"""
import argparse
import importlib
import sys

# command name -> (module in ember.cli, one-line help)
COMMANDS = {
    "demo": ("demo", "train the seed CNN on Fashion-MNIST, print accuracy, save history.png and a checkpoint"),
    "train-gpt": ("train_gpt", "pretrain a GPT on a text file (char-level or byte-level BPE)"),
    "export": ("export", "export a saved model or an `ember train-gpt` checkpoint to ONNX"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ember", description="ember command-line tools")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        # Only the chosen command's module is imported (to add its options).
        argv_list = sys.argv[1:] if argv is None else list(argv)
        if argv_list and argv_list[0] == name:
            importlib.import_module(f"ember.cli.{module}").add_arguments(p)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    result = importlib.import_module(f"ember.cli.{args._module}").run(args)
    return 0 if result is None else int(result)


if __name__ == "__main__":
    sys.exit(main())
