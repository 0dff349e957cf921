"""Docs that cannot rot: the Markdown and the docstrings are checked against the code they describe.

What is checked, over README.md and every docs/**/*.md:

* every fenced code block tagged ``python`` runs without error. Each block runs on its own, in a fresh
  namespace (blocks in one file do not share variables), with the repository root as the working
  directory. The block is compiled under the Markdown file's name with its line numbers, so a traceback
  points at the line of the .md file. Shell commands, and anything that needs the dataset or runs long,
  belong in ``bash``/``text`` blocks, which are not run;
* every relative Markdown link (inline ``[text](target)``, images, reference definitions) points at a file
  or folder that exists; http(s) and other URLs and pure ``#anchors`` are skipped, ``#fragments`` stripped;
* every name in backticks that starts with ``minigrad.`` or ``models.`` (e.g. ``minigrad.ops.conv.Conv2d``)
  resolves: the longest importable module prefix is imported and the rest looked up with getattr;
* each derivation page in docs/ops/ is linked from docs/index.md, links the code it derives, and ends with
  a python block that checks something (a gradcheck or an assert).

And over the code:

* every differentiable op (each ``Function`` subclass defined in ``minigrad.ops.*``) has its math in its
  docstrings (class, forward, backward): a forward formula, and the gradient ``dL/d<input>`` of every
  tensor input of its ``forward``, by name (``weight`` may be written W or gamma, and so on: see
  ``INPUT_SYMBOLS``);
* every public function of ``minigrad.functional`` has a docstring that either gives the gradient itself
  or names the op whose docstring does (``ops.softmax.CrossEntropy``, :class:`MaxPool2d`), and that op
  passes the check above;
* every optimizer and learning-rate schedule in ``minigrad.optim`` states its update rule as a formula.
"""

import importlib
import inspect
import pkgutil
import re
import sys
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

import minigrad
import minigrad.functional
import minigrad.ops
import minigrad.optim
import minigrad.random
from minigrad.autograd import Function
from minigrad.optim.lr_scheduler import LRScheduler
from minigrad.optim.optimizer import Optimizer

ROOT = Path(__file__).resolve().parents[1]
MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
OP_PAGES = sorted((ROOT / "docs" / "ops").glob("*.md"))


def rel(path):
    return path.relative_to(ROOT).as_posix()


# ----- reading Markdown ---------------------------------------------------------------------------------------

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)")


def split_markdown(path):
    """(code_blocks, prose_lines) of a Markdown file.

    code_blocks: (info, first_line, source) for each fenced block, first_line being the 1-based number of
    the block's first line of code. prose_lines: (line_number, text) for every line outside the fences.
    """
    blocks, prose = [], []
    fence, info, start, body = None, None, None, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, info, start, body = match.group(1), match.group(2).lower(), number + 1, []
            else:
                prose.append((number, line))
        elif match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                and not match.group(2):
            blocks.append((info, start, "\n".join(body) + "\n"))
            fence = None
        else:
            body.append(line)
    assert fence is None, f"{rel(path)}: the code fence opened before line {start} is never closed"
    return blocks, prose


CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def code_spans(text):
    return [m.group(2).strip() for m in CODE_SPAN.finditer(text)]


def without_code_spans(text):
    return CODE_SPAN.sub("code", text)


def python_blocks():
    cases = []
    for path in MARKDOWN:
        blocks, _ = split_markdown(path)
        for info, line, source in blocks:
            if info == "python":
                cases.append(pytest.param(path, line, source, id=f"{rel(path)}:{line}"))
    return cases


# ----- 1. every python block runs -----------------------------------------------------------------------------

@pytest.fixture
def restored_random_state():
    """Blocks may seed minigrad's or NumPy's global generators; give the other tests theirs back."""
    minigrad_state, numpy_state = minigrad.random.get_state(), np.random.get_state()
    yield
    minigrad.random.set_state(minigrad_state)
    np.random.set_state(numpy_state)


@pytest.mark.parametrize("path, line, source", python_blocks())
def test_python_block_runs(path, line, source, monkeypatch, restored_random_state):
    """The block runs, in a fresh namespace, from the repository root; errors name the .md file and line."""
    monkeypatch.chdir(ROOT)
    code = compile("\n" * (line - 1) + source, rel(path), "exec")   # line numbers of the .md file
    namespace = {"__name__": "__docs__", "__file__": str(path)}
    exec(code, namespace)
    assert minigrad.is_grad_enabled(), f"{rel(path)}:{line} leaves gradient recording switched off"


def test_python_blocks_are_found():
    """The block finder works: the README's example and one block per derivation page are collected."""
    found = {rel(case.values[0]) for case in python_blocks()}
    assert "README.md" in found
    assert {rel(p) for p in OP_PAGES} <= found


# ----- 2. every relative link points at something that exists -------------------------------------------------

INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def relative_links(path):
    """(line, target) for every relative link in the prose of ``path`` (code blocks and code spans skipped)."""
    _, prose = split_markdown(path)
    links = []
    for number, line in prose:
        text = without_code_spans(line)
        targets = [m.group(1) for m in INLINE_LINK.finditer(text)]
        definition = REFERENCE_DEFINITION.match(text)
        if definition:
            targets.append(definition.group(1))
        for target in targets:
            if URL_SCHEME.match(target) or target.startswith(("#", "//")):
                continue
            links.append((number, target))
    return links


def link_destination(path, target):
    """Where a relative link from ``path`` leads (fragment and query removed); '/x' is x at the repo root."""
    target = urllib.parse.unquote(target.split("#", 1)[0].split("?", 1)[0])
    return (ROOT / target.lstrip("/")) if target.startswith("/") else (path.parent / target)


@pytest.mark.parametrize("path", MARKDOWN, ids=rel)
def test_relative_links_exist(path):
    broken = [f"line {n}: {t}" for n, t in relative_links(path) if not link_destination(path, t).exists()]
    assert not broken, f"{rel(path)} links to files that do not exist:\n  " + "\n  ".join(broken)


def test_link_finder_sees_links():
    """Guard against a link regex that silently finds nothing: docs/index.md links the engine's files."""
    targets = {t for _, t in relative_links(ROOT / "docs" / "index.md")}
    assert "../minigrad/autograd.py" in targets
    assert "https://medmnist.com/" not in {t for _, t in relative_links(ROOT / "README.md")}


# ----- 3. every dotted name in backticks resolves -------------------------------------------------------------

DOTTED = re.compile(r"((?:minigrad|models)(?:\.[A-Za-z_]\w*)+)(?:\(.*\))?")


def dotted_names(path):
    """(line, name) for each code span in the prose that is a dotted name under minigrad. or models."""
    _, prose = split_markdown(path)
    return [(number, m.group(1)) for number, line in prose for span in code_spans(line)
            if (m := DOTTED.fullmatch(span))]


def resolve(name):
    """Import the longest module prefix of ``name``, then getattr the rest; raise if any step fails."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name is not None and not module_name.startswith(e.name):
                raise                       # the module exists but fails to import one of its own imports
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ModuleNotFoundError(name)


@pytest.mark.parametrize("path", MARKDOWN, ids=rel)
def test_dotted_names_resolve(path):
    missing = []
    for number, name in dotted_names(path):
        try:
            resolve(name)
        except (ImportError, AttributeError) as e:
            missing.append(f"line {number}: `{name}` ({type(e).__name__}: {e})")
    assert not missing, f"{rel(path)} names what does not exist:\n  " + "\n  ".join(missing)


def test_resolve_rejects_missing_names():
    assert resolve("minigrad.ops.conv.Conv2d.backward") is minigrad.ops.conv.Conv2d.backward
    with pytest.raises(AttributeError):
        resolve("minigrad.ops.conv.Conv2d.no_such_method")
    with pytest.raises((ImportError, AttributeError)):
        resolve("minigrad.no_such_module.thing")


# ----- 4. the derivation pages --------------------------------------------------------------------------------

@pytest.mark.parametrize("page", OP_PAGES, ids=rel)
def test_op_page_is_linked_links_code_and_ends_with_a_check(page):
    index = ROOT / "docs" / "index.md"
    linked = {link_destination(index, t).resolve() for _, t in relative_links(index)}
    assert page.resolve() in linked, f"docs/index.md does not link {rel(page)}"
    code_links = [t for _, t in relative_links(page) if t.split("#")[0].endswith(".py")]
    assert code_links, f"{rel(page)} links no source file"
    assert dotted_names(page), f"{rel(page)} names no code object (`minigrad.ops....`)"
    blocks, _ = split_markdown(page)
    assert blocks and blocks[-1][0] == "python", f"{rel(page)} must end with a python block"
    assert re.search(r"\bgradcheck\(|\bassert", blocks[-1][2]), \
        f"{rel(page)}: its last python block checks nothing (no gradcheck, no assert)"


# ----- 5. every differentiable op has its math in its docstring ---------------------------------------------

# The symbols a docstring may use for the gradient of each named tensor input of ``forward``: e.g. the
# ``weight`` of Linear and Conv2d is W, batch norm's is gamma. Each needs a 'dL/d<symbol>' in the docstring.
INPUT_SYMBOLS = {
    "a": ("a", "A"), "b": ("b", "B"),
    "x": ("x", "x_i", "x_j", "x_t", "x_ij"), "xs": ("xk", "x_k"),
    "weight": ("W", "gamma"), "bias": ("b", "beta"),
    "h": ("h",), "c": ("c",), "h0": ("h_init", "h0"), "c0": ("c_init", "c0"),
    "weight_ih": ("W_ih",), "weight_hh": ("W_hh",), "bias_ih": ("b_ih",), "bias_hh": ("b_hh",),
}
# forward parameters that are not differentiated: settings (passed as keywords) and integer targets.
NOT_DIFFERENTIATED = {
    "exponent", "shape", "dims", "index", "dim", "keepdim", "target", "label_smoothing", "reduction", "p",
    "kernel_size", "stride", "padding", "dilation", "ceil_mode", "count_include_pad", "divisor_override",
    "output_size", "running_mean", "running_var", "training", "momentum", "eps", "reverse", "low", "high",
    "condition",
}
GRADIENT = r"(?:dL|∂L)(?:_\w+)?/(?:d|∂)"


def differentiable_ops():
    ops = []
    for info in pkgutil.iter_modules(minigrad.ops.__path__):
        module = importlib.import_module(f"minigrad.ops.{info.name}")
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, Function) and obj is not Function \
                    and obj.__module__ == module.__name__:
                ops.append(obj)
    return sorted(ops, key=lambda op: (op.__module__, op.__name__))


def op_docstring(op):
    """The class docstring and those of the op's own forward and backward, joined."""
    parts = [op.__doc__]
    for method in ("forward", "backward"):
        if method in vars(op):
            parts.append(inspect.getattr_static(op, method).__func__.__doc__)
    return "\n".join(inspect.cleandoc(p) for p in parts if p)


def math_problems(op):
    """What the op's docstrings lack (an empty list when they state forward and backward)."""
    problems = []
    for method in ("forward", "backward"):
        if method not in vars(op):
            problems.append(f"defines no {method} of its own")
    doc = op_docstring(op)
    if not doc:
        return problems + ["has no docstring"]
    forward_formula = any(re.search(r"(?<![=<>!])=(?!=)", re.split(GRADIENT, line)[0])
                          for line in doc.splitlines())
    if not forward_formula:
        problems.append("states no forward formula (a line 'y = ...' before any gradient)")
    if "forward" in vars(op):
        parameters = list(inspect.signature(vars(op)["forward"].__func__).parameters.values())[1:]  # no ctx
        for parameter in parameters:
            if parameter.name in NOT_DIFFERENTIATED:
                continue
            symbols = INPUT_SYMBOLS.get(parameter.name)
            if symbols is None:
                problems.append(f"forward takes {parameter.name!r}, which this test does not know: add it to "
                                f"INPUT_SYMBOLS (a tensor input) or NOT_DIFFERENTIATED (a setting)")
            elif not re.search(GRADIENT + "(?:" + "|".join(map(re.escape, symbols)) + r")(?![\w'′])", doc):
                problems.append(f"gives no gradient for its input {parameter.name!r} "
                                f"(expected 'dL/d{symbols[0]} = ...')")
    return problems


OPS = differentiable_ops()


def test_every_op_family_is_found():
    names = {op.__name__ for op in OPS}
    assert {"Add", "MatMul", "Linear", "CrossEntropy", "Conv2d", "MaxPool2d", "AdaptiveAvgPool2d", "BatchNorm",
            "Dropout", "LSTMCell", "GRUCell", "LSTMLayer", "GRULayer"} <= names


@pytest.mark.parametrize("op", OPS, ids=lambda op: f"{op.__module__.rsplit('.', 1)[1]}.{op.__name__}")
def test_op_docstring_states_forward_and_backward(op):
    problems = math_problems(op)
    assert not problems, f"{op.__module__}.{op.__name__}: " + "; ".join(problems)


def test_math_check_is_not_trivially_satisfied():
    """A docstring without the gradient of every input, or without a formula, fails the check."""
    class Scale(Function):
        """y = a * b."""

        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            """dL/da = g * b."""       # dL/db is missing

    assert any("'b'" in p for p in math_problems(Scale))
    Scale.__doc__ = "Multiplies its inputs; see the code."
    assert any("forward formula" in p for p in math_problems(Scale))


# ----- 6. every public function of minigrad.functional -------------------------------------------------------

# Public names of minigrad.functional that are not differentiable functions of their own, and why.
NOT_FUNCTIONS = {
    "as_tensor": "wraps data in a Tensor; no op",
    "as_array": "converts data to an array; no op",
    "Tensor": "the class itself",
}
OP_REFERENCE = re.compile(r"``(?:minigrad\.)?(ops\.\w+\.\w+)``|:class:`~?([\w.]+)`")


def functional_functions():
    names = [n for n in dir(minigrad.functional) if not n.startswith("_")]
    return [n for n in names if inspect.isfunction(getattr(minigrad.functional, n))
            and n not in NOT_FUNCTIONS]


def referenced_ops(function):
    """The ops (Function subclasses) the function's docstring names."""
    found = []
    for dotted, short in OP_REFERENCE.findall(inspect.getdoc(function) or ""):
        try:
            obj = resolve("minigrad." + dotted) if dotted else getattr(sys.modules[function.__module__], short)
        except (ImportError, AttributeError):
            continue
        if inspect.isclass(obj) and issubclass(obj, Function):
            found.append(obj)
    return found


@pytest.mark.parametrize("name", functional_functions())
def test_functional_docstring_gives_or_names_the_math(name):
    function = getattr(minigrad.functional, name)
    doc = inspect.getdoc(function)
    assert doc, f"minigrad.functional.{name} has no docstring"
    if re.search(GRADIENT + r"\w", doc):
        return                                             # the gradient is written out here
    ops = referenced_ops(function)
    assert ops, (f"minigrad.functional.{name}: its docstring neither gives the gradient (dL/d...) nor names "
                 f"the op whose docstring does (``ops.<module>.<Op>`` or :class:`Op`)")
    for op in ops:
        assert not math_problems(op), f"minigrad.functional.{name} points to {op.__name__}, which lacks its math"


def test_functional_exemptions_are_still_needed():
    """The names exempted above still exist (so the lists cannot hide a removed or renamed function)."""
    for name in NOT_FUNCTIONS:
        assert hasattr(minigrad.functional, name), f"remove {name!r} from the exemptions in tests/test_docs.py"
    assert len(functional_functions()) >= 20


# ----- 7. optimizers and schedules state their update rule --------------------------------------------------

def optim_classes():
    classes = []
    for info in pkgutil.iter_modules(minigrad.optim.__path__):
        module = importlib.import_module(f"minigrad.optim.{info.name}")
        for obj in vars(module).values():
            if inspect.isclass(obj) and obj.__module__ == module.__name__ \
                    and issubclass(obj, (Optimizer, LRScheduler)) and obj not in (Optimizer, LRScheduler):
                classes.append(obj)
    return sorted(classes, key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", optim_classes(), ids=lambda c: c.__name__)
def test_optimizer_docstring_states_its_update_rule(cls):
    """A line that updates a parameter or the learning rate: 'p <- ...', 'theta_t = ...', 'lr_e = ...'."""
    doc = inspect.getdoc(cls) or ""
    rule = re.compile(r"\b(?:p|theta\w*|lr\w*)\s*(?:<-|←|=)(?!=)\s*\S")
    assert any(rule.search(line) for line in doc.splitlines()), \
        f"{cls.__module__}.{cls.__name__}: the docstring states no update rule (e.g. 'lr <- lr * factor')"
