"""The `minigrad` command: models, train, evaluate, and the errors bad arguments get."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minigrad.checkpoint import load_checkpoint, save_checkpoint
from models import cli, create_model
from test_examples import is_png, needs_data


def run(argv):
    return cli.main(argv)


def test_models_lists_every_model_with_its_parameter_count(capsys):
    run(["models"])
    text = capsys.readouterr().out
    for name, count in (("cnn", "422,344"), ("mlnn", "2,785,988"), ("unet_encoder", "4,718,312"),
                        ("gounder_cnn", "463,176"), ("dclnn_avg", "1,199,684")):
        line = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        assert count in line, name


@pytest.mark.parametrize("argv,message", [
    (["train", "resnet50"], "invalid choice: 'resnet50'"),
    (["train", "cnn", "--epochs", "0"], "expected a positive integer, got 0"),
    (["train", "cnn", "--batch-size", "ten"], "expected a positive integer, got 'ten'"),
    (["train", "cnn", "--lr", "-0.1"], "expected a positive number, got -0.1"),
    (["train", "cnn", "--device", "tpu"], "expected 'cpu' or 'cuda', got 'tpu'"),
    (["train", "cnn", "--task", "wbc5"], "invalid choice: 'wbc5'"),
    (["evaluate", "x.pkl", "--split", "holdout"], "invalid choice: 'holdout'"),
    ([], "the following arguments are required: command"),
])
def test_bad_arguments_exit_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        run(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_cuda_without_a_gpu_says_why(tmp_path, capsys):
    from minigrad.backend import cupy_available
    if cupy_available():
        pytest.skip("this machine has CuPy and a GPU")
    with pytest.raises(SystemExit) as info:
        run(["train", "simple_cnn", "--device", "cuda", "--out", str(tmp_path)])
    assert info.value.code == 2 and "device 'cuda' needs CuPy and an NVIDIA GPU" in capsys.readouterr().err


def test_evaluate_refuses_a_checkpoint_that_names_no_model(tmp_path):
    path = tmp_path / "bare.pkl"
    save_checkpoint(path, {"model": {}, "epoch": 1})
    with pytest.raises(SystemExit, match="does not say which model it holds"):
        run(["evaluate", str(path)])


def test_loading_another_architecture_names_the_key_and_both_shapes():
    cnn = create_model("cnn")
    state = create_model("cnn", num_classes=4).state_dict()
    with pytest.raises(ValueError, match=r"'classifier.5.weight': the checkpoint has shape \(4, 128\), this CNN "
                                         r"expects \(8, 128\)"):
        cnn.load_state_dict(state)
    with pytest.raises(KeyError, match="missing keys .*features.0.weight"):
        cnn.load_state_dict(create_model("mlnn").state_dict())


@needs_data
def test_train_then_evaluate_round_trip(tmp_path, capsys):
    out = tmp_path / "run"
    run(["train", "simple_cnn", "--limit", "300", "--epochs", "2", "--out", str(out), "--no-progress"])
    report = json.loads((out / "report.json").read_text())
    assert report["model"] == "simple_cnn" and len(report["history"]) == 2
    assert report["settings"]["label_smoothing"] == 0.1 and report["normalization"]["mean"]
    assert "ROC AUC" in (out / "report.md").read_text()
    assert is_png(out / "curves.png") and is_png(out / "confusion_simple_cnn.png")

    run(["evaluate", str(out / "best_simple_cnn.pkl"), "--split", "test"])
    evaluation = json.loads((out / "evaluation_best_simple_cnn_test.json").read_text())
    # best_simple_cnn.pkl holds the restored best weights, which are what `train` evaluated on test.
    assert evaluation["test"]["accuracy"] == pytest.approx(report["test"]["accuracy"])
    assert evaluation["test"]["confusion_matrix"] == report["test"]["confusion_matrix"]
    run(["evaluate", str(out / "checkpoint_simple_cnn.pkl"), "--split", "val"])
    val = json.loads((out / "evaluation_checkpoint_simple_cnn_val.json").read_text())
    assert np.array(val["test"]["confusion_matrix"]).sum() == 1712 and val["split"] == "val"
    assert "report written" in capsys.readouterr().out


@needs_data
def test_task_option_trains_on_the_white_cell_classes(tmp_path):
    out = tmp_path / "wbc"
    run(["train", "dclnn", "--task", "wbc4", "--limit", "200", "--epochs", "1", "--out", str(out), "--no-progress"])
    report = json.loads((out / "report.json").read_text())
    assert report["test"]["class_names"] == ["eosinophil", "lymphocyte", "monocyte", "neutrophil"]
    state = load_checkpoint(out / "checkpoint_dclnn.pkl")
    assert state["meta"]["task"] == "wbc4" and state["meta"]["model_kwargs"]["num_classes"] == 4


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "minigrad"      # pip put it beside the interpreter running the tests
    if not script.exists():
        pytest.skip(f"minigrad is not installed as a package here (no {script})")
    result = subprocess.run([str(script), "models"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "unet_encoder" in result.stdout
