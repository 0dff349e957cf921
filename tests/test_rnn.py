"""Recurrent cells and layers: float64 gradient checks, PyTorch parity (outputs, final states and every
gradient), the numba step kernels against their NumPy references, the errors bad input gets, and a long
sequence through the fused layers and through 500 chained cells.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad
from minigrad import Tensor
from minigrad.autograd import topological_order
from minigrad.gradcheck import gradcheck
from minigrad.kernels import rnn as K
from minigrad.nn.rnn import GRU, LSTM, GRUCell, LSTMCell
import minigrad.functional as F
from minigrad.ops import rnn as R
from minigrad.ops.shape import Concatenate
from strategies import SEEDS

GRADCHECK = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARITY = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
KINDS = pytest.mark.parametrize("kind", ["lstm", "gru"])
# float32: the two engines round every product and sum differently, and the errors travel through the steps;
# relative to the largest entry of an array (entries that cancel to ~0 get that absolute floor).
RTOL = {np.float32: 1e-4, np.float64: 1e-10}
GATES = {"lstm": 4, "gru": 3}


def assert_close(actual, expected, rtol, err_msg=""):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, err_msg
    atol = rtol * max(float(np.abs(expected).max()), 1.0) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=err_msg)


def flatten_all(*tensors):
    """One 1-D Tensor holding every element of ``tensors``: one output for gradcheck and backward."""
    return Concatenate.apply(*(t.reshape(-1) for t in tensors), dim=0)


@st.composite
def layer_cases(draw, max_batch=3, max_seq=4, max_input=3, max_hidden=3, max_layers=2):
    return dict(batch=draw(st.integers(1, max_batch)), seq=draw(st.integers(1, max_seq)),
                input_size=draw(st.integers(1, max_input)), hidden_size=draw(st.integers(1, max_hidden)),
                num_layers=draw(st.integers(1, max_layers)), bidirectional=draw(st.booleans()),
                batch_first=draw(st.booleans()), bias=draw(st.booleans()), seed=draw(SEEDS))


def layer_arrays(kind, case, rng):
    """x, the initial states and the weights of every layer and direction (float64, U(-1, 1))."""
    g, h, i = GATES[kind], case["hidden_size"], case["input_size"]
    d = 2 if case["bidirectional"] else 1
    x_shape = (case["batch"], case["seq"], i) if case["batch_first"] else (case["seq"], case["batch"], i)
    x = rng.uniform(-1, 1, x_shape)
    state_shape = (case["num_layers"] * d, case["batch"], h)
    states = [rng.uniform(-1, 1, state_shape) for _ in range(2 if kind == "lstm" else 1)]
    weights = []
    for layer in range(case["num_layers"]):
        for _ in range(d):
            shapes = [(g * h, i if layer == 0 else d * h), (g * h, h)]
            shapes += [(g * h,), (g * h,)] if case["bias"] else []
            weights.append([rng.uniform(-1, 1, s) for s in shapes])
    return x, states, weights


def run_stack(kind, case, x, states, flat_weights):
    """F.lstm or F.gru on Tensors, the weights given flat; returns output and final states as one Tensor."""
    per_layer = 4 if case["bias"] else 2
    groups = [tuple(flat_weights[k:k + per_layer]) + (None, None) * (not case["bias"])
              for k in range(0, len(flat_weights), per_layer)]
    settings_ = dict(num_layers=case["num_layers"], bidirectional=case["bidirectional"],
                     batch_first=case["batch_first"])
    if kind == "lstm":
        out, (h_n, c_n) = F.lstm(x, tuple(states), groups, **settings_)
        return flatten_all(out, h_n, c_n)
    out, h_n = F.gru(x, states[0], groups, **settings_)
    return flatten_all(out, h_n)


# ----- (a) gradient checks, float64 ---------------------------------------------------------------------------

@KINDS
@GRADCHECK
@given(batch=st.integers(1, 3), input_size=st.integers(1, 3), hidden=st.integers(1, 3), bias=st.booleans(),
       seed=SEEDS)
def test_cell_gradcheck(kind, batch, input_size, hidden, bias, seed):
    rng = np.random.default_rng(seed)
    g = GATES[kind]
    x = rng.uniform(-1, 1, (batch, input_size))
    h, c = rng.uniform(-1, 1, (batch, hidden)), rng.uniform(-1, 1, (batch, hidden))
    weights = [rng.uniform(-1, 1, (g * hidden, input_size)), rng.uniform(-1, 1, (g * hidden, hidden))]
    weights += [rng.uniform(-1, 1, g * hidden), rng.uniform(-1, 1, g * hidden)] if bias else []
    if kind == "lstm":
        result = gradcheck(lambda x, h, c, *w: flatten_all(*F.lstm_cell(x, (h, c), *w)), x, h, c, *weights)
    else:
        result = gradcheck(lambda x, h, *w: F.gru_cell(x, h, *w), x, h, *weights)
    assert result.passed
    assert len(result.checks) == (3 if kind == "lstm" else 2) + len(weights)  # every input and weight checked


@KINDS
@GRADCHECK
@given(case=layer_cases())
def test_layer_stack_gradcheck(kind, case):
    """Input, initial states and every weight of every layer and direction, through output, h_n (and c_n)."""
    x, states, weights = layer_arrays(kind, case, np.random.default_rng(case["seed"]))
    flat = [w for layer_weights in weights for w in layer_weights]
    n_states = len(states)

    def fn(x, *rest):
        return run_stack(kind, case, x, rest[:n_states], rest[n_states:])

    result = gradcheck(fn, x, *states, *flat)
    assert result.passed and len(result.checks) == 1 + n_states + len(flat)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_single_layer_functions_gradcheck(reverse):
    rng = np.random.default_rng(7)
    x, h0, c0 = rng.uniform(-1, 1, (3, 2, 2)), rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (2, 3))
    lstm_w = [rng.uniform(-1, 1, s) for s in [(12, 2), (12, 3), (12,), (12,)]]
    gru_w = [rng.uniform(-1, 1, s) for s in [(9, 2), (9, 3), (9,), (9,)]]
    gradcheck(lambda x, h, c, *w: flatten_all(*F.lstm_layer(x, h, c, *w, reverse=reverse)), x, h0, c0, *lstm_w)
    gradcheck(lambda x, h, *w: flatten_all(*F.gru_layer(x, h, *w, reverse=reverse)), x, h0, *gru_w)


# ----- (b) PyTorch parity -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def torch_twin(torch, module, dtype):
    """The torch.nn module of the same class and arguments, with ``module``'s weights copied by name."""
    cls = getattr(torch.nn, type(module).__name__)
    if isinstance(module, (LSTMCell, GRUCell)):
        twin = cls(module.input_size, module.hidden_size, bias=module.bias)
    else:
        twin = cls(module.input_size, module.hidden_size, num_layers=module.num_layers, bias=module.bias,
                   batch_first=module.batch_first, dropout=module.dropout, bidirectional=module.bidirectional)
    twin = twin.to(torch.float32 if dtype == np.float32 else torch.float64)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in module.state_dict().items()})
    return twin


def compare_with_torch(torch, module, inputs, dtype, seed=0):
    """Run ``module`` and its torch twin on the same inputs (a list whose entries are an array, a pair of
    arrays, or None); compare every output, then the gradients of every input and parameter for one random
    upstream gradient on all outputs."""
    twin = torch_twin(torch, module, dtype)
    rtol = RTOL[dtype]

    pairs = []  # (minigrad leaf, torch leaf) for every array among the inputs

    def both(a):
        """The minigrad and the torch version of an input: an array, a pair of arrays (hx), or None."""
        if a is None:
            return None, None
        if isinstance(a, tuple):
            mg_pair, t_pair = zip(*(both(v) for v in a))
            return tuple(mg_pair), tuple(t_pair)
        m, t = Tensor(a.astype(dtype), requires_grad=True), torch.tensor(a.astype(dtype), requires_grad=True)
        pairs.append((m, t))
        return m, t

    mg_args, t_args = zip(*(both(a) for a in inputs))

    def outputs(result):  # output, (h_n, c_n) / output, h_n / (h, c) / h
        if not isinstance(result, tuple):
            return [result]
        return [r for item in result for r in (item if isinstance(item, tuple) else (item,))]

    mg_out, t_out = outputs(module(*mg_args)), outputs(twin(*t_args))
    assert len(mg_out) == len(t_out)
    for k, (m, t) in enumerate(zip(mg_out, t_out)):
        assert m.shape == tuple(t.shape) and m.dtype == dtype, f"output {k}"
        assert_close(m.numpy(), t.detach().numpy(), rtol, f"output {k}")
    upstream = np.random.default_rng(seed).standard_normal(sum(m.numel() for m in mg_out)).astype(dtype)
    flatten_all(*mg_out).backward(upstream)
    torch.cat([t.reshape(-1) for t in t_out]).backward(torch.from_numpy(upstream))
    for k, (m, t) in enumerate(pairs):
        assert m.grad is not None and t.grad is not None, f"input {k}"
        assert_close(m.grad, t.grad.numpy(), rtol, f"gradient of input {k}")
    t_params = dict(twin.named_parameters())
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.dtype == dtype, name
        assert_close(p.grad, t_params[name].grad.numpy(), rtol, f"gradient of {name}")


@DTYPES
@KINDS
@PARITY
@given(batch=st.integers(1, 4), input_size=st.integers(1, 5), hidden=st.integers(1, 5), bias=st.booleans(),
       initial_state=st.booleans(), seed=SEEDS)
def test_cell_matches_torch(torch, dtype, kind, batch, input_size, hidden, bias, initial_state, seed):
    rng = np.random.default_rng(seed)
    cell = (LSTMCell if kind == "lstm" else GRUCell)(input_size, hidden, bias=bias, dtype=dtype)
    x = rng.uniform(-2, 2, (batch, input_size))
    state = [rng.uniform(-1, 1, (batch, hidden)) for _ in range(2 if kind == "lstm" else 1)]
    hx = (tuple(state) if kind == "lstm" else state[0]) if initial_state else None
    compare_with_torch(torch, cell, [x, hx], dtype, seed)


@DTYPES
@KINDS
@PARITY
@given(case=layer_cases(max_batch=4, max_seq=6, max_input=5, max_hidden=5), initial_state=st.booleans())
def test_layer_matches_torch(torch, dtype, kind, case, initial_state):
    """Outputs, h_n (and c_n), and the gradients of the input, the initial states and every parameter."""
    rng = np.random.default_rng(case["seed"])
    cls = LSTM if kind == "lstm" else GRU
    module = cls(case["input_size"], case["hidden_size"], num_layers=case["num_layers"], bias=case["bias"],
                 batch_first=case["batch_first"], bidirectional=case["bidirectional"], dtype=dtype)
    x, states, _ = layer_arrays(kind, case, rng)
    hx = (tuple(states) if kind == "lstm" else states[0]) if initial_state else None
    compare_with_torch(torch, module, [x, hx], dtype, case["seed"])


@DTYPES
@KINDS
def test_unbatched_input_matches_torch(torch, dtype, kind):
    rng = np.random.default_rng(1)
    module = (LSTM if kind == "lstm" else GRU)(3, 4, num_layers=2, bidirectional=True, dtype=dtype)
    states = [rng.uniform(-1, 1, (4, 4)) for _ in range(2 if kind == "lstm" else 1)]
    compare_with_torch(torch, module, [rng.uniform(-1, 1, (5, 3)), tuple(states) if kind == "lstm" else states[0]],
                       dtype)
    cell = (LSTMCell if kind == "lstm" else GRUCell)(3, 4, dtype=dtype)
    compare_with_torch(torch, cell, [rng.uniform(-1, 1, 3), None], dtype)


@KINDS
def test_dropout_between_layers_matches_torch(torch, kind):
    """dropout=1 zeroes the input of layer 1 in training (a deterministic check that dropout sits between the
    layers and not after the last); in eval mode dropout=0.5 does nothing, as in torch."""
    rng = np.random.default_rng(2)
    cls = LSTM if kind == "lstm" else GRU
    x = rng.uniform(-1, 1, (4, 2, 3))
    module = cls(3, 5, num_layers=2, dropout=1.0, dtype=np.float64)
    compare_with_torch(torch, module, [x, None], np.float64)
    module.zero_grad()
    out, _ = module(Tensor(x))
    out.backward(np.ones(out.shape))
    # Through the output alone nothing reaches layer 0, and layer 1 multiplies W_ih by zeros.
    zero = {name for name, p in module.named_parameters() if np.all(p.grad == 0)}
    assert zero == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l1"}
    module = cls(3, 5, num_layers=3, dropout=0.5, bidirectional=True, dtype=np.float64).eval()
    twin = torch_twin(torch, module, np.float64).eval()
    np.testing.assert_allclose(module(x)[0].numpy(), twin(torch.from_numpy(x))[0].detach().numpy(), rtol=1e-10)


def test_gru_applies_the_reset_gate_after_the_recurrent_product():
    """n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), PyTorch's GRU, not tanh(W_in x + b_in + W_hn (r * h) + b_hn)."""
    rng = np.random.default_rng(3)
    x, h = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    w_ih, w_hh, b_ih, b_hh = (rng.standard_normal(s) for s in [(12, 3), (12, 4), 12, 12])

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    xr, xz, xn = np.split(x @ w_ih.T + b_ih, 3, axis=1)
    hr, hz, hn = np.split(h @ w_hh.T + b_hh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    after = (1 - z) * np.tanh(xn + r * hn) + z * h
    before = (1 - z) * np.tanh(xn + (r * h) @ w_hh[8:].T + b_hh[8:]) + z * h
    got = F.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh).numpy()
    np.testing.assert_allclose(got, after, rtol=1e-12)
    assert np.abs(got - before).max() > 1e-3


# ----- the modules: names, initialisation, printing -------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda nn: nn.LSTM(3, 4, num_layers=2, bidirectional=True), lambda nn: nn.GRU(3, 4, num_layers=3, bias=False),
    lambda nn: nn.LSTMCell(3, 4), lambda nn: nn.GRUCell(3, 4, bias=False),
    lambda nn: nn.LSTM(3, 4, num_layers=2, batch_first=True, dropout=0.25)])
def test_parameter_names_shapes_and_repr_match_torch(torch, make):
    import minigrad.nn.rnn as mg_nn
    ours, theirs = make(mg_nn), make(torch.nn)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert ours.extra_repr() == theirs.extra_repr()
    assert repr(ours).startswith(f"{type(ours).__name__}({theirs.extra_repr()})")


def test_initialisation_is_uniform_in_plus_minus_one_over_sqrt_hidden_and_seeded():
    minigrad.manual_seed(0)
    a = GRU(10, 16, num_layers=2, bidirectional=True)
    minigrad.manual_seed(0)
    b = GRU(10, 16, num_layers=2, bidirectional=True)
    bound = 1 / np.sqrt(16)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert p.dtype == np.float32, name
        np.testing.assert_array_equal(p.data, q.data)
        assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.8 * bound, name
    values = np.concatenate([p.data.ravel() for p in a.parameters()])
    assert abs(values.mean()) < 0.01 and abs(values.std() - bound / np.sqrt(3)) < 0.01   # U(-b, b): sd b/sqrt(3)


def test_a_layer_is_one_graph_node_whatever_the_sequence_length():
    lstm = LSTM(3, 4, num_layers=2)
    sizes = [len(topological_order(lstm(Tensor(np.ones((seq, 2, 3), np.float32)))[0])) for seq in (2, 50)]
    assert sizes[0] == sizes[1] < 20


# ----- (c) the numba kernels against the references -------------------------------------------------------------

@DTYPES
@pytest.mark.parametrize("batch,hidden", [(1, 1), (3, 5), (32, 128)])
@pytest.mark.parametrize("in_place", [False, True], ids=["separate", "gates_in_xg"])
def test_step_kernels_match_reference(dtype, batch, hidden, in_place):
    rng = np.random.default_rng(batch + hidden)
    # The same operations in the same order, in the arrays' dtype (and NumPy's tanh in both), so equal but for
    # the last bit. For float32 that holds only if numba computes in float32 too: with Python constants
    # (0.5 * a, 1 - z) it computed in float64 and rounded once, up to ~1000 ulps from the reference near 0
    # (issue 14, bug 10), which a relative tolerance with an absolute floor did not see.
    ulps = 2 if dtype == np.float32 else None
    tolerance = dict(rtol=1e-14, atol=1e-15)
    for kind in ("lstm", "gru"):
        width = GATES[kind] * hidden
        xg, hg = (3 * rng.standard_normal((batch, width)).astype(dtype) for _ in range(2))
        prev, dh, dc = (rng.standard_normal((batch, hidden)).astype(dtype) for _ in range(3))
        results = {}
        for impl in ("reference", "numba"):
            step = getattr(K, f"{kind}_step_{impl}")
            step_backward = getattr(K, f"{kind}_step_backward_{impl}")
            x_part = xg.copy()
            gates = x_part if in_place else np.empty_like(xg)
            if kind == "lstm":
                c, tanh_c, h = (np.empty_like(prev) for _ in range(3))
                step(x_part, hg, prev, gates, c, tanh_c, h)
                d_gates, dc_prev = np.empty_like(xg), np.empty_like(prev)
                step_backward(gates, prev, tanh_c, dh, dc, d_gates, dc_prev)
                results[impl] = [gates, c, tanh_c, h, d_gates, dc_prev]
            else:
                h = np.empty_like(prev)
                step(x_part, hg, prev, gates, h)
                dxg, dhg, dh_prev = np.empty_like(xg), np.empty_like(xg), np.empty_like(prev)
                step_backward(gates, hg, prev, dh, dxg, dhg, dh_prev)
                results[impl] = [gates, h, dxg, dhg, dh_prev]
        for k, (fast, slow) in enumerate(zip(results["numba"], results["reference"])):
            assert fast.dtype == dtype and fast.shape == slow.shape
            assert np.isfinite(fast).all()
            if ulps:
                np.testing.assert_array_max_ulp(fast, slow, maxulp=ulps, dtype=dtype)
            else:
                np.testing.assert_allclose(fast, slow, err_msg=f"{kind} result {k}", **tolerance)


NUMBA_LOOPS = ["_lstm_tanh_arguments", "_lstm_cell_state", "_lstm_step_backward", "_gru_half_rz",
               "_gru_candidate_argument", "_gru_new_state", "_gru_step_backward"]


def float64_operations(function, target):
    """The arithmetic numba's type inference computes in float64 in ``function`` given float32 (B, n) arrays
    for all its arguments: typing only, nothing is compiled, so the CUDA target needs no GPU."""
    import inspect

    from numba.core import ir, typed_passes, types
    from numba.core.compiler import run_frontend
    if target == "cuda":
        from numba.cuda.descriptor import cuda_target as descriptor
    else:
        from numba.core.registry import cpu_target as descriptor
    descriptor.typing_context.refresh()
    arguments = (types.float32[:, ::1],) * len(inspect.signature(function).parameters)
    typed = typed_passes.type_inference_stage(descriptor.typing_context, descriptor.target_context,
                                              run_frontend(function), arguments, None)
    return [f"{expr.loc.line}: {expr} {signature}" for expr, signature in typed.calltypes.items()
            if isinstance(expr, ir.Expr) and expr.op in ("binop", "inplace_binop", "unary", "call")
            and signature.return_type == types.float64]


@pytest.mark.parametrize("name", NUMBA_LOOPS)
def test_float32_step_kernels_compute_in_float32(name):
    """numba types 0.5 * a or 1 - z with a float32 a or z as float64 (a Python number is a float64): the
    kernels take their constants from an array's dtype instead (issue 14, bug 10). The numba loops are
    typed here; the CUDA kernels' PTX is checked for float64 arithmetic by tests/test_kernel_ptx.py."""
    assert float64_operations(getattr(K, name).py_func, "cpu") == []


@KINDS
def test_layers_agree_with_numba_disabled(monkeypatch, kind):
    """The whole layer (forward, BPTT, both directions, two layers) through the references equals the numba run."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 3, 4))
    runs = []
    for numba in ("1", "0"):
        monkeypatch.setenv("MINIGRAD_NUMBA", numba)
        minigrad.manual_seed(0)
        module = (LSTM if kind == "lstm" else GRU)(4, 5, num_layers=2, bidirectional=True, dtype=np.float64)
        leaf = Tensor(x, requires_grad=True)
        out = module(leaf)[0]
        out.backward(np.cos(np.arange(out.numel())).reshape(out.shape))
        runs.append([out.numpy(), leaf.grad] + [p.grad for p in module.parameters()])
    for fast, slow in zip(*runs):
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-14)


# ----- (d) bad input ------------------------------------------------------------------------------------------

def zeros(*shape):
    return Tensor(np.zeros(shape, np.float32))


@KINDS
@pytest.mark.parametrize("args,message", [
    ((zeros(5, 2, 4),), r"expects input of shape \(seq_len, batch, input_size\) or \(seq_len, input_size\) with "
                        r"input_size=3, got \(5, 2, 4\)"),
    ((zeros(5, 2, 3, 1),), r"expects input of shape \(seq_len, batch, input_size\) or unbatched .*got \(5, 2, 3, 1\)"),
    ((zeros(3),), r"got \(3,\)"),
    ((zeros(0, 2, 3),), r"needs at least one time step, got input of shape \(0, 2, 3\)"),
    ((zeros(5, 2, 3), "h"), r"expects h_0 of shape \(num_layers \* num_directions, batch, hidden_size\) = "
                            r"\(4, 2, 6\) for input of shape \(5, 2, 3\), got \(2, 2, 6\)"),
])
def test_layer_bad_input_names_expected_and_received(monkeypatch, kind, args, message):
    module = (LSTM if kind == "lstm" else GRU)(3, 6, num_layers=2, bidirectional=True)
    # "Before any array work": the layer ops must not even start.
    monkeypatch.setattr(R.LSTMLayer, "forward", lambda *a, **k: pytest.fail("LSTMLayer ran"))
    monkeypatch.setattr(R.GRULayer, "forward", lambda *a, **k: pytest.fail("GRULayer ran"))
    x, hx = args[0], None
    if len(args) == 2:
        bad = zeros(2, 2, 6)
        hx = (bad, zeros(4, 2, 6)) if kind == "lstm" else bad
    with pytest.raises(ValueError, match=message):
        module(x, hx)


def test_lstm_bad_states():
    lstm = LSTM(3, 6, batch_first=True)
    x = zeros(2, 5, 3)   # batch 2, 5 steps
    with pytest.raises(ValueError, match=r"LSTM expects c_0 of shape .* = \(1, 2, 6\) .*got \(1, 5, 6\)"):
        lstm(x, (zeros(1, 2, 6), zeros(1, 5, 6)))
    with pytest.raises(ValueError, match=r"LSTM expects hx to be a pair \(h, c\) or None, got Tensor"):
        lstm(x, zeros(1, 2, 6))
    with pytest.raises(ValueError, match=r"got \(2, 6\)"):           # a batched input needs batched states
        lstm(x, (zeros(2, 6), zeros(2, 6)))
    with pytest.raises(TypeError, match=r"one dtype, got \['float32', 'float64'\]"):
        lstm(Tensor(np.zeros((2, 5, 3))))


@pytest.mark.parametrize("cls", [LSTMCell, GRUCell])
def test_cell_bad_input(cls):
    cell = cls(3, 4)
    name = cls.__name__
    with pytest.raises(ValueError, match=fr"{name} expects input of shape \(batch, input_size\) = \(batch, 3\) or "
                                         r"unbatched \(3,\), got \(2, 5\)"):
        cell(zeros(2, 5))
    with pytest.raises(ValueError, match=r"got \(2, 3, 1\)"):
        cell(zeros(2, 3, 1))
    hx = (zeros(2, 5), zeros(2, 4)) if cls is LSTMCell else zeros(2, 5)
    with pytest.raises(ValueError, match=fr"{name} expects h of shape \(2, 4\) \(batch, hidden_size\) for input of "
                                         r"shape \(2, 3\), got \(2, 5\)"):
        cell(zeros(2, 3), hx)


def test_functional_bad_weights():
    x, h = zeros(2, 3), zeros(2, 4)
    with pytest.raises(ValueError, match=r"lstm_cell expects weight_ih of shape \(4 \* hidden_size, input_size\) = "
                                         r"\(16, input_size\), got \(12, 3\)"):
        F.lstm_cell(x, (h, h), zeros(12, 3), zeros(16, 4))
    with pytest.raises(ValueError, match=r"gru_cell expects weight_hh of shape \(3 \* hidden_size, hidden_size\) = "
                                         r"\(12, 4\), got \(16, 4\)"):
        F.gru_cell(x, h, zeros(12, 3), zeros(16, 4))
    with pytest.raises(ValueError, match=r"gru_layer expects bias_hh of shape \(3 \* hidden_size,\) = \(12,\), "
                                         r"got \(16,\)"):
        F.gru_layer(zeros(5, 2, 3), h, zeros(12, 3), zeros(12, 4), zeros(12), zeros(16))
    with pytest.raises(ValueError, match=r"lstm_layer expects input of shape \(seq_len, batch, input_size\) = "
                                         r"\(seq_len, batch, 3\) with seq_len >= 1, got \(2, 3\)"):
        F.lstm_layer(zeros(2, 3), None, None, zeros(16, 3), zeros(16, 4))


@pytest.mark.parametrize("kwargs,message", [
    (dict(hidden_size=0), r"LSTM needs a positive integer hidden_size, got 0"),
    (dict(num_layers=0), r"needs a positive integer num_layers, got 0"),
    (dict(dropout=1.5), r"dropout must be a number in \[0, 1\]"),
])
def test_bad_constructor_arguments(kwargs, message):
    arguments = dict(input_size=3, hidden_size=4)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        LSTM(**arguments)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="dropout=0.5 with num_layers=1 does nothing"):
        GRU(3, 4, dropout=0.5)


# ----- (e) a long sequence ------------------------------------------------------------------------------------

@KINDS
def test_long_sequence_backward_is_finite_and_matches_torch(torch, kind):
    """500 steps: backward through the fused layer stays finite and equals torch's, and the gradient still
    reaches the first step."""
    rng = np.random.default_rng(5)
    module = (LSTM if kind == "lstm" else GRU)(3, 4, bidirectional=True, dtype=np.float64)
    x = rng.standard_normal((500, 2, 3))
    leaf = Tensor(x, requires_grad=True)
    out, _ = module(leaf)
    out[-1].sum().backward()                      # a loss on the last step only
    assert np.isfinite(leaf.grad).all() and all(np.isfinite(p.grad).all() for p in module.parameters())
    assert np.abs(leaf.grad[0]).max() > 0         # through the reverse direction, which reads x_0 last
    twin = torch_twin(torch, module, np.float64)
    t_leaf = torch.tensor(x, requires_grad=True)
    t_out, _ = twin(t_leaf)
    t_out[-1].sum().backward()
    assert_close(out.numpy(), t_out.detach().numpy(), 1e-9)
    assert_close(leaf.grad, t_leaf.grad.numpy(), 1e-9)


@KINDS
def test_500_chained_cells_equal_the_fused_layer(kind):
    """The same recurrence as 500 cell ops chained through autograd (a graph thousands of nodes deep: backward
    must not recurse) gives the fused layer's output and gradients."""
    rng = np.random.default_rng(6)
    seq, batch, size, hidden = 500, 2, 3, 4
    g = GATES[kind]
    x = rng.standard_normal((seq, batch, size))
    weights = [rng.uniform(-0.5, 0.5, s) for s in [(g * hidden, size), (g * hidden, hidden), g * hidden, g * hidden]]
    grads = []
    for fused in (True, False):
        x_leaf = Tensor(x, requires_grad=True)
        w_leaves = [Tensor(w, requires_grad=True) for w in weights]
        if fused and kind == "lstm":
            out = F.lstm_layer(x_leaf, None, None, *w_leaves)[0]
        elif fused:
            out = F.gru_layer(x_leaf, None, *w_leaves)[0]
        else:
            states, outputs = None, []
            for t in range(seq):
                if kind == "lstm":
                    states = F.lstm_cell(x_leaf[t], states, *w_leaves)
                    outputs.append(states[0])
                else:
                    states = F.gru_cell(x_leaf[t], states, *w_leaves)
                    outputs.append(states)
            out = minigrad.stack(outputs)
        out.backward(np.sin(np.arange(out.numel())).reshape(out.shape))
        grads.append([out.numpy(), x_leaf.grad] + [w.grad for w in w_leaves])
    for fused, chained in zip(*grads):
        assert np.isfinite(fused).all()
        np.testing.assert_allclose(fused, chained, rtol=1e-9, atol=1e-12)
