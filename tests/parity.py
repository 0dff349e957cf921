"""Comparing minigrad with PyTorch: one helper every parity test uses.

``assert_parity(mg_fn, torch_fn, inputs, dtype)`` runs the same inputs through both, in ``dtype``, and
compares the output (shape, dtype, values) and then the gradient of every floating input for one random
upstream gradient. Tests that use it skip when torch is not installed (``pytest.importorskip``).
"""

import numpy as np
import pytest

import minigrad

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
TOLERANCES = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def assert_parity(mg_fn, torch_fn, inputs, dtype, seed=0, rtol=None, atol=None):
    """Run both functions on the same inputs; compare output dtype, values and every input gradient.

    ``inputs`` are NumPy arrays; floating ones are cast to ``dtype`` and get gradients, integer ones (class
    labels) are passed as they are (to torch as int64 tensors). Returns (minigrad output, upstream, grads).
    """
    torch = pytest.importorskip("torch")
    tol = dict(TOLERANCES[dtype])
    tol.update({k: v for k, v in dict(rtol=rtol, atol=atol).items() if v is not None})
    floating = [np.asarray(x).dtype.kind == "f" for x in inputs]
    arrays = [np.asarray(x, dtype=dtype) if f else np.asarray(x) for x, f in zip(inputs, floating)]
    mg_in = [minigrad.Tensor(a, requires_grad=f) for a, f in zip(arrays, floating)]
    t_in = [torch.tensor(a, requires_grad=f) for a, f in zip(arrays, floating)]

    mg_out, t_out = mg_fn(*mg_in), torch_fn(*t_in)
    expected = t_out.detach().numpy()
    assert mg_out.shape == tuple(t_out.shape)
    assert mg_out.dtype == expected.dtype == dtype
    np.testing.assert_allclose(mg_out.numpy(), expected, **tol)

    upstream = np.random.default_rng(seed).standard_normal(mg_out.shape).astype(dtype)
    mg_out.backward(upstream)
    t_out.backward(torch.from_numpy(upstream))
    grads = []
    for i, (m, t, f) in enumerate(zip(mg_in, t_in, floating)):
        if not f:
            continue
        m_grad = np.zeros(m.shape, dtype) if m.grad is None else m.grad
        t_grad = np.zeros(m.shape, dtype) if t.grad is None else t.grad.numpy()
        assert m_grad.shape == m.shape and m_grad.dtype == dtype, f"input {i}"
        np.testing.assert_allclose(m_grad, t_grad, err_msg=f"gradient of input {i}", **tol)
        grads.append(m_grad)
    return mg_out, upstream, grads
