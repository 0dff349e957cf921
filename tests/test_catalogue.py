"""Every op of ``minigrad.catalogue`` checked the same four ways, from its entry alone:

1. float64 gradcheck (central differences, random upstream gradient) on hypothesis-drawn shapes and settings;
2. PyTorch parity, float32 and float64: output and every input's gradient;
3. the compiled kernels (numba) against the plain array code (``MINIGRAD_NUMBA=0``), and a GPU (CuPy and the
   CUDA kernels) against the CPU where there is one;
4. coverage: every Function in ``minigrad.ops`` (and Tensor's Cast) is run by some entry.

Shapes and settings come from hypothesis (failures shrink to the smallest); values from a NumPy generator
seeded by a drawn integer (see strategies.py for why).
"""

import inspect
import pkgutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad.ops
from minigrad.autograd import Function
from minigrad.catalogue import CATALOGUE
from minigrad.gradcheck import gradcheck
from parity import DTYPES, assert_parity
from strategies import SEEDS
from test_backends import DEVICES, run_on

NAMES = sorted(CATALOGUE)
WITH_TORCH = sorted(name for name, op in CATALOGUE.items() if op.torch is not None)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                             HealthCheck.filter_too_much])


def cases(op):
    """(shape, settings, seed) for op: the first input's shape from op.ndim and op.side, each setting
    from its values, only combinations op.fits."""
    shapes = st.integers(*op.ndim).flatmap(lambda n: st.tuples(*[st.integers(*op.side)] * n))
    chosen = st.fixed_dictionaries({name: st.sampled_from(values) for name, values in op.settings.items()})
    return st.tuples(shapes, chosen, SEEDS).filter(lambda case: op.fits(case[0], **case[1]))


def inputs_of(op, shape, chosen, seed):
    return op.inputs(np.random.default_rng(seed), shape, **chosen)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_gradcheck(name, data):
    op = CATALOGUE[name]
    shape, chosen, seed = data.draw(cases(op))
    inputs = inputs_of(op, shape, chosen, seed)
    result = gradcheck(lambda *t: op.minigrad(*t, **chosen), *inputs, seed=seed % 1000, **op.gradcheck)
    assert result.passed and len(result.checks) == sum(np.asarray(x).dtype.kind == "f" for x in inputs)


@DTYPES
@pytest.mark.parametrize("name", WITH_TORCH)
@SETTINGS
@given(data=st.data())
def test_matches_pytorch(name, dtype, data):
    torch = pytest.importorskip("torch")
    op = CATALOGUE[name]
    shape, chosen, seed = data.draw(cases(op))
    inputs = inputs_of(op, shape, chosen, seed)
    tolerance = op.parity.get(np.dtype(dtype).name, {})
    assert_parity(lambda *t: op.minigrad(*t, **chosen), lambda *t: op.torch(torch, *t, **chosen), inputs, dtype,
                  seed=seed % 1000, **tolerance)


def one_setting_changed(op):
    """The default settings, then each other value of each setting alone: the cases the backend test runs."""
    default = op.default_settings()
    variants = [default] + [{**default, name: value} for name, values in op.settings.items() for value in values[1:]]
    return [v for v in variants if op.fits(op.shape, **v)]


BACKEND_CASES = [pytest.param(name, i, id=f"{name}-{i}") for name in NAMES
                 for i in range(len(one_setting_changed(CATALOGUE[name])))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, variant", BACKEND_CASES)
def test_compiled_kernels_and_devices_match_the_reference(device, name, variant, monkeypatch):
    op = CATALOGUE[name]
    if device == "cuda" and name == "dropout":
        pytest.skip("a GPU draws dropout's mask from CuPy's generator: tests/test_backends.py checks it")
    chosen = one_setting_changed(op)[variant]
    inputs = inputs_of(op, op.shape, chosen, seed=1)
    floating = [x for x in inputs if np.asarray(x).dtype.kind == "f"]

    def fn(*tensors):
        tensors = iter(tensors)
        return op.minigrad(*(next(tensors) if np.asarray(x).dtype.kind == "f" else x for x in inputs), **chosen)

    monkeypatch.setenv("MINIGRAD_NUMBA", "0")                     # the plain array-code reference, on the CPU
    expected = run_on("cpu", fn, floating)
    monkeypatch.setenv("MINIGRAD_NUMBA", "1")
    for got, want in zip(run_on(device, fn, floating), expected):  # numba's kernels, or CuPy and CUDA's
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def every_function():
    """Every Function subclass defined in minigrad.ops and minigrad.tensor."""
    for module in pkgutil.iter_modules(minigrad.ops.__path__):
        __import__(f"minigrad.ops.{module.name}")
    found, todo = set(), list(Function.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith(("minigrad.ops.", "minigrad.tensor")) and not inspect.isabstract(cls):
            found.add(cls)
    return found


def test_every_function_has_a_catalogue_entry():
    covered = {f for op in CATALOGUE.values() for f in op.functions}
    missing = sorted(f"{f.__module__}.{f.__name__}" for f in every_function() - covered)
    assert every_function() and missing == []


def test_every_entry_is_well_formed():
    for name, op in CATALOGUE.items():
        assert op.name == name and op.functions and all(issubclass(f, Function) for f in op.functions), name
        assert op.fits(op.shape, **op.default_settings()), f"{name}: its default shape does not fit"
        assert op.ndim[0] <= len(op.shape) <= op.ndim[1], name
        for label, shape, chosen in op.benchmarks:
            assert set(chosen) == set(op.settings) and op.fits(shape, **chosen), f"{name}: {label}"
