"""The teaching scripts in examples/ run in seconds, print what they promise, and fail loudly when a gradient
is wrong."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_script(name):
    """Import examples/<name>.py (not a package) from its file path."""
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def max_difference(text):
    """The number in the script's last verdict line, 'max difference 1.23e-10...'."""
    return float(re.findall(r"^max difference (\S+?):?\s", text, re.M)[-1])


# ----- teach_backprop ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_backprop_by_hand_agrees_with_autograd_and_numeric(activation, capsys):
    script = load_script("teach_backprop")
    assert script.main(["--activation", activation, "--show", "2"]) == 0
    out = capsys.readouterr().out
    assert "ALL AGREE" in out and max_difference(out) < 1e-8
    number = r"(\d\.\d\de[-+]\d+)"
    rows = re.findall(rf"^dL/d(\w+)\s+{number}\s+{number}$", out, re.M)      # the summary table
    assert [name for name, _, _ in rows] == ["z2", "W2", "b2", "a1", "z1", "W1", "b1", "x"]
    for _, d_auto, d_num in rows:
        assert float(d_auto) < 1e-12 and float(d_num) < 1e-8
    assert "minigrad.gradcheck over x, W1, b1, W2, b2: passed" in out


def test_backprop_exits_nonzero_when_a_hand_gradient_is_wrong(capsys, monkeypatch):
    script = load_script("teach_backprop")
    right = script.by_hand

    def wrong(*args):
        loss, g = right(*args)
        g["W1"] = g["W1"] * 1.01                                               # a 1% mistake in one gradient
        return loss, g
    monkeypatch.setattr(script, "by_hand", wrong)
    assert script.main([]) == 1
    out = capsys.readouterr().out
    assert "DISAGREEMENT" in out and max_difference(out) > 1e-6


def test_backprop_runs_as_a_script_from_the_clone():
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "teach_backprop.py"), "--show", "1"],
                          capture_output=True, text=True, cwd="/", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ALL AGREE" in done.stdout


# ----- teach_conv_gradient ----------------------------------------------------------------------------------

def test_conv_gradient_writes_the_figure_and_checks_elements(tmp_path, capsys):
    script = load_script("teach_conv_gradient")
    assert script.main(["--out", str(tmp_path), "--size", "16", "--checks", "3"]) == 0
    out = capsys.readouterr().out
    png = tmp_path / "conv_gradient.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE and png.stat().st_size > 20_000
    assert "ALL AGREE" in out and max_difference(out) < 1e-6
    formula = [float(d) for d in re.findall(r"max \|autograd - formula\| of dL/d\w+\s*= (\S+)", out)]
    assert len(formula) == 3 and max(formula) < 1e-10                        # dW, db, dx: every element
    numeric_rows = re.findall(r"^  dL/d([Wx])\(.*\)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.M)
    assert [r[0] for r in numeric_rows] == ["W"] * 3 + ["x"] * 3
    for _, auto, formula_value, numeric, diff in numeric_rows:
        assert float(auto) == pytest.approx(float(numeric), rel=1e-6, abs=1e-6)
        assert float(auto) == pytest.approx(float(formula_value), rel=1e-8, abs=1e-8)


def test_conv_gradient_formula_matches_a_direct_loop():
    """by_formula's shifted-array sums equal the definition written as a loop over every output pixel."""
    script = load_script("teach_conv_gradient")
    rng = np.random.default_rng(1)
    x, w, dy = rng.standard_normal((5, 6)), rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 5, 6))
    dw, db, dx = script.by_formula(x, w, dy)
    xp = np.pad(x, 1)
    dw_loop, dx_pad = np.zeros_like(w), np.zeros((7, 8))
    for k, u, v in np.ndindex(*dy.shape):                                     # y[k, u, v] = sum w * patch
        dw_loop[k] += dy[k, u, v] * xp[u:u + 3, v:v + 3]
        dx_pad[u:u + 3, v:v + 3] += dy[k, u, v] * w[k]
    np.testing.assert_allclose(dw, dw_loop, atol=1e-12)
    np.testing.assert_allclose(dx, dx_pad[1:-1, 1:-1], atol=1e-12)
    np.testing.assert_allclose(db, dy.sum(axis=(1, 2)), atol=1e-12)


# ----- teach_lstm_unrolled ----------------------------------------------------------------------------------

def test_lstm_unrolled_by_hand_and_whole_layer_agree(capsys):
    script = load_script("teach_lstm_unrolled")
    assert script.main(["--steps", "3", "--hidden", "2"]) == 0
    out = capsys.readouterr().out
    assert "ALL AGREE" in out and max_difference(out) < 1e-12
    assert len(re.findall(r"^step t = \d: x_t", out, re.M)) == 3                 # forward, every step
    for gate in "ifgo":
        assert len(re.findall(rf"^  {gate}   = \[", out, re.M)) == 3
    backward_steps = re.findall(r"^step t = (\d)$", out, re.M)
    assert backward_steps == ["3", "2", "1"]                                     # backward, last step first
    diffs = [float(d) for d in re.findall(r"\|diff\| (\S+)", out)]
    assert len(diffs) == 2 * 3 + 2 and max(diffs) < 1e-12                        # dh_t, dc_t per step; h_0, c_0
    layer = re.findall(r"max \|layer - unrolled cell\| = (\S+)", out)
    assert len(layer) == 9 and max(map(float, layer)) < 1e-12


def test_lstm_gates_stay_in_their_ranges(capsys):
    script = load_script("teach_lstm_unrolled")
    script.main(["--steps", "5"])
    out = capsys.readouterr().out
    for gate in "ifo":                                                           # sigmoids
        values = [float(v) for line in re.findall(rf"^  {gate}   = \[(.*?)\]", out, re.M) for v in line.split()]
        assert len(values) == 15 and all(0 < v < 1 for v in values)
    g = [float(v) for line in re.findall(r"^  g   = \[(.*?)\]", out, re.M) for v in line.split()]
    assert len(g) == 15 and all(-1 < v < 1 for v in g)                          # tanh
