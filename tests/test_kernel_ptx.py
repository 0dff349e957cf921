"""Every CUDA kernel compiled for a real GPU, here where there is none.

numba's CUDA simulator (test_kernel_registry.py) runs each kernel's Python function thread by thread, so it
checks the index arithmetic, but not that numba.cuda can compile the function: the simulator runs any Python,
the GPU target only what numba can type. So each kernel is also compiled to PTX for compute capability 9.0
(an H100 or H200), with the argument types its wrapper launches it with on the kernel cases (recorded by
running the wrappers on NumPy arrays with the launches intercepted), and a float32 kernel's PTX is checked
to hold no float64 arithmetic (numba turns ``float32 * 0.5`` into float64, a few percent of float32's
speed on most GPUs). Needs numba's NVVM compiler (libNVVM, from a CUDA toolkit or the nvidia-cuda-nvcc
wheel); skipped with the reason where there is none.
"""

import math
import re
import types
import warnings

import numba
import numpy as np
import pytest

import minigrad  # noqa: F401  (imports every op, so every kernel is registered)
from kernel_cases import CASES
from minigrad import kernels
from minigrad.kernels import GPU_KERNELS, REGISTRY

cuda = None                                                   # numba.cuda, bound by gpu_kernel
FLOAT64_ARITHMETIC = re.compile(r"^\s*(add|sub|mul|div|fma|neg|abs|min|max|sqrt|rcp|ex2|lg2)\.[a-z.]*f64\b")


def minigrad_gpu_kernels():
    return [k for k in GPU_KERNELS if k.__module__.startswith("minigrad.")]


def nvvm_missing():
    if kernels.simulating():
        return "numba.cuda is the simulator in this process"
    try:
        from numba.cuda.cudadrv import nvvm
        nvvm.NVVM()
    except Exception as error:                                  # no libNVVM: numba cannot compile for a GPU
        return f"numba's NVVM compiler is not available: {type(error).__name__}: {error}"
    return None


pytestmark = pytest.mark.skipif(nvvm_missing() is not None, reason=str(nvvm_missing()))


def recorded_launches(monkeypatch):
    """{gpu_kernel: {argument types}}: every launch the GPU wrappers make on the kernel cases (float32 and
    float64), intercepted before anything runs."""
    launches = {}

    def record(kernel, configuration):
        return lambda *args: launches.setdefault(kernel, set()).add(tuple(numba.typeof(a) for a in args))

    monkeypatch.setattr(kernels.gpu_kernel, "__getitem__", record)
    monkeypatch.setattr(kernels, "simulating", lambda: True)          # the wrappers' checks take NumPy arrays
    with warnings.catch_warnings(), np.errstate(all="ignore"):        # outputs are left unwritten: garbage
        warnings.simplefilter("ignore")
        for name, kernel in REGISTRY.items():
            for dtype in (np.float32, np.float64):
                for _, args in CASES[name](np.random.default_rng(0), dtype):
                    if kernel.fast(*args):
                        kernel.gpu(*args)
    return launches


@pytest.fixture(scope="module")
def launches():
    with pytest.MonkeyPatch.context() as monkeypatch:
        found = recorded_launches(monkeypatch)
    # numba asks the current device for its compute capability while typing calls to device functions;
    # there is none here, so it is told the one compiled for.
    import numba.cuda.dispatcher
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(numba.cuda.dispatcher, "get_current_device",
                            lambda: types.SimpleNamespace(compute_capability=(9, 0)), raising=False)
        yield {kernel: {signature: kernel.ptx(signature) for signature in signatures}
               for kernel, signatures in found.items()}


def test_every_cuda_kernel_is_launched_by_some_case(launches):
    assert sorted(k.__name__ for k in minigrad_gpu_kernels() if k not in launches) == []


@pytest.mark.parametrize("kernel", minigrad_gpu_kernels(), ids=lambda k: k.__name__)
def test_the_kernel_compiles_to_ptx_for_compute_capability_9(kernel, launches):
    for signature, ptx in launches[kernel].items():
        assert ".entry" in ptx and kernel.__name__ in ptx, signature
        if all(a.dtype == numba.float32 for a in signature if isinstance(a, numba.types.Array)
               and isinstance(a.dtype, numba.types.Float)):
            assert float64_arithmetic(ptx) == [], f"{kernel.__name__}{signature}: float64 in a float32 kernel"


def float64_arithmetic(ptx):
    return [line.strip() for line in ptx.splitlines() if FLOAT64_ARITHMETIC.match(line)]


@kernels.gpu_kernel
def _sigmoid_with_float64_literals(x, y):
    i = cuda.grid(1)
    if i < x.size:
        y[i] = 0.5 * (math.tanh(0.5 * x[i]) + 1)             # bug 10: 0.5 is a float64 constant


def test_the_float64_check_finds_what_bug_10_was(launches):
    ptx = _sigmoid_with_float64_literals.ptx((numba.float32[::1], numba.float32[::1]))
    assert any(line.startswith("mul.f64") for line in float64_arithmetic(ptx))
