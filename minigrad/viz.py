"""Seeing the computation graph: the picture autograd walks when you call ``loss.backward()``.

While the forward pass runs, every op records what it did (``minigrad.autograd.Context``): which op, and
which input tensors. Each result holds that record as ``tensor.grad_fn``, so from the loss you can walk
back through every op to the data and the weights it came from. This module draws that walk:

    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    draw_graph(loss, "step.svg", params=dict(model.named_parameters()))

What the picture shows:

* a box for every tensor, with its name where one is known (a model's parameters are named as in
  ``model.named_parameters()``: "features.0.weight"), its shape and dtype. Blue boxes are parameters
  (what the optimizer trains), green boxes other tensors that want a gradient, grey boxes data that wants
  none (the images), white boxes the results of ops, and the orange box is the tensor you drew from;
* an ellipse for every op, named by its ``Function`` class (Conv2d, ReLU, MaxPool2d, Linear, CrossEntropy;
  their forward and backward math is in ``minigrad/ops/``);
* arrows in the direction of the forward pass: input -> op -> output. ``backward()`` visits the same
  nodes against the arrows, from the loss back to the weights, each op's ``backward`` turning the
  gradient of its output into gradients of its inputs (the chain rule, one op at a time);
* after ``backward()``, each tensor whose ``.grad`` is set (the leaves, and tensors you called
  ``retain_grad()`` on) shows the gradient's L2 norm, sqrt(sum of its squared elements): a quick way to
  see which layers receive large or vanishing gradients.

Graphs can be deep (an unrolled RNN, a long chain of small ops), so the walk is a loop with a queue,
never a recursion, as in ``minigrad.autograd.topological_order``. Drawing needs the Graphviz ``dot``
program (https://graphviz.org; ``apt install graphviz``); without it :func:`draw_graph` writes the DOT
text, which any Graphviz viewer (or an online one) turns into the picture.
"""

import collections
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np

from .backend import to_numpy

FORMATS = ("svg", "png", "dot")

COLOURS = {"parameter": "#cfe2ff", "leaf": "#d4f0d4", "constant": "#e6e6e6", "result": "#ffffff",
           "root": "#ffd8a8", "op": "#fff3b0", "cut": "#f5f5f5"}

LEGEND = ("boxes: tensors (blue: parameter, green: wants a gradient, grey: data, white: computed, "
          "orange: the output)\nellipses: ops; arrows run forward, backward() follows them in reverse")


def escape(text):
    """``text`` as the inside of a DOT double-quoted string: backslashes and quotes escaped, newlines as \\n."""
    return (str(text).replace("\\", "\\\\").replace('"', '\\"')
            .replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n"))


def grad_norm(tensor):
    """The L2 norm of ``tensor.grad`` (sqrt of the sum of its squared elements) as a float, or None."""
    if tensor.grad is None:
        return None
    return float(np.linalg.norm(to_numpy(tensor.grad).astype(np.float64).ravel()))


def _kind(tensor, is_root):
    from .nn.module import Parameter  # nn imports the ops, which import tensor.py: import when needed
    if is_root:
        return "root"
    if tensor.grad_fn is not None:
        return "result"
    if isinstance(tensor, Parameter):
        return "parameter"
    return "leaf" if tensor.requires_grad else "constant"


def _tensor_label(tensor, name, kind, show_grad):
    lines = []
    if name is not None:
        lines.append(name)
    elif kind != "result":
        lines.append({"root": "output", "parameter": "parameter", "leaf": "leaf",
                      "constant": "data (no grad)"}[kind])
    lines.append(f"{tuple(tensor.shape)} {tensor.dtype}")
    if kind == "root" and tensor.numel() == 1:
        lines.append(f"value {float(to_numpy(tensor.data).ravel()[0]):.4g}")     # the loss itself
    norm = grad_norm(tensor) if show_grad else None
    if norm is not None:
        lines.append(f"grad norm {norm:.4g}")
    return "\n".join(lines)


def _walk(root, max_nodes):
    """The tensors and ops behind ``root``, breadth first from it, at most ``max_nodes`` of them together.

    Returns (tensors, ops, edges, cut): ``tensors`` a list of tensors in the order found; ``ops`` a list of
    (output tensor index, Context); ``edges`` (from, to) pairs of node ids ('t3', 'op1'); ``cut`` the
    indices of tensors made by an op that was not drawn because the limit was reached.
    """
    index = {id(root): 0}              # id(tensor) -> its position in ``tensors``
    tensors, ops, edges, cut = [root], [], [], []
    queue = collections.deque([0])     # a queue, not recursion: graphs may be thousands of ops deep
    full = False
    while queue:
        t = queue.popleft()
        ctx = tensors[t].grad_fn
        if ctx is None:
            continue
        new = list({id(p): p for p in ctx.inputs if id(p) not in index}.values())   # each input once
        if full or (max_nodes is not None and len(tensors) + len(ops) + 1 + len(new) > max_nodes):
            full = True
            cut.append(t)
            continue
        op = f"op{len(ops)}"
        ops.append((t, ctx))
        edges.append((op, f"t{t}"))
        for p in new:
            index[id(p)] = len(tensors)
            tensors.append(p)
            queue.append(index[id(p)])
        edges.extend((f"t{index[id(p)]}", op) for p in ctx.inputs)
    return tensors, ops, edges, cut


def to_dot(tensor, show_grad=True, max_nodes=1000, params=None, title=None, rankdir="TB"):
    """The Graphviz DOT text of the graph that produced ``tensor``.

    Args:
        tensor: the output to draw from, usually the loss.
        show_grad: show the L2 norm of ``.grad`` on every tensor that has one (after ``backward()``).
        max_nodes: draw at most this many nodes (tensors and ops together), those nearest to ``tensor``;
            beyond that, one dashed box stands for everything left out, with a dashed arrow to each
            tensor whose op was not drawn. None: no limit.
        params: names for tensors, ``{name: tensor}``: usually ``dict(model.named_parameters())``, so
            weights are labelled "features.0.weight"; any other tensor may be named too
            (``{"images": x, "loss": loss}``).
        title: a line of text above the legend at the top of the picture.
        rankdir: "TB" (top to bottom) or "LR" (left to right), Graphviz's layout direction.

    Tensor nodes are ``t0, t1, ...`` (``t0`` is ``tensor``), op nodes ``op0, op1, ...``.
    """
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"to_dot: max_nodes must be at least 1 (or None for no limit), got {max_nodes}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"to_dot: rankdir must be one of TB, LR, BT, RL, got {rankdir!r}")
    names = {id(t): name for name, t in (params or {}).items()}
    tensors, ops, edges, cut = _walk(tensor, max_nodes)
    heading = LEGEND if title is None else f"{title}\n{LEGEND}"
    lines = ["digraph minigrad {",
             f'  graph [rankdir={rankdir}, labelloc=t, fontname="Helvetica", fontsize=12, '
             f'nodesep=0.25, ranksep=0.3, label="{escape(heading)}"];',
             '  node [fontname="Helvetica", fontsize=10, style=filled];',
             '  edge [color="#555555", arrowsize=0.7];']
    for i, t in enumerate(tensors):
        kind = _kind(t, i == 0)
        label = _tensor_label(t, names.get(id(t)), kind, show_grad)
        lines.append(f'  t{i} [label="{escape(label)}", shape=box, fillcolor="{COLOURS[kind]}"];')
    for j, (_, ctx) in enumerate(ops):
        lines.append(f'  op{j} [label="{escape(ctx.op.__name__)}", shape=ellipse, fillcolor="{COLOURS["op"]}"];')
    if cut:
        note = f"{len(cut)} earlier part{'s' if len(cut) > 1 else ''} not drawn\n(max_nodes={max_nodes})"
        lines.append(f'  cut [label="{escape(note)}", shape=box, style="dashed,filled", '
                     f'fillcolor="{COLOURS["cut"]}"];')
        edges = edges + [("cut", f"t{t}") for t in cut]
    lines += [f"  {a} -> {b};" if a != "cut" else f"  {a} -> {b} [style=dashed];" for a, b in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_graph(tensor, path, format=None, params=None, **options):
    """Draw the graph that produced ``tensor`` into ``path`` and return the Path actually written.

    The format is ``format`` if given, else the suffix of ``path``: "svg" or "png" (rendered by the Graphviz
    ``dot`` program) or "dot" (the DOT text itself). When ``dot`` is not on PATH, the DOT text is written
    to ``path`` with the suffix ``.dot`` instead, with a warning saying so. ``params`` and ``options``
    (``show_grad``, ``max_nodes``, ``title``, ``rankdir``) are passed to :func:`to_dot`.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        given = f"format={format!r}" if format else (f"the suffix {path.suffix!r}" if path.suffix else "no suffix")
        raise ValueError(f"draw_graph: cannot draw {path.name!r} with {given}; expected a path ending in "
                         f".svg, .png or .dot, or format='svg', 'png' or 'dot'")
    text = to_dot(tensor, params=params, **options)
    path.parent.mkdir(parents=True, exist_ok=True)
    dot = shutil.which("dot") if fmt != "dot" else None
    if fmt != "dot" and dot is None:
        path = path.with_suffix(".dot")
        warnings.warn(f"draw_graph: the Graphviz program 'dot' is not on PATH, so the graph is written as DOT "
                      f"text to {path} (install Graphviz, e.g. 'apt install graphviz', then run "
                      f"'dot -T{fmt} {path.name} -o {path.stem}.{fmt}')", stacklevel=2)
        fmt = "dot"
    if fmt == "dot":
        path.write_text(text, encoding="utf-8")
        return path
    done = subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=text.encode("utf-8"),
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"draw_graph: dot -T{fmt} failed (exit {done.returncode}): "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return path
