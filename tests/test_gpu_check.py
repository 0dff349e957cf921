"""benchmarks/gpu_check.sh, the acceptance run for a lent GPU machine, run here where there is no GPU: it must
notice, skip the GPU steps saying so, still run the others for real, and write a summary.json that says it all.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minigrad.backend import cupy_available

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
STEPS = ["env", "kernels", "gpu_tests", "parity", "train_cnn", "evaluate_cnn", "compare_cnn", "train_unet",
         "evaluate_unet", "compare_unet"]
GPU_STEPS = STEPS[2:]

pytestmark = [pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                                 reason="needs bash and timeout (coreutils)"),
              pytest.mark.skipif(cupy_available(), reason="checks the run without a GPU; this machine has one")]


def run_check(out, **settings):
    env = dict(os.environ, OUT=str(out), PYTHON=sys.executable, GPU_CHECK_BUDGET="120")
    env.update(settings)
    result = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    summary = json.loads((out / "summary.json").read_text())
    return result, summary, {s["name"]: s for s in summary["steps"]}


def test_without_a_gpu_the_gpu_steps_are_skipped_and_the_others_run(tmp_path):
    result, summary, steps = run_check(tmp_path, GPU_CHECK_KERNELS="relu_backward")
    assert result.returncode == 2, result.stdout + result.stderr              # 2: no GPU, nothing failed
    assert list(steps) == STEPS and summary["gpu"] is False and summary["failed"] == []
    assert (tmp_path / "logs" / "detect_gpu.log").read_text().strip()        # why CuPy found no GPU
    for name in GPU_STEPS:
        assert steps[name]["status"] == "skipped: no GPU" and steps[name]["exit_status"] is None
        assert not (tmp_path / "logs" / f"{name}.log").exists()
    assert "--device cuda" in steps["train_cnn"]["command"] and "--device cpu" in steps["evaluate_cnn"]["command"]
    env, kernels = steps["env"], steps["kernels"]
    assert env["status"] == "passed" and env["exit_status"] == 0 and env["seconds"] > 0
    assert "numba" in (tmp_path / env["log"]).read_text()
    assert kernels["command"].startswith("NUMBA_ENABLE_CUDASIM=1 ") and "-k 'relu_backward'" in kernels["command"]
    log = (tmp_path / kernels["log"]).read_text()
    assert kernels["exit_status"] == 0 and "passed" in log and "deselected" in log, log


def test_a_failing_step_does_not_stop_the_rest_and_the_exit_status_says_so(tmp_path):
    result, summary, steps = run_check(tmp_path, GPU_CHECK_KERNELS="no_such_kernel")
    assert result.returncode == 1 and summary["failed"] == ["kernels"]
    assert steps["kernels"]["status"] == "failed" and steps["kernels"]["exit_status"] == 5   # pytest: none ran
    assert steps["env"]["status"] == "passed" and list(steps) == STEPS


def test_the_dry_run_records_every_command_and_runs_none(tmp_path):
    result, summary, steps = run_check(tmp_path, GPU_CHECK_DRY="1")
    assert result.returncode == 0 and summary["dry_run"] is True and list(steps) == STEPS
    assert all(s["status"] == "dry run: not run" and s["log"] is None for s in steps.values())
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["detect_gpu.log"]


def test_a_step_left_too_little_of_the_budget_is_skipped_as_a_failure(tmp_path):
    result, summary, steps = run_check(tmp_path, GPU_CHECK_BUDGET="5")
    assert result.returncode == 1 and steps["env"]["status"] == "skipped: out of time"
    assert summary["failed"] == ["env", "kernels"]
