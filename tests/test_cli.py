"""The `minigrad` command: models, train, evaluate, and the errors bad arguments get; a run in --out that is
never lost (lock, refusal without --resume or --overwrite), and resumed runs that keep or truthfully change
their settings."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import minigrad.data.bloodmnist as bm
from minigrad.checkpoint import load_checkpoint, save_checkpoint
from minigrad.errors import CheckpointError, RunDirError, SettingsError
from models import cli, create_model
from models.experiment import load_splits, train_and_evaluate
from test_examples import is_png, needs_data
from train_driver import md5_of, write_data

ROOT = Path(__file__).resolve().parent.parent


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
    (["train", "cnn", "--lr", "-0.1"], "expected a finite positive number, got -0.1"),
    (["train", "cnn", "--lr", "inf"], "argument --lr: expected a finite positive number, got inf"),
    (["train", "cnn", "--lr", "nan"], "argument --lr: expected a finite positive number, got nan"),
    (["train", "cnn", "--seed", "-1"], "argument --seed: expected a non-negative integer, got -1"),
    (["train", "cnn", "--resume", "--change", "seed"], "seed cannot change on resume: the random states"),
    (["train", "cnn", "--resume", "--change", "optimizer"], "--change takes one of lr, batch_size, epochs"),
    (["train", "cnn", "--resume", "--overwrite"], "argument --overwrite: not allowed with argument --resume"),
    (["train", "cnn", "--device", "tpu"], "expected 'cpu' or 'cuda', got 'tpu'"),
    (["train", "cnn", "--task", "wbc5"], "invalid choice: 'wbc5'"),
    (["evaluate", "x.npz", "--split", "holdout"], "invalid choice: 'holdout'"),
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
    path = tmp_path / "bare.npz"
    save_checkpoint(path, {"model": {}, "epoch": 1})
    with pytest.raises(CheckpointError, match="does not say which model it holds"):
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

    run(["evaluate", str(out / "best_simple_cnn.npz"), "--split", "test"])
    evaluation = json.loads((out / "evaluation_best_simple_cnn_test.json").read_text())
    # best_simple_cnn.npz holds the restored best weights, which are what `train` evaluated on test.
    assert evaluation["test"]["accuracy"] == pytest.approx(report["test"]["accuracy"])
    assert evaluation["test"]["confusion_matrix"] == report["test"]["confusion_matrix"]
    run(["evaluate", str(out / "checkpoint_simple_cnn.npz"), "--split", "val"])
    val = json.loads((out / "evaluation_checkpoint_simple_cnn_val.json").read_text())
    assert np.array(val["test"]["confusion_matrix"]).sum() == 1712 and val["split"] == "val"
    assert "report written" in capsys.readouterr().out


@needs_data
def test_task_option_trains_on_the_white_cell_classes(tmp_path):
    out = tmp_path / "wbc"
    run(["train", "dclnn", "--task", "wbc4", "--limit", "200", "--epochs", "1", "--out", str(out), "--no-progress"])
    report = json.loads((out / "report.json").read_text())
    assert report["test"]["class_names"] == ["eosinophil", "lymphocyte", "monocyte", "neutrophil"]
    state = load_checkpoint(out / "checkpoint_dclnn.npz")
    assert state["meta"]["task"] == "wbc4" and state["meta"]["model_kwargs"]["num_classes"] == 4


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "minigrad"      # pip put it beside the interpreter running the tests
    if not script.exists():
        pytest.skip(f"minigrad is not installed as a package here (no {script})")
    result = subprocess.run([str(script), "models"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "unet_encoder" in result.stdout


# ----- runs that cannot be lost, resumes that keep or truthfully change their settings ------------------------
# On a synthetic 40-image bloodmnist.npz (train_driver.write_data): 32 training images in 4 batches of 8.

@pytest.fixture
def data(tmp_path, monkeypatch):
    """A small synthetic bloodmnist.npz that counts as the official file in this process."""
    path = write_data(tmp_path / "data" / "bloodmnist.npz")
    md5 = md5_of(path)
    monkeypatch.setattr(bm, "official_source", lambda: (bm.URL, md5))
    return path


def train(data, out, *args, model="simple_cnn"):
    run(["train", model, "--limit", "32", "--batch-size", "8", "--out", str(out), "--data", str(data),
         "--no-progress", *args])


def report(out):
    return json.loads((out / "report.json").read_text())


def test_training_again_without_resume_refuses_and_keeps_the_run(data, tmp_path):
    out = tmp_path / "run"
    train(data, out, "--epochs", "2")
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    with pytest.raises(RunDirError) as info:
        train(data, out, "--epochs", "1")
    assert str(info.value) == (f"{out} already holds a run of simple_cnn (checkpoint_simple_cnn.npz, epoch 2); "
                               "pass --resume to continue it or --overwrite to replace it")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before      # lock gone, nothing changed


def test_overwrite_replaces_the_run_and_says_so(data, tmp_path, capsys):
    out = tmp_path / "run"
    train(data, out, "--epochs", "2")
    train(data, out, "--epochs", "1", "--overwrite")
    assert load_checkpoint(out / "checkpoint_simple_cnn.npz")["epoch"] == 1 and len(report(out)["history"]) == 1
    assert ("--overwrite: removed the old run of simple_cnn from "
            f"{out} (checkpoint_simple_cnn.npz, best_simple_cnn.npz") in capsys.readouterr().out


def test_a_second_process_on_the_same_out_is_refused(data, tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from minigrad.rundir import RunLock
        with RunLock({str(out)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirError, match=rf"{out} is in use by another run \(pid {holder.pid},"):
            train(data, out, "--epochs", "1")
    finally:
        holder.kill()
        holder.wait()
    assert [path.name for path in out.iterdir()] == ["minigrad.lock"]             # nothing was written


def test_resume_with_other_settings_is_refused_listing_every_difference(data, tmp_path):
    out = tmp_path / "run"
    train(data, out, "--epochs", "1")
    before = (out / "checkpoint_simple_cnn.npz").read_bytes()
    with pytest.raises(SettingsError) as info:
        train(data, out, "--epochs", "2", "--resume", "--lr", "0.0001", "--batch-size", "16")
    assert str(info.value) == (f"--resume: the run in {out} was trained with lr=0.001, batch_size=8; you asked "
                               "for lr=0.0001, batch_size=16. Pass --change lr --change batch_size (repeatable) "
                               "to apply the changes, or leave those options out.")
    assert (out / "checkpoint_simple_cnn.npz").read_bytes() == before


def test_changes_are_applied_for_real_and_recorded(data, tmp_path):
    out = tmp_path / "run"
    train(data, out, "--epochs", "1")
    train(data, out, "--epochs", "2", "--resume", "--lr", "0.0001", "--change", "lr", "--batch-size", "16",
          "--change", "batch-size")
    state = load_checkpoint(out / "checkpoint_simple_cnn.npz")
    assert [g["lr"] for g in state["optimizer"]["param_groups"]] == [0.0001]
    assert [g["initial_lr"] for g in state["optimizer"]["param_groups"]] == [0.0001]
    assert state["scheduler"]["base_lrs"] == [0.0001]
    assert [row["lr"] for row in state["history"]] == [0.001, 0.0001]
    assert {s["step"] for s in state["optimizer"]["state"].values()} == {4 + 2}   # 4 batches of 8, then 2 of 16
    changes = {c["setting"]: c for c in state["meta"]["changes"]}
    assert changes["lr"] == {"epoch": 1, "setting": "lr", "from": 0.001, "to": 0.0001}
    assert changes["batch_size"] == {"epoch": 1, "setting": "batch_size", "from": 8, "to": 16}
    assert changes["epochs"] == {"epoch": 1, "setting": "epochs", "from": 1, "to": 2}   # grew: no --change needed
    r = report(out)
    assert r["settings"]["lr"] == 0.0001 and r["settings"]["batch_size"] == 16 and r["settings"]["epochs"] == 2
    assert r["changes"] == state["meta"]["changes"]


@pytest.mark.parametrize("argv,message", [
    (["--seed", "1"], "was trained with seed=0; you asked for seed=1. seed cannot change on resume: the random "
                      "states (shuffling, dropout, augmentation) come from the checkpoint."),
    (["--limit", "24"], "was trained with limit=32; you asked for limit=24. limit cannot change on resume"),
    (["--epochs", "2", "--change", "lr"], "--change lr needs --lr with the new value."),
])
def test_what_cannot_change_on_resume_is_refused_saying_why(data, tmp_path, argv, message):
    out = tmp_path / "run"
    train(data, out, "--epochs", "1")
    with pytest.raises(SettingsError) as info:
        train(data, out, "--resume", *argv)
    assert message in str(info.value)


def test_change_without_resume_is_refused(data, tmp_path):
    with pytest.raises(SettingsError, match="pass --resume too"):
        train(data, tmp_path / "run", "--lr", "0.01", "--change", "lr")


def test_resume_where_there_is_no_run_starts_one(data, tmp_path, capsys):
    train(data, tmp_path / "run", "--epochs", "1", "--resume")
    assert "holds no run of simple_cnn to resume; starting a new one" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "run" / "checkpoint_simple_cnn.npz")["epoch"] == 1


def test_more_epochs_on_a_cosine_schedule_need_change_and_then_stretch_it(data, tmp_path):
    splits = load_splits(data, limit=32)
    out, quiet = tmp_path / "run", dict(progress=False, log=lambda text: None, limit=32, batch_size=16, cosine=True)
    train_and_evaluate("mlnn", splits, out, epochs=1, **quiet)
    with pytest.raises(SettingsError, match="epochs=1; you asked for epochs=2. Pass --change epochs"):
        train_and_evaluate("mlnn", splits, out, epochs=2, resume=True, **quiet)
    result = train_and_evaluate("mlnn", splits, out, epochs=2, resume=True, changes=["epochs"], **quiet)
    assert load_checkpoint(out / "checkpoint_mlnn.npz")["scheduler"]["T_max"] == 2
    assert result["changes"] == [{"epoch": 1, "setting": "epochs", "from": 1, "to": 2}]


def test_a_loss_that_explodes_is_reported_in_report_json(data, tmp_path):
    out = tmp_path / "run"
    with np.errstate(all="ignore"):
        train(data, out, "--epochs", "2", "--lr", "1e6")
    warnings = report(out)["warnings"]
    assert warnings and all("lower learning rate" in w["message"] for w in warnings)
    assert [w["epoch"] for w in warnings] == [row["epoch"] for row in report(out)["history"] if "warning" in row]
