"""Every kernel of ``minigrad.kernels.REGISTRY``, each compiled version against its NumPy reference.

The numba (CPU) versions run here directly. The numba.cuda (GPU) versions run on a GPU where there is one
(``NUMBA_ENABLE_CUDASIM=0``, CuPy arrays), and otherwise in numba's CUDA simulator, which runs the same
kernel functions thread by thread on NumPy arrays. The simulator has to be chosen before numba starts, so
without a GPU :func:`test_the_cuda_kernels_run_in_the_simulator` runs this file's GPU tests again in a
process started with ``NUMBA_ENABLE_CUDASIM=1``: CI executes every CUDA kernel, not only skips it.
"""

import copy
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad  # noqa: F401  (imports every op, so every kernel is registered)
from kernel_cases import CASES
from minigrad.backend import cupy_available, to_numpy
from minigrad.kernels import REGISTRY, simulating

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}
ON_GPU = not simulating() and cupy_available()


def cases(name, dtype):
    return CASES[name](np.random.default_rng(0), dtype)


def run(function, args, device):
    """function on copies of args (moved to the GPU for ``device="cuda"`` on a real one): (result, args after)."""
    args = copy.deepcopy(args)
    if device == "cuda" and ON_GPU:
        import cupy
        args = tuple(cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
    return host(function(*args)), host(args)


def host(value):
    if isinstance(value, (tuple, list)):
        return tuple(host(v) for v in value)
    return to_numpy(value) if hasattr(value, "__array__") or hasattr(value, "get") else value


def assert_same(actual, expected, dtype, where):
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, dtype, f"{where}[{i}]")
    elif isinstance(expected, np.ndarray) or np.isscalar(expected):
        actual, expected = np.asarray(actual), np.asarray(expected)
        assert actual.shape == expected.shape, f"{where}: shape {actual.shape}, expected {expected.shape}"
        if expected.dtype.kind == "f":
            assert actual.dtype == expected.dtype, f"{where}: dtype {actual.dtype}, expected {expected.dtype}"
        np.testing.assert_allclose(actual, expected, err_msg=where, **TOLERANCE[dtype])
    else:
        assert actual == expected, where


def check_against_reference(name, dtype, device):
    kernel = REGISTRY[name]
    compiled = kernel.cpu if device == "cpu" else kernel.gpu
    for label, args in cases(name, dtype):
        if not kernel.fast(*args):
            continue                       # the reference runs for these arguments; nothing to compare
        expected = run(kernel.reference, args, "cpu")
        assert_same(run(compiled, args, device), expected, dtype, f"{name} ({label}, {device})")


def test_every_kernel_has_cases_and_all_three_versions():
    assert set(REGISTRY) == set(CASES)
    assert [n for n, k in REGISTRY.items() if k.cpu is None or k.gpu is None] == []


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_case_runs_the_compiled_versions(name, dtype):
    """No kernel is tested only through its reference: some case of each passes ``fast``."""
    kernel = REGISTRY[name]
    assert any(kernel.fast(*args) for _, args in cases(name, dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_numba_kernel_matches_its_reference(name, dtype):
    check_against_reference(name, dtype, "cpu")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_cuda_kernel_matches_its_reference(name, dtype):
    if not (simulating() or ON_GPU):
        pytest.skip("run in the CUDA simulator by test_the_cuda_kernels_run_in_the_simulator")
    check_against_reference(name, dtype, "cuda")


def test_the_cuda_kernels_run_in_the_simulator():
    if simulating() or ON_GPU:
        pytest.skip("this process runs the CUDA kernels itself (test_cuda_kernel_matches_its_reference)")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
                             "-k", "test_cuda_kernel_matches_its_reference"], capture_output=True, text=True,
                            env=env, cwd=os.path.dirname(__file__), timeout=900)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{2 * len(CASES)} passed" in summary and "skipped" not in summary, summary
