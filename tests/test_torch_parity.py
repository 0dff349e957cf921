"""PyTorch parity beyond the op catalogue: edge values, ties, stability, and the Tensor methods' argument forms.

Every op of ``minigrad.catalogue`` is compared with PyTorch on drawn shapes and settings by
tests/test_catalogue.py; the tests here add what one entry's inputs cannot show (relu at exactly 0,
sigmoid's extremes, amax's tied maxima, large logits, the mask and scale of dropout, reshape targets,
index forms). Same comparison: float32 and float64, values and dtype, then every input's gradient.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

import minigrad  # noqa: E402
import minigrad.functional as F  # noqa: E402
from minigrad.catalogue import CATALOGUE  # noqa: E402
from parity import DTYPES, TOLERANCES, assert_parity  # noqa: E402
from strategies import (dims, flatten_dims,  # noqa: E402
                        float_arrays, indices, nonzero_arrays, reshape_targets, shapes)

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

torch.set_num_threads(1)  # small tensors: threads only add noise


# ----- elementwise ------------------------------------------------------------------------------------------





@DTYPES
def test_binary_explicit_broadcast(dtype):
    rng = np.random.default_rng(0)
    for sa, sb in [((3, 1), (4,)), ((), (2, 3)), ((2, 1, 3), (4, 1)), ((5,), ())]:
        for op in ("add", "sub", "mul", "div"):
            a, b = rng.standard_normal(sa), rng.uniform(0.5, 2, sb)
            entry = CATALOGUE[op]
            assert_parity(lambda x, y: entry.minigrad(x, y, swap=False),
                          lambda x, y: entry.torch(torch, x, y, swap=False), [a, b], dtype)


@DTYPES
@SETTINGS
@given(data=st.data(), shape=shapes())
def test_python_scalars(dtype, data, shape):
    x = data.draw(nonzero_arrays(shape, margin=0.5))
    fn = lambda t: 2.5 - t * 3.0 + 1.5 / t - t / 4.0 + 2 * t - (t + 1)  # noqa: E731
    assert_parity(fn, fn, [x], dtype)






@DTYPES
def test_relu_at_zero_and_sigmoid_extremes(dtype):
    x = np.array([-2.0, 0.0, 3.0, -0.0])
    assert_parity(lambda t: t.relu(), torch.relu, [x], dtype)  # subgradient 0 at 0, as torch
    x = np.array([-80.0, -30.0, 0.0, 30.0, 80.0])
    assert_parity(lambda t: t.sigmoid(), torch.sigmoid, [x], dtype)






# ----- matmul and linear ------------------------------------------------------------------------------------





@DTYPES
def test_linear_3d_input(dtype):
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)]
    assert_parity(F.linear, TF.linear, inputs, dtype)
    assert_parity(F.linear, TF.linear, inputs[:2], dtype)


# ----- reductions -------------------------------------------------------------------------------------------



@DTYPES
def test_amax_ties_share_the_gradient(dtype):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    _, upstream, (grad,) = assert_parity(lambda t: t.amax(dim=1), lambda t: torch.amax(t, dim=1), [x], dtype)
    np.testing.assert_allclose(grad[1], np.full(3, upstream[1] / 3), rtol=1e-6)


# ----- shape ops --------------------------------------------------------------------------------------------

@DTYPES
@SETTINGS
@given(data=st.data(), shape=shapes())
def test_reshape(dtype, data, shape):
    target = data.draw(reshape_targets(shape))
    assert_parity(lambda t: t.reshape(target), lambda t: t.reshape(target), [data.draw(float_arrays(shape))],
                  dtype)


@DTYPES
@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=4, max_side=3))
def test_permute_transpose_T(dtype, data, shape):
    x = data.draw(float_arrays(shape))
    order = data.draw(st.permutations(range(len(shape))))
    assert_parity(lambda t: t.permute(order), lambda t: t.permute(order), [x], dtype)
    d0, d1 = data.draw(dims(len(shape))), data.draw(dims(len(shape)))
    assert_parity(lambda t: t.transpose(d0, d1), lambda t: t.transpose(d0, d1), [x], dtype)
    reverse = tuple(reversed(range(len(shape))))
    assert_parity(lambda t: t.T, lambda t: t.permute(reverse), [x], dtype)


@DTYPES
@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=0, max_dims=4, max_side=3))
def test_flatten(dtype, data, shape):
    x = data.draw(float_arrays(shape))
    start, end = data.draw(flatten_dims(len(shape))) if shape else (0, -1)
    assert_parity(lambda t: t.flatten(start, end), lambda t: torch.flatten(t, start, end), [x], dtype)


def torch_take(t, index, shape):
    """``t[index]`` with NumPy's indexing rules (negative slice steps included), computed by torch."""
    positions = np.arange(int(np.prod(shape))).reshape(shape)[index]
    return t.reshape(-1)[torch.from_numpy(np.array(positions))]  # np.array keeps 0-d (ascontiguousarray does not)


@DTYPES
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), shape=shapes(min_dims=0, max_dims=3, max_side=5))
def test_getitem(dtype, data, shape):
    index = data.draw(indices(shape))
    assert_parity(lambda t: t[index], lambda t: torch_take(t, index, shape), [data.draw(float_arrays(shape))],
                  dtype)


@DTYPES
@pytest.mark.parametrize("index", [
    (slice(None, None, 2), slice(1, 4)),
    (np.array([0, 2, 0, 0]), slice(1, None)),
    (Ellipsis, None, 1),
    (np.array([[1, 1], [3, 0]]), np.array([[0, 0], [2, 2]])),
    np.array([True, False, True, True]),
    (1, Ellipsis),
], ids=["steps", "int_array_repeats", "ellipsis_none", "two_int_arrays", "bool_mask", "int_ellipsis"])
def test_getitem_direct_torch_indexing(dtype, index):
    as_torch = tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in index) \
        if isinstance(index, tuple) else torch.from_numpy(index)
    x = np.random.default_rng(3).standard_normal((4, 4))
    assert_parity(lambda t: t[index], lambda t: t[as_torch], [x], dtype)
    mask = x > 0.2
    assert_parity(lambda t: t[mask], lambda t: t[torch.from_numpy(mask)], [x], dtype)


@DTYPES
@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, max_side=3), count=st.integers(1, 3))
def test_cat(dtype, data, shape, count):
    dim = data.draw(dims(len(shape)))
    parts = []
    for _ in range(count):
        part_shape = list(shape)
        part_shape[dim] = data.draw(st.integers(1, 3))
        parts.append(data.draw(float_arrays(tuple(part_shape))))
    assert_parity(lambda *ts: minigrad.cat(ts, dim=dim), lambda *ts: torch.cat(ts, dim=dim), parts, dtype)


@DTYPES
@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=0, max_dims=3, max_side=3), count=st.integers(1, 3))
def test_stack(dtype, data, shape, count):
    dim = data.draw(dims(len(shape) + 1))
    parts = [data.draw(float_arrays(shape)) for _ in range(count)]
    assert_parity(lambda *ts: minigrad.stack(ts, dim=dim), lambda *ts: torch.stack(ts, dim=dim), parts, dtype)


# ----- softmax, cross-entropy, dropout ----------------------------------------------------------------------



@DTYPES
def test_softmax_large_logits_are_stable(dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [50.0, 50.0, 49.0]])
    out, _, _ = assert_parity(lambda t: t.softmax(-1), lambda t: torch.softmax(t, -1), [x], dtype)
    assert np.all(np.isfinite(out.numpy()))
    out, _, _ = assert_parity(lambda t: t.log_softmax(-1), lambda t: torch.log_softmax(t, -1), [x], dtype)
    assert np.all(np.isfinite(out.numpy()))




@DTYPES
@SETTINGS
@given(data=st.data(), shape=shapes(min_dims=0), p=st.floats(0.05, 0.95), seed=st.integers(0, 2**31))
def test_dropout_mask_scale_and_gradient(dtype, data, shape, p, seed):
    x = data.draw(nonzero_arrays(shape, margin=0.1)).astype(dtype)  # nonzero, so the mask can be read back
    t = minigrad.Tensor(x, requires_grad=True)
    minigrad.manual_seed(seed)
    y = F.dropout(t, p=p)
    assert y.dtype == dtype and y.shape == x.shape
    mask = y.numpy() != 0
    tol = TOLERANCES[dtype]
    np.testing.assert_allclose(y.numpy(), x * mask / (1 - p), **tol)
    upstream = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    y.backward(upstream)
    assert t.grad.dtype == dtype
    np.testing.assert_allclose(t.grad, upstream * mask / (1 - p), **tol)
    # the survivors are scaled exactly as torch scales its own survivors
    xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_()
    yt = TF.dropout(xt, p=p, training=True)
    ours, theirs = y.numpy().reshape(-1), yt.detach().numpy().reshape(-1)
    both = (ours != 0) & (theirs != 0)
    np.testing.assert_allclose(ours[both], theirs[both], **tol)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keep_rate(p):
    minigrad.manual_seed(0)
    n = 200_000
    y = F.dropout(minigrad.ones(n), p=p).numpy()
    keep = np.mean(y != 0)
    assert abs(keep - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    torch.manual_seed(0)
    torch_keep = (TF.dropout(torch.ones(n), p=p) != 0).float().mean().item()
    assert abs(keep - torch_keep) < 10 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y.mean(), 1.0, atol=0.02)  # inverted dropout keeps the expectation


@DTYPES
def test_dropout_edge_probabilities(dtype):
    x = np.random.default_rng(0).standard_normal((3, 4))
    for p in (0.0, 1.0):
        for training in (True, False):
            mg_out, _, _ = assert_parity(lambda t: F.dropout(t * 1.0, p=p, training=training),
                                         lambda t: TF.dropout(t * 1.0, p=p, training=training), [x], dtype)
    assert_parity(lambda t: F.dropout(t, p=0.5, training=False),
                  lambda t: TF.dropout(t, p=0.5, training=False), [x], dtype)
    with pytest.raises(ValueError, match="dropout probability"):
        F.dropout(minigrad.Tensor(x), p=1.5)


def test_seeded_dropout_is_repeatable():
    x = minigrad.randn(50, 20)
    minigrad.manual_seed(7)
    a = F.dropout(x, p=0.3).numpy()
    minigrad.manual_seed(7)
    b = F.dropout(x, p=0.3).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, F.dropout(x, p=0.3).numpy())
