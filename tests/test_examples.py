"""End-to-end tests of the example and the benchmark on the real BloodMNIST file (skipped without it)."""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minigrad.checkpoint import load_checkpoint
from minigrad.data import DataNotFoundError, find_bloodmnist

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
QUICK = ["--limit", "400", "--no-progress"]


def _have_data():
    try:
        find_bloodmnist(download=False)
        return True
    except DataNotFoundError:
        return False


needs_data = pytest.mark.skipif(not _have_data(), reason="BloodMNIST is not in the MedMNIST cache "
                                                         "(~/.medmnist/bloodmnist.npz or $MEDMNIST_ROOT)")


def load_script(relative, name):
    """Import a script that is not in a package (examples/, benchmarks/) from its file path."""
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return load_script("examples/pinto_silva.py", "pinto_silva_example")


@pytest.fixture(scope="module")
def one_epoch_run(example, tmp_path_factory):
    """One quick run of the example: 400 training images, 1 epoch. Shared by the tests below."""
    out = tmp_path_factory.mktemp("one_epoch")
    example.main(QUICK + ["--epochs", "1", "--out", str(out)])
    return out


def is_png(path):
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_SIGNATURE


@needs_data
def test_example_writes_the_report(one_epoch_run):
    out = one_epoch_run
    report = json.loads((out / "report.json").read_text())
    assert {"paper", "started", "seed", "train_images", "models"} <= set(report)
    assert report["train_images"] == 400 and report["seed"] == 0
    assert list(report["models"]) == ["cnn", "mlnn"]                              # both columns of Table 2
    for name, lr, parameters in (("cnn", 0.001, 422_344), ("mlnn", 0.01, 2_785_988)):
        result = report["models"][name]
        assert {"settings", "history", "test", "test_loss", "efficiency"} <= set(result)
        assert result["settings"] == {"optimizer": "adam", "lr": lr, "epochs": 1, "batch_size": 128}  # Table 1
        test = result["test"]
        for key in ("accuracy", "precision_weighted", "recall_weighted", "f1_weighted", "balanced_accuracy",
                    "sensitivity_mean", "specificity_mean", "roc_auc_ovr"):
            assert 0.0 <= test[key] <= 1.0, key
        assert -1.0 <= test["mcc"] <= 1.0
        assert np.array(test["confusion_matrix"]).sum() == 3421                   # the official test split
        assert result["efficiency"]["parameters"] == parameters
        assert result["efficiency"]["training_seconds"] > 0
        assert [h["epoch"] for h in result["history"]] == [1]
        assert np.isfinite(result["test_loss"])
        assert is_png(out / f"confusion_{name}.png")

    md = (out / "report.md").read_text()
    for text in ("Table 2", "MCC", "Balanced Accuracy", "Accuracy", "Parameters (M)", "2.786", "0.422", "per class",
                 "| Metric | CNN | MLNN (DNN) |"):
        assert text in md, text
    assert f"{report['models']['cnn']['test']['accuracy']:.4f}" in md

    assert is_png(out / "curves.png")
    state = load_checkpoint(out / "checkpoint_mlnn.npz")
    assert state["epoch"] == 1 and len(state["history"]) == 1


@needs_data
def test_resume_gives_the_same_run_as_training_straight_through(example, one_epoch_run, tmp_path):
    straight = tmp_path / "straight"
    example.main(QUICK + ["--epochs", "2", "--out", str(straight)])

    resumed = tmp_path / "resumed"
    shutil.copytree(one_epoch_run, resumed)                      # stopped after epoch 1 ...
    example.main(QUICK + ["--epochs", "2", "--resume", "--out", str(resumed)])   # ... and continued

    a = load_checkpoint(straight / "checkpoint_mlnn.npz")
    b = load_checkpoint(resumed / "checkpoint_mlnn.npz")
    assert a["epoch"] == b["epoch"] == 2
    assert list(a["model"]) == list(b["model"])
    for name in a["model"]:
        assert np.array_equal(a["model"][name], b["model"][name]), name
    for i, state in a["optimizer"]["state"].items():
        assert state["step"] == b["optimizer"]["state"][i]["step"]
        for key in ("exp_avg", "exp_avg_sq"):
            assert np.array_equal(state[key], b["optimizer"]["state"][i][key])
    assert a["loader"]["rng_state"] == b["loader"]["rng_state"]

    def without_timing(history):
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]
    assert len(a["history"]) == 2
    assert without_timing(a["history"]) == without_timing(b["history"])
    report_a = json.loads((straight / "report.json").read_text())["models"]["mlnn"]
    report_b = json.loads((resumed / "report.json").read_text())["models"]["mlnn"]
    assert report_a["test"]["accuracy"] == report_b["test"]["accuracy"]
    assert report_a["test"]["confusion_matrix"] == report_b["test"]["confusion_matrix"]


@pytest.mark.parametrize("argv,message", [
    (["--epochs", "0"], "--epochs must be a positive integer, got 0"), (["--lr", "-1"], "--lr must be a finite"),
    (["--lr", "0"], "--lr must be a finite"), (["--batch-size", "0"], "--batch-size must be a positive integer"),
    (["--limit", "-5"], "--limit must be a positive integer"), (["--models", "vgg"], "invalid choice: 'vgg'"),
    (["--epochs", "two"], "invalid int value: 'two'"),
    (["--lr", "inf"], "--lr must be a finite positive number, got inf"),
    (["--lr", "nan"], "--lr must be a finite positive number, got nan"),
    (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
    (["--lr", "0.1", "--change", "lr"], "--change applies a new setting to a resumed run; pass --resume too"),
    (["--resume", "--change", "limit"], "limit cannot change on resume"),
    (["--resume", "--overwrite"], "argument --overwrite: not allowed with argument --resume")])
def test_bad_command_line_arguments_exit(example, argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        example.main(argv + ["--out", str(tmp_path / "never")])
    assert info.value.code == 2                                   # argparse's usage error
    assert message in capsys.readouterr().err
    assert not (tmp_path / "never").exists()                     # rejected before anything was written


def test_importing_minigrad_does_not_import_other_frameworks():
    code = ("import sys\n"
            "import minigrad, minigrad.nn, minigrad.optim, minigrad.data, minigrad.metrics, models\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorflow', 'jax')))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@needs_data
def test_compare_torch_benchmark(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "bench"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compare_torch.py"), "--limit", "300",
                             "--epochs", "1", "--threads", "2", "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "mlnn.json").read_text())
    assert report["train_images"] == 300 and report["settings"]["epochs"] == 1 and report["seeds"] == [0]
    (run,) = report["runs"]
    for framework in ("minigrad", "pytorch"):
        r = run[framework]
        assert 0.0 <= r["test_accuracy"] <= 1.0 and len(r["val_accuracy"]) == 1
        assert r["first_epoch_s"] > 0 and r["steady_epoch_s"] > 0 and len(r["epoch_seconds"]) == 1
        assert r["inference_samples_per_s"] > 0
    # Same initial weights, batches and update rule: after one short epoch the two models still predict
    # almost alike (float32 rounding has not had time to make them drift apart).
    assert abs(run["minigrad"]["val_accuracy"][0] - run["pytorch"]["val_accuracy"][0]) < 0.01
    assert "minigrad / PyTorch" in (out / "mlnn.md").read_text()


@needs_data
def test_gounder_example_writes_its_report(tmp_path):
    gounder = load_script("examples/gounder.py", "gounder_example")
    gounder.main(QUICK + ["--epochs", "2", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "report.json").read_text())
    result = report["result"]
    assert result["settings"]["batch_size"] == 32 and result["settings"]["early_stopping"]["patience"] == 3
    assert result["efficiency"]["parameters"] == 463_176 and len(result["history"]) == 2
    md = (tmp_path / "report.md").read_text()
    for text in ("Classification report", "macro avg", "weighted avg", "0.9161", f"{result['test']['accuracy']:.4f}"):
        assert text in md, text
    assert is_png(tmp_path / "curves.png") and is_png(tmp_path / "confusion_gounder_cnn.png")


@needs_data
def test_dclnn_example_writes_tables_1_and_2(tmp_path):
    dclnn = load_script("examples/dclnn.py", "dclnn_example")
    dclnn.main(QUICK + ["--epochs", "1", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["tasks"]) == {"wbc4", "mono_poly"}
    four, two = report["tasks"]["wbc4"], report["tasks"]["mono_poly"]
    assert four["classes"] == ["eosinophil", "lymphocyte", "monocyte", "neutrophil"] and four["test_images"] == 1817
    assert two["classes"] == ["mononuclear", "polynuclear"] and two["test_images"] == 1817
    for task in (four, two):
        assert set(task["scores"]) == {"NB", "SVM", "DCLNN (max pooling)", "DCLNN (average pooling)"}
        for scores in task["scores"].values():
            assert set(scores) == set(task["classes"]) | {"Average"}
            average = scores["Average"]["precision"]
            assert average == pytest.approx(np.mean([scores[c]["precision"] for c in task["classes"]]))
    md = (tmp_path / "report.md").read_text()
    for text in ("Table 1 (four classes)", "Table 1 (two classes)", "Table 2 (four classes)", "max pooling vs average",
                 "| Method | Class | Precision | Recall | F1 score |", "**Average**"):
        assert text in md, text
    assert is_png(tmp_path / "averages.png") and is_png(tmp_path / "confusion_dclnn_avg_mono_poly.png")


@needs_data
def test_jane_example_cross_validates_and_tests(tmp_path):
    jane = load_script("examples/jane.py", "jane_example")
    jane.main(QUICK + ["--epochs", "2", "--cv-epochs", "1", "--folds", "3", "--lrs", "0.01", "0.001",
                       "--out", str(tmp_path)])
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["folds"] == 3 and set(report["cross_validation"]) == {"cnn_lstm", "cnn_gru"}
    for name, by_lr in report["cross_validation"].items():
        assert set(by_lr) == {"0.01", "0.001"}
        for cv in by_lr.values():
            assert len(cv["folds"]) == 3 and len(cv["per_epoch_accuracy"]) == 1    # --cv-epochs
            assert len(cv["folds"][0]) == 5
            accuracies = [f["accuracy"] for f in cv["folds"]]
            assert cv["summary"]["accuracy"]["mean"] == pytest.approx(np.mean(accuracies))
            assert cv["summary"]["accuracy"]["std"] == pytest.approx(np.std(accuracies))
        # the test-split model trains at the rate whose folds scored best, for --epochs
        best_lr = max(by_lr, key=lambda lr: by_lr[lr]["summary"]["accuracy"]["mean"])
        assert report["test_split_lr"][name] == float(best_lr)
        assert report["test_split"][name]["settings"]["lr"] == float(best_lr)
        assert len(report["test_split"][name]["history"]) == 2
    test = report["test_split"]["cnn_gru"]["test"]
    assert test["class_names"] == ["eosinophil", "lymphocyte", "monocyte", "neutrophil"]
    assert np.array(test["confusion_matrix"]).sum() == 1817
    md = (tmp_path / "report.md").read_text()
    for text in ("Table II", "Table III", "± ", "CNN-LSTM lr 0.001", "0.921", "3-fold mean accuracy"):
        assert text in md, text
    assert is_png(tmp_path / "cv_curves.png") and is_png(tmp_path / "confusion_cnn_lstm.png")


@needs_data
def test_unet_example_writes_tables_3_to_6(tmp_path):
    unet = load_script("examples/unet_encoder.py", "unet_example")
    unet.main(QUICK + ["--epochs", "1", "--models", "unet_encoder", "simple_cnn", "unet_no_bn", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["models"]) == {"unet_encoder", "simple_cnn", "unet_no_bn"}
    for r in report["models"].values():
        assert len(r["history"]) == 1 and 0 <= r["test"]["accuracy"] <= 1
    assert report["models"]["unet_encoder"]["settings"]["label_smoothing"] == 0.1
    md = (tmp_path / "report.md").read_text()
    for text in ("Table 3", "Baseline 1: Simple CNN", "Table 4. Batch normalization ablation", "without batch norm",
                 "Δ val from main (epochs 1-1)"):
        assert text in md, text
    assert "Table 5" not in md                               # only the ablations that ran get a table
    assert is_png(tmp_path / "val_accuracy_batch_norm.png") and is_png(tmp_path / "confusion_unet_no_bn.png")
