"""The engine's layers stay apart: ``ops`` holds array-level Functions only, ``functional`` the Tensor-level
functions and their argument checks, ``nn`` the layers that call ``functional``.

* no module of ``minigrad/ops/`` imports ``minigrad.tensor`` or the name ``Tensor`` (at the top or inside a
  function), nor ``minigrad.functional`` or ``minigrad.nn`` (which would bring ``Tensor`` in by the back door);
* ``minigrad/`` defines exactly one ``pair`` and one ``as_tensor``.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minigrad"
OPS = sorted((PACKAGE / "ops").glob("*.py"))
FORBIDDEN_MODULES = ("minigrad.tensor", "minigrad.functional", "minigrad.nn")


def absolute_module(path, root, node):
    """The modules an ``import`` / ``from ... import`` statement in ``path`` (under ``root``) names, made
    absolute."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    package = list(path.relative_to(root).with_suffix("").parts[:-1])   # e.g. ['minigrad', 'ops']
    if node.level:
        package = package[:len(package) - (node.level - 1)]
        return [".".join(package + ([node.module] if node.module else []))]
    return [node.module or ""]


def forbidden_imports(path, root=ROOT):
    """(line, what) for each import in ``path`` of a forbidden module or of a name ``Tensor``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        for module in absolute_module(path, root, node):
            if any(module == m or module.startswith(m + ".") for m in FORBIDDEN_MODULES):
                found.append((node.lineno, f"imports {module}"))
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name == "Tensor" or f"{module}.{alias.name}" in FORBIDDEN_MODULES:
                        found.append((node.lineno, f"imports {alias.name} from {module}"))
    return found


def test_ops_modules_are_found():
    assert {"conv.py", "pool.py", "batchnorm.py", "rnn.py", "elementwise.py"} <= {p.name for p in OPS}


@pytest.mark.parametrize("path", OPS, ids=lambda p: p.name)
def test_ops_do_not_import_tensor(path):
    found = forbidden_imports(path)
    assert not found, (f"minigrad/ops/{path.name} works on Tensors; move that code to minigrad.functional:\n  "
                       + "\n  ".join(f"line {n}: {what}" for n, what in found))


def test_the_check_catches_an_import_of_tensor(tmp_path):
    """The checker is not vacuous: each way of importing Tensor into an ops module is seen."""
    ops = tmp_path / "minigrad" / "ops"
    ops.mkdir(parents=True)
    sources = ["from ..tensor import Tensor\n", "from minigrad.tensor import as_array\n", "import minigrad.tensor\n",
               "from .. import tensor\n", "def f():\n    from ..functional import conv2d\n",
               "from minigrad import Tensor\n"]
    for k, source in enumerate(sources):
        path = ops / f"m{k}.py"
        path.write_text(source)
        assert forbidden_imports(path, root=tmp_path), source
    clean = ops / "clean.py"
    clean.write_text("from ..autograd import Function\nfrom .conv import pair\n")
    assert not forbidden_imports(clean, root=tmp_path)

def definitions(name):
    """Where ``def <name>(`` appears in minigrad/ (functions and methods, at any depth)."""
    places = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        places += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree)
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name]
    return places


@pytest.mark.parametrize("name", ["pair", "as_tensor"])
def test_one_definition(name):
    places = definitions(name)
    assert len(places) == 1, f"expected exactly one `def {name}(` in minigrad/, found {places}"
