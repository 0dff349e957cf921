"""How minigrad's two pools of worker threads share the CPU.

Matrix products run on OpenBLAS's threads (inside NumPy); numba kernels run on numba's threads. By default
both kinds keep spinning on their cores for a while after their work ends, waiting for more: OpenBLAS for
about 2^28 cycles (a tenth of a second), GNU OpenMP (numba's usual layer) for up to 200 ms. A training
step alternates between the two every few milliseconds, so each pool ran on cores the other was still
spinning on: on a 2-core machine an MLNN step took 30 ms where it takes 18 ms once idle threads sleep.

So, before NumPy and numba start their threads, minigrad asks OpenBLAS to sleep soon after it is idle
(``OPENBLAS_THREAD_TIMEOUT=4``: 2^4 cycles) and runs numba's kernels on numba's own ``workqueue`` pool,
whose idle threads sleep. A wake-up costs microseconds; kernels take milliseconds.

OpenBLAS reads its setting when NumPy is first imported, so import minigrad before NumPy in a script that
wants it (the examples and benchmarks do); a value already in the environment is kept.
"""

import os
from contextlib import contextmanager

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numba  # noqa: E402  (after the environment is set)

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


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
