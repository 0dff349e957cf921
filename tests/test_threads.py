"""minigrad/threads.py: which pool runs numba's kernels, and the one-BLAS-thread switch."""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

# Runs one parallel numba kernel in a fresh interpreter (the layer is chosen once per process) and prints
# the threading layer numba picked.
PICK_LAYER = """
import minigrad, numba, numpy as np
from minigrad.kernels.relu import relu_backward_numba
relu_backward_numba(np.ones(8, np.float32), np.ones(8, np.float32))
print(numba.threading_layer())
"""


def threading_layer(**env):
    environment = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"} | env
    result = subprocess.run([sys.executable, "-c", PICK_LAYER], cwd=ROOT, env=environment, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def tbb_expected():
    """Whether minigrad should run numba on TBB here: the tbb package installed, on Linux (see threads.py)."""
    try:
        importlib.metadata.version("tbb")
    except importlib.metadata.PackageNotFoundError:
        return False
    return sys.platform == "linux"


def test_numba_kernels_run_on_tbb_where_the_package_is_installed_else_on_workqueue():
    # pip puts libtbb outside the loader's search path; minigrad.threads loads it so numba finds it.
    assert threading_layer() == ("tbb" if tbb_expected() else "workqueue")


def test_a_threading_layer_chosen_in_the_environment_is_kept():
    assert threading_layer(NUMBA_THREADING_LAYER="workqueue") == "workqueue"
    if tbb_expected():
        assert threading_layer(NUMBA_THREADING_LAYER="tbb") == "tbb"


def test_one_blas_thread_limits_blas_inside_and_restores_it_after():
    from threadpoolctl import threadpool_info

    from minigrad.threads import one_blas_thread

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    if not before:
        pytest.skip("NumPy's BLAS is not visible to threadpoolctl here")
    with one_blas_thread():
        assert blas_threads() == [1] * len(before)
        a = np.ones((4, 4), np.float32)
        assert (a @ a == 4).all()
    assert blas_threads() == before
