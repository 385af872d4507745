"""The house rules, checked on the source: a lower floor never imports a higher one, and no two
modules of ember import each other, directly or round a longer circle (a lazy import inside a
function counts: it is a circle all the same, only deferred)."""
import ast
import os

import pytest

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src", "ember")

#: Floor of each top-level module or package of ember (README.md, "Layout").
FLOORS = {
    "backend": 1, "dtypes": 1, "random": 1, "cuda": 1,
    "tensor": 2, "autograd": 2, "creation": 2, "amp": 2, "serialization": 2, "testing": 2,
    "dlpack": 2,
    "ops": 3, "functional": 3, "linalg": 3,
    "nn": 4, "optim": 4,
    "data": 5, "datasets": 5,
    "train": 6, "metrics": 6, "callbacks": 6,
    "keras": 7,
    "models": 8, "text": 8, "io": 8, "distributed": 8, "cli": 8, "onnx": 8,
}


def _modules():
    """{dotted module name: path} for every .py file under src/ember."""
    found = {}
    for root, _, files in os.walk(SRC):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, os.path.join(SRC, ".."))[:-3].split(os.sep)
                if rel[-1] == "__init__":
                    rel = rel[:-1]
                found[".".join(rel)] = path
    return found


MODULES = _modules()


def _is_package(module):
    return MODULES[module].endswith("__init__.py")


def _imports(module):
    """The ember modules ``module`` imports (anywhere in its body), as dotted names."""
    with open(MODULES[module], encoding="utf-8") as f:
        tree = ast.parse(f.read())
    package = module if _is_package(module) else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "ember")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "ember":
                continue
            for alias in node.names:    # `from pkg import submodule` imports the submodule
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in MODULES else target)
    out.discard(module)
    return {m for m in out if m in MODULES}


def _floor(module):
    parts = module.split(".")
    return FLOORS.get(parts[1]) if len(parts) > 1 else None


GRAPH = {m: _imports(m) for m in MODULES if m != "ember"}


def test_every_module_has_a_floor():
    assert not [m for m in GRAPH if _floor(m) is None], "add the new module to FLOORS"


def test_no_lower_floor_imports_a_higher_one():
    bad = sorted(f"{m} (floor {_floor(m)}) imports {t} (floor {_floor(t)})"
                 for m, targets in GRAPH.items() for t in targets
                 if t != "ember" and _floor(t) is not None and _floor(t) > _floor(m))
    assert not bad, "\n".join(bad)


#: Packages of one floor that must still not import each other: optimizers take parameters (any
#: tensors with gradients) and do not know the module system.
SAME_FLOOR_FORBIDDEN = {"optim": {"nn"}, "nn": {"optim"}}


def test_optimizers_and_modules_do_not_know_each_other():
    bad = sorted(f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets
                 if t.split(".")[1:2] and m.split(".")[1] in SAME_FLOOR_FORBIDDEN
                 and t.split(".")[1] in SAME_FLOOR_FORBIDDEN[m.split(".")[1]])
    assert not bad, "\n".join(bad)


def _edges_without_package_reexports():
    """Edges between modules, where importing a package's ``__init__`` from inside that package
    (``from . import x`` resolving to the package) does not count: ``__init__`` files only gather
    names for users."""
    edges = {}
    for m, targets in GRAPH.items():
        edges[m] = {t for t in targets if t != "ember" and not (
            _is_package(t) and (m == t or m.startswith(t + ".")))}
    return edges


def test_no_import_circles():
    edges = _edges_without_package_reexports()
    circles, state, stack = [], {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(edges.get(m, ())):
            if state.get(t) == "open":
                circles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not circles, "\n".join(circles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_source_file_is_over_700_lines(module):
    with open(MODULES[module], encoding="utf-8") as f:
        lines = sum(1 for _ in f)
    assert lines <= 700, f"{MODULES[module]}: {lines} lines; split it by purpose"
