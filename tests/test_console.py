"""How the command line and the example scripts end: one line for an error a user can fix, no traceback."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from minigrad.errors import CheckpointError, DataError, DivergenceError, MinigradError
from models.console import INTERRUPTED, run
from test_examples import needs_data

ROOT = Path(__file__).resolve().parent.parent


def raising(error):
    def main(argv):
        raise error
    return main


@pytest.mark.parametrize("error", [CheckpointError("a.npz: damaged\n(digest differs)"), DataError("no data"),
                                   DivergenceError("loss is nan at epoch 2, batch 3")])
def test_a_minigrad_error_is_one_line_and_status_1(error, capsys):
    assert run(raising(error), [], prog="prog") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("prog: error: ") and "Traceback" not in err
    assert " ".join(str(error).split("\n")) in err


def test_an_os_error_names_the_file_and_the_reason(capsys):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "results/cnn/report.json")
    assert run(raising(full), [], prog="prog") == 1
    assert capsys.readouterr().err == f"prog: error: cannot use results/cnn/report.json: {os.strerror(errno.ENOSPC)}\n"


def test_ctrl_c_says_how_to_resume(capsys):
    assert run(raising(KeyboardInterrupt()), [], prog="prog") == INTERRUPTED
    assert capsys.readouterr().err.strip() == "prog: interrupted; resume with --resume"
    assert run(raising(KeyboardInterrupt()), [], prog="prog", resumable=False) == INTERRUPTED
    assert capsys.readouterr().err.strip() == "prog: interrupted"


def test_a_bug_keeps_its_traceback():
    with pytest.raises(ZeroDivisionError):
        run(raising(ZeroDivisionError("a bug")), [])


def test_debug_shows_the_traceback_and_is_not_passed_on(monkeypatch):
    seen = []

    def main(argv):
        seen.append(argv)
        raise CheckpointError("damaged")
    with pytest.raises(CheckpointError):
        run(main, ["train", "--debug", "cnn"])
    assert seen == [["train", "cnn"]]
    monkeypatch.setenv("MINIGRAD_DEBUG", "1")
    with pytest.raises(CheckpointError):
        run(main, ["train"])


def run_script(args, **kwargs):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=300, **kwargs)


def assert_one_line_error(result, *phrases):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "error: " in lines[0], result.stderr
    for phrase in phrases:
        assert phrase in lines[0]


@pytest.mark.parametrize("script", ["examples/pinto_silva.py", "examples/gounder.py", "examples/dclnn.py",
                                    "examples/unet_encoder.py", "examples/jane.py"])
def test_examples_print_one_line_for_missing_data(script, tmp_path):
    result = run_script([script, "--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "out")])
    assert_one_line_error(result, "missing.npz")


def test_cli_prints_one_line_for_a_corrupt_data_file(tmp_path):
    bad = tmp_path / "bloodmnist.npz"
    bad.write_bytes(b"not an npz at all")
    result = run_script(["-m", "models.cli", "train", "simple_cnn", "--data", str(bad), "--out", str(tmp_path / "o")])
    assert_one_line_error(result, "md5")


def test_cli_prints_one_line_for_a_corrupt_checkpoint(tmp_path):
    bad = tmp_path / "checkpoint_cnn.npz"
    bad.write_bytes(b"PK\x03\x04 truncated zip")
    result = run_script(["-m", "models.cli", "evaluate", str(bad)])
    assert_one_line_error(result, "checkpoint_cnn.npz")


@needs_data
def test_cli_prints_one_line_for_an_out_folder_it_cannot_write(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a folder should be")
    result = run_script(["-m", "models.cli", "train", "simple_cnn", "--limit", "100", "--epochs", "1",
                         "--no-progress", "--out", str(blocker / "run")])
    assert_one_line_error(result, "a_file")


@needs_data
def test_ctrl_c_stops_training_cleanly(tmp_path):
    proc = subprocess.Popen([sys.executable, "-u", "-m", "models.cli", "train", "simple_cnn", "--limit", "2000",
                             "--epochs", "50", "--no-progress", "--out", str(tmp_path / "run")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()                  # the parameter count: the model is built, training starts
        assert "parameters" in line, line
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == INTERRUPTED, err
    assert "Traceback" not in err and err.strip().endswith("minigrad: interrupted; resume with --resume")


def test_the_error_classes_are_also_the_builtin_ones():
    assert issubclass(CheckpointError, ValueError) and issubclass(DivergenceError, FloatingPointError)
    assert all(issubclass(c, MinigradError) for c in (CheckpointError, DataError, DivergenceError))


def test_cli_prints_one_line_for_a_checkpoint_that_does_not_fit_its_model(tmp_path):
    from minigrad.checkpoint import save_checkpoint
    path = tmp_path / "checkpoint_simple_cnn.npz"
    save_checkpoint(path, {"model": {"not_a_layer.weight": np.zeros(3)}, "epoch": 1,
                           "meta": {"model": "simple_cnn", "model_kwargs": {}}})
    result = run_script(["-m", "models.cli", "evaluate", str(path)])
    assert_one_line_error(result, "checkpoint_simple_cnn.npz", "does not fit the model it names (simple_cnn)",
                          "not_a_layer.weight")

