"""The test tree mirrors src/ember; its folders named after packages must never pose as them."""
import importlib.util
import os

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_test_folders_do_not_shadow_packages_of_the_same_name():
    for name in ("keras", "data", "datasets", "models", "text", "nn", "ops", "optim", "train",
                 "distributed", "serialization", "examples", "benchmarks", "onnx", "io"):
        spec = importlib.util.find_spec(name)
        where = [spec.origin] if spec and spec.origin else list(spec.submodule_search_locations
                                                                if spec else [])
        assert not any(os.path.abspath(w).startswith(TESTS + os.sep) for w in where), (name, where)


def test_every_test_file_sits_in_a_folder_and_has_a_unique_name():
    seen = {}
    for root, _, files in os.walk(TESTS):
        for f in files:
            if f.startswith("test_") and f.endswith(".py"):
                assert root != TESTS, f"{f}: put it in the folder of the package it tests"
                assert f not in seen, (f, root, seen.get(f))
                seen[f] = root
