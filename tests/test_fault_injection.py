"""Fault injection (`pytest -m slow tests/test_fault_injection.py`): a training run killed with SIGKILL at 20
random moments, some of them while a checkpoint is being written, and resumed after each, leaves only files
that load and verify, no temporary file and no lock once it has finished, and ends with exactly the arrays of
a run that was never interrupted.

The run is `minigrad train` of simple_cnn (batch norm, augmentation, a plateau schedule and a best-weights
checkpoint: every kind of state a checkpoint carries) on a synthetic data file, 50 batches an epoch. A third
of the kills fall at a random moment of a process's start-up (imports, data, lock, resume), a third at a
random moment after its first epoch (writing that epoch's checkpoints, or training the next), and a third
while a checkpoint is being written: there tests/train_driver.py makes fsync print FSYNC and sleep, and the
test kills the process then, with the checkpoint's temporary file written but not yet renamed. A kill lets
the run progress by about one epoch at most, so kills of every kind fall all along the run.
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from minigrad.checkpoint import load_checkpoint
from train_driver import FSYNC_MARKER, write_data

ROOT = Path(__file__).resolve().parent.parent
EPOCHS, KILLS, SEED = 10, 20, 13
ARGS = ["train", "simple_cnn", "--limit", "800", "--batch-size", "16", "--epochs", str(EPOCHS), "--seed", "3",
        "--no-progress"]
FILES = {"checkpoint_simple_cnn.npz", "best_simple_cnn.npz", "confusion_simple_cnn.png", "curves.png",
         "report.json", "report.md"}


def start(data, out, log, resume=True, slow_fsync=None):
    """A `minigrad train` process writing its output to the file ``log``."""
    command = [sys.executable, str(ROOT / "tests" / "train_driver.py"), str(data)]
    command += ["--slow-fsync", str(slow_fsync)] if slow_fsync else []
    command += ["--", *ARGS, "--out", str(out)] + (["--resume"] if resume else [])
    with open(log, "w") as f:
        return subprocess.Popen(command, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)


def wait_for(process, log, text, count=1, timeout=120):
    """Seconds until ``text`` has appeared ``count`` times in ``log``; None if the process ended first."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if Path(log).read_text().count(text) >= count:
            return time.monotonic() - began
        if process.poll() is not None:
            return None
        time.sleep(0.01)
    raise AssertionError(f"{text!r} did not appear in {log} within {timeout} s")


def arrays_and_values(value, where="state"):
    """Every array (by its place in the state) and every other value, timings left out."""
    if isinstance(value, dict):
        items = [(k, v) for k, v in value.items() if k not in ("seconds", "train_seconds")]
        return [pair for k, v in items for pair in arrays_and_values(v, f"{where}[{k!r}]")]
    if isinstance(value, (list, tuple)):
        return [pair for i, v in enumerate(value) for pair in arrays_and_values(v, f"{where}[{i}]")]
    return [(where, value)]


def assert_same_state(a, b):
    pairs_a, pairs_b = arrays_and_values(a), arrays_and_values(b)
    assert [w for w, _ in pairs_a] == [w for w, _ in pairs_b]
    for (where, x), (_, y) in zip(pairs_a, pairs_b):
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), where        # bit for bit (no NaN here)
        else:
            assert x == y, where


def assert_every_checkpoint_loads(out):
    for path in out.glob("*.npz"):
        load_checkpoint(path)                                               # CheckpointError on any damage


@pytest.mark.slow
def test_twenty_kills_then_resume_match_an_uninterrupted_run(tmp_path):
    data = write_data(tmp_path / "bloodmnist.npz", train=800, val=64, test=64, learnable=True)
    straight, killed, logs = tmp_path / "straight", tmp_path / "killed", tmp_path / "logs"
    logs.mkdir()

    process = start(data, straight, logs / "straight.log", resume=False)
    startup = wait_for(process, logs / "straight.log", "parameters;")
    assert process.wait(timeout=600) == 0, (logs / "straight.log").read_text()
    epoch = np.median([row["seconds"] for row in load_checkpoint(straight / "checkpoint_simple_cnn.npz")["history"]])

    rng = np.random.default_rng(SEED)
    write_kills, temp_files_left = 0, 0
    for i in range(KILLS):
        log = logs / f"kill{i:02d}.log"
        if i % 3 == 0:                              # 7 of the 20: during the first write after the resume
            process = start(data, killed, log, slow_fsync=0.5)
            hit = wait_for(process, log, FSYNC_MARKER)
        elif i % 3 == 1:                            # during start-up: imports, data, lock, resume
            process = start(data, killed, log)
            time.sleep(rng.uniform(0, startup))
            hit = None
        else:                                       # after an epoch: its checkpoints, or the next epoch
            process = start(data, killed, log)
            wait_for(process, log, f"/{EPOCHS}: train loss")
            time.sleep(rng.uniform(0, epoch))
            hit = None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        assert process.returncode in (-signal.SIGKILL, 0), log.read_text()   # 0: the run had ended by then
        if hit is not None and process.returncode == -signal.SIGKILL:
            write_kills += 1
            left = [p for p in killed.iterdir() if p.name.endswith(".tmp")]
            assert len(left) == 1, sorted(p.name for p in killed.iterdir())   # killed inside the write
            temp_files_left += 1
        assert_every_checkpoint_loads(killed)
    assert write_kills >= 5

    final = logs / "final.log"
    process = start(data, killed, final)
    assert process.wait(timeout=600) == 0, final.read_text()
    assert {p.name for p in killed.iterdir()} == FILES                     # no temporary file, no lock
    texts = [p.read_text() for p in sorted(logs.glob("kill*.log"))] + [final.read_text()]
    assert sum(t.count("left by a checkpoint write that was killed") for t in texts) >= temp_files_left
    assert any("took over a stale lock" in t for t in texts)

    for name in ("checkpoint_simple_cnn.npz", "best_simple_cnn.npz"):
        a, b = load_checkpoint(straight / name), load_checkpoint(killed / name)
        assert_same_state(a, b)
    assert load_checkpoint(killed / "checkpoint_simple_cnn.npz")["epoch"] == EPOCHS
