"""The computation-graph pictures of minigrad.viz: what the DOT text holds, and writing it to a file."""

import re
import shutil
import subprocess

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad import nn, viz

NODE = re.compile(r'^\s*(t\d+|op\d+|cut) \[label="((?:[^"\\]|\\.)*)"', re.M)
EDGE = re.compile(r"^\s*(\w+) -> (\w+)", re.M)


def nodes(dot):
    """{node id: label with DOT's escapes undone} of a DOT text written by viz.to_dot."""
    return {node: re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), label)
            for node, label in NODE.findall(dot)}


def ops(dot):
    return sorted(label for node, label in nodes(dot).items() if node.startswith("op"))


def shape_lines(dot):
    """The 'shape dtype' line of every tensor node."""
    return sorted(line for node, label in nodes(dot).items() if node.startswith("t")
                  for line in label.split("\n") if line.startswith("("))


def small_graph():
    rng = np.random.default_rng(0)
    a, b, c = (mg.Tensor(rng.standard_normal((2, 3)), requires_grad=True) for _ in range(3))
    return a, b, c, (a * b + c).sum()


def test_small_graph_has_exactly_its_ops_shapes_and_edges():
    a, b, c, s = small_graph()
    dot = viz.to_dot(s, params={"a": a, "b": b, "c": c})
    assert ops(dot) == ["Add", "Mul", "Sum"]
    assert shape_lines(dot) == ["() float64"] + ["(2, 3) float64"] * 5        # a, b, c, a*b, a*b+c; the sum
    labels = nodes(dot)
    assert {labels[n].split("\n")[0] for n in labels if n.startswith("t")} >= {"a", "b", "c", "output"}
    edges = {(labels[x].split("\n")[0], labels[y].split("\n")[0]) for x, y in EDGE.findall(dot)}
    assert {("a", "Mul"), ("b", "Mul"), ("c", "Add"), ("Sum", "output")} <= edges
    assert len(EDGE.findall(dot)) == 8                                       # in -> op -> out, nothing more
    assert "grad norm" not in dot                                            # no backward yet


def test_input_used_twice_gets_two_edges_and_one_node():
    x = mg.Tensor(np.ones(3), requires_grad=True)
    dot = viz.to_dot((x * x).sum(), params={"x": x})
    labels = nodes(dot)
    [x_node] = [n for n, label in labels.items() if label.startswith("x\n")]
    assert EDGE.findall(dot).count((x_node, "op1")) == 2 and ops(dot) == ["Mul", "Sum"]


def test_gradient_norms_appear_after_backward_and_match_numpy():
    a, b, c, s = small_graph()
    s.backward()
    labels = nodes(viz.to_dot(s, params={"a": a, "b": b, "c": c}))
    by_name = {label.split("\n")[0]: label for label in labels.values()}
    for name, t in (("a", a), ("b", b), ("c", c)):
        shown = float(re.search(r"grad norm (\S+)", by_name[name]).group(1))
        assert shown == pytest.approx(np.linalg.norm(t.grad), rel=1e-3)
    assert np.linalg.norm(c.grad) == pytest.approx(np.sqrt(6))              # ds/dc = 1 everywhere
    assert "grad norm" not in by_name["output"]                              # a non-leaf keeps no .grad
    assert f"value {s.item():.4g}" in by_name["output"]
    assert "grad norm" not in viz.to_dot(s, show_grad=False)


def test_parameter_names_and_op_names_of_a_small_cnn():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 5))
    x = mg.Tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32))
    loss = F.cross_entropy(model(x), np.array([1, 3]))
    loss.backward()
    dot = viz.to_dot(loss, params=dict(model.named_parameters()))
    assert ops(dot) == sorted(["Conv2d", "ReLU", "MaxPool2d", "Reshape", "Linear", "CrossEntropy"])
    labels = list(nodes(dot).values())
    for name, p in model.named_parameters():
        [label] = [lab for lab in labels if lab.split("\n")[0] == name]
        assert f"{tuple(p.shape)} float32" in label and "grad norm" in label
    assert any(lab.startswith("data (no grad)\n(2, 3, 8, 8) float32") for lab in labels)   # the images
    assert f'fillcolor="{viz.COLOURS["parameter"]}"' in dot


def test_labels_are_escaped():
    w = mg.Tensor(np.ones(2), requires_grad=True)
    dot = viz.to_dot((w * 2.0).sum(), params={'say "hi"\\now': w})
    assert r'label="say \"hi\"\\now\n(2,) float64' in dot
    if shutil.which("dot"):                                                  # and Graphviz accepts it
        done = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True)
        assert done.returncode == 0, done.stderr.decode()


def test_a_deep_chain_is_walked_without_recursion():
    x = mg.Tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    y = y.sum()
    dot = viz.to_dot(y, max_nodes=None)
    labels = nodes(dot)
    assert sum(n.startswith("op") for n in labels) == 3001                  # 3000 Mul and one Sum
    assert ops(dot).count("Mul") == 3000
    limited = viz.to_dot(y, max_nodes=100)
    drawn = [n for n in nodes(limited) if n != "cut"]
    assert 90 <= len(drawn) <= 100 and "cut" in nodes(limited)              # at most 100, and the note
    assert "not drawn" in nodes(limited)["cut"]


def test_max_nodes_must_be_positive():
    _, _, _, s = small_graph()
    with pytest.raises(ValueError, match="max_nodes"):
        viz.to_dot(s, max_nodes=0)


def test_draw_graph_writes_dot_text_when_graphviz_is_missing(tmp_path, monkeypatch):
    a, b, c, s = small_graph()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.warns(UserWarning, match="'dot' is not on PATH"):
        written = viz.draw_graph(s, tmp_path / "graph.svg", params={"a": a})
    assert written == tmp_path / "graph.dot" and not (tmp_path / "graph.svg").exists()
    assert written.read_text() == viz.to_dot(s, params={"a": a})


def test_draw_graph_dot_suffix_writes_text_without_graphviz(tmp_path):
    _, _, _, s = small_graph()
    written = viz.draw_graph(s, tmp_path / "sub" / "g.dot")
    assert written == tmp_path / "sub" / "g.dot" and written.read_text().startswith("digraph minigrad {")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("fmt, signature", [("svg", b"<?xml"), ("png", b"\x89PNG\r\n\x1a\n")])
def test_draw_graph_renders_with_graphviz(tmp_path, fmt, signature):
    a, b, c, s = small_graph()
    s.backward()
    written = viz.draw_graph(s, tmp_path / f"graph.{fmt}", params={"a": a})
    assert written == tmp_path / f"graph.{fmt}" and written.read_bytes().startswith(signature)
    if fmt == "svg":
        svg = written.read_text()
        assert "<svg" in svg and ">Mul<" in svg and "grad norm" in svg


def test_draw_graph_names_the_formats_it_expects(tmp_path):
    _, _, _, s = small_graph()
    with pytest.raises(ValueError, match=r"expected a path ending in \.svg, \.png or \.dot"):
        viz.draw_graph(s, tmp_path / "graph.jpg")
    with pytest.raises(ValueError, match="format='pdf'"):
        viz.draw_graph(s, tmp_path / "graph.svg", format="pdf")


def test_the_example_draws_one_training_step_of_the_cnn(tmp_path):
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(
        "draw_graph_example", Path(__file__).resolve().parent.parent / "examples" / "draw_graph.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["--out", str(tmp_path / "cnn.dot")]) == 0
    dot = (tmp_path / "cnn.dot").read_text()
    found = ops(dot)
    counts = {op: found.count(op) for op in set(found)}
    assert counts == {"Conv2d": 3, "ReLU": 5, "MaxPool2d": 3, "Reshape": 1, "Linear": 3, "CrossEntropy": 1}
    labels = list(nodes(dot).values())
    assert any(lab.startswith("images\n(2, 3, 28, 28) float32") for lab in labels)
    assert any(lab.startswith("features.0.weight\n(32, 3, 3, 3) float32\ngrad norm ") for lab in labels)
    assert any(lab.startswith("loss\n() float32\nvalue ") for lab in labels)
    assert "(2, 1152) float32" in shape_lines(dot) and "(2, 8) float32" in shape_lines(dot)
