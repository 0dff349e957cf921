"""A training run killed with SIGKILL in the middle of an epoch resumes from its last checkpoint and ends with
exactly the weights of a run that was never interrupted (`make test-slow`)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from minigrad.checkpoint import load_checkpoint
from test_examples import needs_data

ROOT = Path(__file__).resolve().parent.parent
# simple_cnn with the U-Net paper's recipe: augmentation, dropout-free but batch norm, a plateau schedule and a
# best-checkpoint callback, so every kind of state a checkpoint carries is exercised.
ARGS = ["simple_cnn", "--limit", "1200", "--epochs", "4", "--seed", "3", "--no-progress"]


def train_command(out, resume=False):
    return [sys.executable, "-m", "models.cli", "train", *ARGS, "--out", str(out)] + (["--resume"] if resume else [])


@pytest.mark.slow
@needs_data
def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(train_command(straight), cwd=ROOT, check=True, capture_output=True, timeout=900)

    process = subprocess.Popen(train_command(killed), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    checkpoint = killed / "checkpoint_simple_cnn.npz"
    deadline = time.time() + 600
    while time.time() < deadline:                     # wait until epoch 2 is on disk, then into epoch 3
        if checkpoint.exists():
            try:
                if load_checkpoint(checkpoint)["epoch"] >= 2:
                    break
            except ValueError:
                pass                                  # never happens with atomic writes; keep polling if it did
        time.sleep(0.05)
    time.sleep(0.5)                                   # part of the way into epoch 3
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    interrupted = load_checkpoint(checkpoint)        # the last complete checkpoint is intact
    assert 2 <= interrupted["epoch"] < 4

    subprocess.run(train_command(killed, resume=True), cwd=ROOT, check=True, capture_output=True, timeout=900)
    a, b = load_checkpoint(straight / "checkpoint_simple_cnn.npz"), load_checkpoint(checkpoint)
    assert a["epoch"] == b["epoch"] == 4
    for name in a["model"]:
        np.testing.assert_array_equal(a["model"][name], b["model"][name], err_msg=name)
    assert [h["val_loss"] for h in a["history"]] == [h["val_loss"] for h in b["history"]]
    best_a = load_checkpoint(straight / "best_simple_cnn.npz")["model"]
    best_b = load_checkpoint(killed / "best_simple_cnn.npz")["model"]
    for name in best_a:
        np.testing.assert_array_equal(best_a[name], best_b[name], err_msg=name)
