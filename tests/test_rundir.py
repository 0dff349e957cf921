"""minigrad.rundir: the lock on an output folder, and the rule that a new run never replaces an old one."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from minigrad.checkpoint import load_checkpoint, save_checkpoint
from minigrad.errors import RunDirError, SettingsError
from minigrad.rundir import LOCK_NAME, RunLock, claim_run, run_files

ROOT = Path(__file__).resolve().parent.parent


def python(code, **kwargs):
    """A Python subprocess running ``code`` from the repository root, its stdout piped."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True, **kwargs)


def dead_pid():
    """The pid of a process that has exited and been reaped (so nothing runs under it for now)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(folder, pid, hostname=None):
    """A lock file as another process would have left it (its start time unknown)."""
    owner = {"pid": pid, "hostname": hostname or socket.gethostname(), "started": "2026-01-01 00:00:00",
             "process_start": None, "command": "minigrad train cnn"}
    (folder / LOCK_NAME).write_text(json.dumps(owner))


def small_state(epoch):
    return {"model": {"w": np.full(3, float(epoch), np.float32)}, "epoch": epoch}


# ----- the lock ----------------------------------------------------------------------------------------------

def test_the_lock_file_names_its_owner_while_held_and_is_gone_after(tmp_path):
    with RunLock(tmp_path / "run", log=lambda text: None):
        owner = json.loads((tmp_path / "run" / LOCK_NAME).read_text())
        assert owner["pid"] == os.getpid() and owner["hostname"] == socket.gethostname()
        assert owner["started"] and owner["command"]
    assert not (tmp_path / "run" / LOCK_NAME).exists()


def test_the_lock_is_released_when_the_run_raises(tmp_path):
    with pytest.raises(KeyError), RunLock(tmp_path, log=lambda text: None):
        raise KeyError("boom")
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_process_may_take_its_own_lock_again_and_only_the_outer_exit_releases_it(tmp_path):
    with RunLock(tmp_path):
        with RunLock(tmp_path):
            pass
        assert (tmp_path / LOCK_NAME).exists()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_second_process_is_refused_naming_the_folder_and_the_owners_pid(tmp_path):
    holder = python(f"""
        import time
        from minigrad.rundir import RunLock
        with RunLock({str(tmp_path)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirError) as info, RunLock(tmp_path):
            pytest.fail("the lock was taken while another process held it")
        assert str(tmp_path) in str(info.value) and f"pid {holder.pid}" in str(info.value)
    finally:
        holder.kill()
        holder.wait()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == holder.pid   # ours was never written


def test_a_lock_of_a_live_process_refuses(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_lock(tmp_path, sleeper.pid)
        with pytest.raises(RunDirError, match=rf"in use by another run \(pid {sleeper.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_stale_lock_of_a_dead_process_is_logged_and_taken_over(tmp_path):
    pid = dead_pid()
    write_lock(tmp_path, pid)
    lines = []
    with RunLock(tmp_path, log=lines.append):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert len(lines) == 1 and "stale lock" in lines[0] and f"pid {pid}" in lines[0] and "no longer running" in lines[0]
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_left_under_this_processs_own_pid_is_stale(tmp_path):
    write_lock(tmp_path, os.getpid())                # an earlier process that had the same pid (a container)
    lines = []
    with RunLock(tmp_path, log=lines.append):
        pass
    assert "no longer running" in lines[0]


def test_a_lock_from_another_host_is_not_judged_and_the_message_says_how_to_remove_it(tmp_path):
    write_lock(tmp_path, 4242, hostname="elsewhere.example")
    with pytest.raises(RunDirError) as info:
        RunLock(tmp_path).acquire()
    assert "locked by a run on another host (pid 4242 on elsewhere.example" in str(info.value)
    assert str(info.value).endswith(f"If it has ended, delete {tmp_path / LOCK_NAME}")


def test_an_unreadable_lock_is_refused_while_young_and_taken_over_when_old(tmp_path):
    lock = tmp_path / LOCK_NAME
    lock.write_bytes(b"\x00{garbage")
    with pytest.raises(RunDirError, match=rf"cannot be read yet .*delete {lock}"):
        RunLock(tmp_path).acquire()
    old = time.time() - 60
    os.utime(lock, (old, old))
    lines = []
    with RunLock(tmp_path, log=lines.append):
        pass
    assert "could not be read" in lines[0] and not lock.exists()


# ----- one run's files ---------------------------------------------------------------------------------------

def test_a_new_run_where_one_is_refuses_and_leaves_it_intact(tmp_path):
    files = run_files(tmp_path, "cnn")
    save_checkpoint(files.checkpoint, small_state(30))
    before = files.checkpoint.read_bytes()
    with pytest.raises(RunDirError) as info:
        claim_run(tmp_path, "cnn")
    assert str(info.value) == (f"{tmp_path} already holds a run of cnn (checkpoint_cnn.npz, epoch 30); pass "
                               "--resume to continue it or --overwrite to replace it")
    assert files.checkpoint.read_bytes() == before
    assert claim_run(tmp_path, "cnn", resume=True) == files           # resuming it is allowed
    assert claim_run(tmp_path, "mlnn") == run_files(tmp_path, "mlnn")  # another tag is another run


def test_overwrite_removes_only_that_runs_files_and_says_so(tmp_path):
    mine, other = run_files(tmp_path, "cnn"), run_files(tmp_path, "cnn_wide")
    for files in (mine, other):
        save_checkpoint(files.checkpoint, small_state(3))
        save_checkpoint(files.best, small_state(2))
    lines = []
    claim_run(tmp_path, "cnn", overwrite=True, log=lines.append)
    assert not mine.checkpoint.exists() and not mine.best.exists()
    assert load_checkpoint(other.checkpoint)["epoch"] == 3 and load_checkpoint(other.best)["epoch"] == 2
    assert "--overwrite" in lines[0] and "checkpoint_cnn.npz" in lines[0] and "best_cnn.npz" in lines[0]


def test_resume_needs_the_checkpoint_when_other_files_of_the_run_are_there(tmp_path):
    save_checkpoint(run_files(tmp_path, "cnn").best, small_state(4))
    with pytest.raises(RunDirError, match="holds a run of cnn .best_cnn.npz. but no checkpoint_cnn.npz"):
        claim_run(tmp_path, "cnn", resume=True)
    lines = []
    claim_run(tmp_path / "empty", "cnn", resume=True, log=lines.append)        # nothing at all: a new run
    assert "starting a new one" in lines[0]


def test_resume_starts_again_after_a_kill_during_the_first_checkpoint_write(tmp_path):
    files = run_files(tmp_path, "cnn")
    save_checkpoint(files.best, small_state(1))         # epoch 1's best weights, then killed: no checkpoint
    lines = []
    assert claim_run(tmp_path, "cnn", resume=True, log=lines.append) == files
    assert "first epoch whose checkpoint was never written" in lines[0]
    with pytest.raises(RunDirError, match="already holds a run of cnn .best_cnn.npz."):
        claim_run(tmp_path, "cnn")                        # a new run still does not replace it silently


def test_resume_and_overwrite_together_are_refused(tmp_path):
    with pytest.raises(SettingsError, match="exclude each other"):
        claim_run(tmp_path, "cnn", resume=True, overwrite=True)


def test_temp_files_of_a_killed_checkpoint_write_are_removed_and_logged(tmp_path):
    path = tmp_path / "checkpoint_cnn.npz"
    writer = python(f"""
        import os, signal
        import numpy as np
        from minigrad.checkpoint import save_checkpoint
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)    # killed after writing, before the rename
        save_checkpoint({str(path)!r}, {{"model": {{"w": np.zeros(1000)}}, "epoch": 1}})
        """)
    writer.wait(timeout=120)
    assert writer.returncode == -signal.SIGKILL
    left = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and not path.exists()
    lines = []
    claim_run(tmp_path, "cnn", log=lines.append)
    assert list(tmp_path.iterdir()) == []
    assert len(lines) == 1 and left[0].name in lines[0] and "killed" in lines[0]
