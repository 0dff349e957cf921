"""Guarding an output folder, so that a run in it cannot be lost.

Two things destroy a run kept in a folder: a second process training into the same folder at the same time,
and a new run started where an old one lives. This module refuses both.

:class:`RunLock` puts a lock file, ``minigrad.lock``, in the folder for as long as a run uses it. The file is
created with ``O_CREAT | O_EXCL``, which the operating system carries out atomically: of two processes
creating it at once exactly one succeeds. It holds JSON naming its owner (pid, host, start time, command
line), so the other process can refuse with a message saying who has the folder. The lock is removed when
the run ends, by an exception too. A run killed with SIGKILL cannot remove it; the next start finds a lock
whose process is gone (same host, and ``os.kill(pid, 0)`` raises ``ProcessLookupError``), says so in the log
and takes the folder over.

:func:`claim_run`, called under the lock, makes the folder ready for one run (a ``tag``): it removes the
temporary files that killed checkpoint writes left, and refuses to start a new run of ``tag`` where one
already is, unless the caller resumes it or overwrites it.

    with RunLock("results/cnn"):
        files = claim_run("results/cnn", "cnn", resume=False, overwrite=False)
        ...                                          # train, writing files.checkpoint after every epoch

POSIX only (Linux, macOS), as the rest of minigrad's process handling.
"""

import contextlib
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from collections import namedtuple
from pathlib import Path

from .checkpoint import load_checkpoint, remove_temp_files
from .errors import CheckpointError, RunDirError, SettingsError

LOCK_NAME = "minigrad.lock"
# A lock file that cannot be read may be one that its process is still writing; only an older one is stale.
UNREADABLE_LOCK_GRACE_S = 10.0

_held = {}  # resolved folder -> how many RunLocks of this process hold it (a process may lock a folder twice)


# ----- the lock ----------------------------------------------------------------------------------------------

class RunLock:
    """A context manager holding ``folder``'s lock file while a run uses the folder.

    Entering creates ``folder/minigrad.lock`` atomically or raises :class:`~minigrad.errors.RunDirError`
    naming the folder and the owner's pid when a live process holds it. A lock whose process is gone (or an
    unreadable lock file older than ``UNREADABLE_LOCK_GRACE_S``) is stale: it is logged and taken over.
    Leaving removes the lock file if it is still this process's. One process may enter the same folder's
    lock again (nested): only the outermost exit removes the file.
    """

    def __init__(self, folder, log=print):
        self.folder, self.log = Path(folder), log
        self.path = self.folder / LOCK_NAME
        self.owner = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()
        return False

    def acquire(self):
        """Take the lock (see the class doc); RunDirError when another live process holds it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        key = self.folder.resolve()
        if key in _held:
            _held[key] += 1
            return
        owner = owner_record()
        for _ in range(10):  # each round either creates the lock, refuses, or removes a stale one
            if create_lock_file(self.path, owner):
                self.owner, _held[key] = owner, 1
                return
            self.take_over_if_stale()
        raise RunDirError(f"could not lock {self.folder}: {self.path} keeps coming back; is another run "
                          "starting there?")

    def release(self):
        """Give the lock back; the file is removed when this is the process's outermost hold on it."""
        key = self.folder.resolve()
        _held[key] -= 1
        if _held[key]:
            return
        del _held[key]
        try:
            if parse_owner(self.path.read_bytes()) == self.owner:
                self.path.unlink()
        except FileNotFoundError:
            pass

    def take_over_if_stale(self):
        """Remove the lock file if it is stale (logged); RunDirError if its owner may be alive."""
        try:
            raw, age = self.path.read_bytes(), time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return                                           # released meanwhile: try to create it again
        reason = self.stale_reason(parse_owner(raw), age)
        with folder_mutex(self.folder):                      # two processes must not both remove and recreate
            try:
                if self.path.read_bytes() != raw:
                    return                                   # another process took it over first: judge again
            except FileNotFoundError:
                return
            self.path.unlink()
        self.log(f"{self.folder}: took over a stale lock: {reason}")

    def stale_reason(self, owner, age):
        """Why the lock with ``owner`` (None: unreadable) is stale; RunDirError if it may be in use."""
        if owner is None:
            if age < UNREADABLE_LOCK_GRACE_S:
                raise RunDirError(f"{self.folder} is locked by {self.path}, which cannot be read yet (written "
                                  f"{age:.0f} s ago, perhaps by a run that is starting); if no run uses the "
                                  f"folder, delete {self.path}")
            return f"{self.path} could not be read and is {age:.0f} s old"
        who = f"pid {owner['pid']} on {owner['hostname']}, started {owner['started']}: {owner['command']}"
        if owner["hostname"] != socket.gethostname():
            raise RunDirError(f"{self.folder} is locked by a run on another host ({who}); whether it still runs "
                              f"cannot be checked from here. If it has ended, delete {self.path}")
        if owner_alive(owner):
            raise RunDirError(f"{self.folder} is in use by another run (pid {owner['pid']}, started "
                              f"{owner['started']}: {owner['command']}); wait for it to end or use another "
                              "output folder")
        return f"{who} is no longer running"


def owner_record():
    """What the lock file says about this process: pid, host, start time, command line."""
    pid = os.getpid()
    return {"pid": pid, "hostname": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "process_start": process_start(pid), "command": shlex.join([Path(sys.argv[0]).name] + sys.argv[1:])}


def create_lock_file(path, owner):
    """Create ``path`` holding ``owner`` as JSON if no such file exists; False if one does."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump(owner, f)
    return True


def parse_owner(raw):
    """The owner dict of a lock file's bytes, or None when they are not a lock this module wrote."""
    try:
        owner = json.loads(raw.decode("utf-8"))
    except ValueError:                                       # UnicodeDecodeError and JSONDecodeError
        return None
    keys = {"pid", "hostname", "started", "process_start", "command"}
    if not isinstance(owner, dict) or set(owner) != keys or type(owner["pid"]) is not int:
        return None
    return owner


def owner_alive(owner):
    """Whether the process that wrote a lock on this host still runs.

    A lock with this process's own pid was left by an earlier process that had the same pid (this process
    holds none that it does not know of). Where /proc tells when a process started, a live pid that started
    at another time than the lock's owner is a later process that reused the pid.
    """
    pid = owner["pid"]
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)                                      # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:                                  # it exists, and belongs to another user
        return True
    started = process_start(pid)
    return started is None or owner["process_start"] is None or started == owner["process_start"]


def process_start(pid):
    """When process ``pid`` started (clock ticks after boot, /proc/PID/stat field 22), or None without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])          # fields 3.. follow the ")" closing the name


@contextlib.contextmanager
def folder_mutex(folder):
    """Hold an exclusive flock on ``folder`` itself (released when the folder's descriptor closes)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# ----- one run's files ---------------------------------------------------------------------------------------

RunFiles = namedtuple("RunFiles", "checkpoint best confusion")


def run_files(folder, tag):
    """The files a run of ``tag`` keeps in ``folder``: checkpoint_<tag>.npz (after every epoch),
    best_<tag>.npz (the best epoch's weights) and confusion_<tag>.png (its report's confusion matrix)."""
    folder = Path(folder)
    return RunFiles(folder / f"checkpoint_{tag}.npz", folder / f"best_{tag}.npz", folder / f"confusion_{tag}.png")


def claim_run(folder, tag, resume=False, overwrite=False, log=print):
    """Make ``folder`` ready for a run of ``tag`` and return its :func:`run_files`; call it holding the lock.

    Stale temporary files of killed checkpoint writes are removed first (logged). Then the rule: a folder
    that holds any file of a run of ``tag`` is continued only with ``resume`` (which needs the checkpoint)
    and replaced only with ``overwrite`` (which removes that run's files, and only those, logging them);
    otherwise :class:`~minigrad.errors.RunDirError`. With ``resume`` and no checkpoint a new run starts if
    the folder holds nothing of the run, or only the best weights of epoch 1: what a run killed while
    writing its first checkpoint leaves (the best weights are written first), and will write again.
    """
    if resume and overwrite:
        raise SettingsError("--resume and --overwrite exclude each other: continue the run or replace it")
    files = run_files(folder, tag)
    for path in (files.checkpoint, files.best):
        for stale in remove_temp_files(path):
            log(f"removed {stale}, left by a checkpoint write that was killed")
    present = [path for path in files if path.exists()]
    if not present:
        if resume:
            log(f"{folder} holds no run of {tag} to resume; starting a new one")
        return files
    if overwrite:
        for path in present:
            path.unlink()
        log(f"--overwrite: removed the old run of {tag} from {folder} ({', '.join(p.name for p in present)})")
        return files
    if resume and files.checkpoint.exists():
        return files
    if resume and present == [files.best] and saved_epoch(files.best) == 1:
        log(f"{folder} holds {files.best.name} of a first epoch whose checkpoint was never written; starting "
            f"the run of {tag} again")
        return files
    what = describe_run(files, present)
    if resume:
        raise RunDirError(f"{folder} holds a run of {tag} ({what}) but no {files.checkpoint.name} to resume "
                          "from; pass --overwrite to replace it")
    raise RunDirError(f"{folder} already holds a run of {tag} ({what}); pass --resume to continue it or "
                      "--overwrite to replace it")


def describe_run(files, present):
    """'checkpoint_cnn.npz, epoch 30' for the refusal message (or the names of the files present)."""
    if files.checkpoint not in present:
        return ", ".join(path.name for path in present)
    epoch = saved_epoch(files.checkpoint)
    return f"{files.checkpoint.name}, " + (f"epoch {epoch}" if epoch is not None else "which cannot be read")


def saved_epoch(path):
    """The epoch a checkpoint file holds, or None when it cannot be read."""
    try:
        return load_checkpoint(path)["epoch"]
    except (CheckpointError, KeyError):
        return None
