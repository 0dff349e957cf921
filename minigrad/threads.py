"""How minigrad's two pools of worker threads share the CPU.

Matrix products run on OpenBLAS's threads (inside NumPy); numba kernels run on numba's threads. By default
both kinds keep spinning on their cores for a while after their work ends, waiting for more: OpenBLAS for
about 2^28 cycles (a tenth of a second), GNU OpenMP (numba's usual layer) for up to 200 ms. A training
step alternates between the two every few milliseconds, so each pool ran on cores the other was still
spinning on: on a 2-core machine an MLNN step took 30 ms where it takes 18 ms once idle threads sleep.

So, before NumPy and numba start their threads, minigrad asks OpenBLAS to sleep soon after it is idle
(``OPENBLAS_THREAD_TIMEOUT=4``: 2^4 cycles), and runs numba's kernels on Intel TBB's pool when the ``tbb``
package is installed (one of minigrad's requirements on Linux x86-64), else on numba's own ``workqueue``.
Both let idle threads sleep; they differ in what a parallel loop costs to start. ``workqueue`` hands the
loop to worker threads and puts the calling thread to sleep until they finish: on a virtual machine,
where waking a sleeping thread takes 0.1-0.3 ms (a numba loop over 1,000 numbers took 0.13-0.34 ms
here), every kernel call of a training step paid that two or three times. TBB's calling thread takes a
share of the loop itself and its workers spin briefly before sleeping, so kernels that follow each other
find them awake: the same loop took 4 us back to back (workqueue: 36-190 us), 28-60 us after 2 ms idle.
Measured on this project's 2-core machine (median of 40 training steps, three runs each): the U-Net
encoder's step went from 153 ms to 126 ms, Pinto & Silva's CNN from 36 ms to 23 ms, the MLNN from 11 ms
to 8.3 ms.

GNU OpenMP's pool would do as well if its threads slept at once (``OMP_WAIT_POLICY=PASSIVE``), but PyTorch
shares that library when both are loaded in one process (benchmarks/compare_torch.py), and the setting
made PyTorch's own steps 1.4-1.7x slower: a comparison run that way would flatter minigrad.

The settings are read when NumPy and numba first start their threads, so import minigrad before NumPy in
a script that wants them (the examples and benchmarks do); a value already in the environment is kept
(``NUMBA_THREADING_LAYER=workqueue`` restores the old pool).
"""

import ctypes
import importlib.metadata
import os
import sys
from contextlib import contextmanager

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numba  # noqa: E402  (after the environment is set)

TBB_LIBRARY = "libtbb.so.12" if sys.platform == "linux" else None     # the file numba's TBB layer asks for


def load_tbb():
    """Load the TBB library of the ``tbb`` package, if installed; return whether it was found.

    pip puts it in the environment's lib/ folder, which the dynamic loader does not search, so numba's
    TBB layer would fail to find it by name. Loaded once here, it is found: a library already in the
    process satisfies a later request for the same name.
    """
    if TBB_LIBRARY is None:                     # pip's tbb wheels are for Linux and Windows; tried on Linux
        return False
    try:
        files = importlib.metadata.files("tbb") or []
    except importlib.metadata.PackageNotFoundError:
        return False
    for f in files:
        if f.name == TBB_LIBRARY:
            try:
                ctypes.CDLL(str(f.locate()), mode=ctypes.RTLD_GLOBAL)
                return True
            except OSError:
                return False
    return False


load_tbb()                                       # also for NUMBA_THREADING_LAYER=tbb set by hand
if "NUMBA_THREADING_LAYER" not in os.environ:
    # "default" takes the first layer of this list that loads (numba wants all three named): TBB where its
    # library is found, else workqueue, which always loads.
    numba.config.THREADING_LAYER = "default"
    numba.config.THREADING_LAYER_PRIORITY = ["tbb", "workqueue", "omp"]


_blas = None


@contextmanager
def one_blas_thread():
    """Run the matrix products inside on a single OpenBLAS thread.

    For a loop of many small products, such as a recurrent layer's h_{t-1} W_hh^T for B = 32, H = 128:
    split over two threads, one (32, 128) @ (128, 512) product took 81 us here instead of 46 us, because
    waking the second thread costs more than its half of the work. Entering and leaving costs about 9 us.
    On a GPU, where the products run on cuBLAS, it changes nothing.
    """
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController().select(user_api="blas")
    with _blas.limit(limits=1):
        yield
