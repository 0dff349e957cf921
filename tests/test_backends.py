"""The same ops, layers and models on every backend: NumPy (with numba's kernels) and, where a GPU exists,
CuPy (with the CUDA kernels). Each case runs forward and backward on the device and compares with the CPU's
float64 result; on a GPU machine with a CUDA build of PyTorch, also with PyTorch on that GPU.

The "cuda" cases skip, saying why, where CuPy or a GPU is missing; they run unchanged where both exist.
"""

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import kernels, optim
from minigrad.backend import cupy_available, to_numpy
from models import create_model

GPU_REASON = "needs CuPy and an NVIDIA GPU (pip install minigrad[gpu] on a machine with one)"
DEVICES = [pytest.param("cpu", id="cpu"),
           pytest.param("cuda", id="cuda", marks=[pytest.mark.gpu,
                                                  pytest.mark.skipif(not cupy_available(), reason=GPU_REASON)])]


def run_on(device, fn, arrays, dtype=np.float64, seed=0):
    """fn on ``arrays`` moved to ``device``: the output and every input's gradient, back on the host."""
    tensors = [mg.Tensor(a.astype(dtype), requires_grad=True, device=device) for a in arrays]
    out = fn(*tensors)
    upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(mg.Tensor(upstream, device=device).data)
    assert out.device == device and all(t.grad is None or mg.get_array_module(t.grad) is
                                        mg.get_array_module(out.data) for t in tensors)
    return [out.numpy()] + [to_numpy(t.grad) for t in tensors]


CASES = {
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=1, dilation=(2, 1)),
               [(2, 3, 7, 6), (4, 3, 3, 3), (4,)]),
    "conv2d_live_taps": (lambda x, w: F.conv2d(x, w, padding=1), [(2, 5, 1, 1), (3, 5, 3, 3)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [(2, 3, 7, 6)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                   [(2, 3, 7, 6)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), [(2, 3, 7, 5)]),
    "relu": (lambda x: x.relu(), [(3, 4, 5)]),
    "linear_softmax": (lambda x, w: F.linear(x, w).log_softmax(dim=-1), [(4, 6), (3, 6)]),
    "lstm": (lambda x, *w: F.cat([t.reshape(-1) for t in _lstm(x, w)], dim=0),
             [(5, 2, 3), (16, 3), (16, 4), (16,), (16,)]),
    "gru": (lambda x, *w: F.cat([t.reshape(-1) for t in _gru(x, w)], dim=0),
            [(5, 2, 3), (12, 3), (12, 4), (12,), (12,)]),
}


def _lstm(x, w):
    from minigrad.ops import rnn
    out, (h, c) = rnn.lstm(x, None, [tuple(w)])
    return out, h, c


def _gru(x, w):
    from minigrad.ops import rnn
    out, h = rnn.gru(x, None, [tuple(w)])
    return out, h


def inputs_for(shapes, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.permutation(int(np.prod(s))).reshape(s) * 0.01 - 0.5 if len(s) == 4 else rng.uniform(-1, 1, s)
            for s in shapes]          # distinct values in images: max pooling has one winner per window


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_op_on_device_matches_the_cpu_reference(device, name, monkeypatch):
    fn, shapes = CASES[name]
    arrays = inputs_for(shapes)
    monkeypatch.setenv("MINIGRAD_NUMBA", "0")              # the plain array-code reference, on the CPU
    expected = run_on("cpu", fn, arrays)
    monkeypatch.setenv("MINIGRAD_NUMBA", "1")
    for got, want in zip(run_on(device, fn, arrays), expected):   # numba's kernels, or CUDA's
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_batch_norm_on_device_updates_its_running_statistics(device):
    layer = mg.nn.BatchNorm2d(3, dtype="float64").to(device)
    x = mg.Tensor(inputs_for([(4, 3, 5, 5)])[0], device=device)
    cpu_layer = mg.nn.BatchNorm2d(3, dtype="float64")
    for _ in range(2):
        np.testing.assert_allclose(layer(x).numpy(), cpu_layer(mg.Tensor(x.numpy())).numpy(), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(layer.running_var.data), cpu_layer.running_var.data, rtol=1e-12)
    assert mg.get_array_module(layer.running_mean.data) is mg.get_array_module(x.data)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["cnn", "unet_no_dropout", "cnn_lstm"])
def test_model_training_step_on_device_matches_the_cpu(device, name):
    """One Adam step of a whole model on the device lands on the CPU's float64 weights."""
    results = []
    for where in ("cpu", device):
        mg.manual_seed(0)
        model = create_model(name, num_classes=4)
        for _, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t.data.dtype.kind == "f":
                t.data = t.data.astype(np.float64)
        model.to(where)
        opt = optim.Adam(model.parameters(), lr=1e-3)
        x = np.random.default_rng(1).random((4, 3, 28, 28))
        loss = F.cross_entropy(model(mg.Tensor(x, device=where)), mg.Tensor(np.array([0, 1, 2, 3]), device=where))
        loss.backward()
        opt.step()
        results.append(model.state_dict())
    for key in results[0]:
        np.testing.assert_allclose(results[1][key], results[0][key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_ops_refuse_tensors_on_two_devices():
    if not cupy_available():
        pytest.skip(GPU_REASON)
    a, b = mg.Tensor([1.0, 2.0]), mg.Tensor([1.0, 2.0], device="cuda")
    expected = r"Add: expected every input on one device, got \(2,\) on cpu, \(2,\) on cuda"
    with pytest.raises(RuntimeError, match=expected):
        a + b


def test_asking_for_cuda_without_a_gpu_says_why():
    if cupy_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="device 'cuda' needs CuPy and an NVIDIA GPU"):
        mg.Tensor([1.0]).to("cuda")
    with pytest.raises(RuntimeError, match="device 'cuda' needs CuPy"):
        mg.nn.Linear(2, 3).to("cuda")
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda', got 'tpu'"):
        mg.zeros(2, device="tpu")


def test_every_numba_kernel_has_a_cuda_counterpart():
    """The op x backend table: wherever a numba kernel exists, a CUDA kernel of the same contract does too."""
    import importlib
    import pkgutil
    missing = []
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"minigrad.kernels.{info.name}")
        for name in dir(module):
            if name.endswith("_numba") and not name.startswith("_") and callable(getattr(module, name)):
                if not hasattr(module, name[:-len("_numba")] + "_cuda"):
                    missing.append(f"{info.name}.{name}")
    assert missing == []


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_available(), reason=GPU_REASON)
def test_cnn_on_gpu_matches_pytorch_on_gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch here has no CUDA")
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from torch_twins import torch_twin
    mg.manual_seed(0)
    model = create_model("cnn")
    twin = torch_twin("cnn", model.state_dict()).cuda()
    model.to("cuda")
    x = np.random.default_rng(0).random((8, 3, 28, 28)).astype(np.float32)
    y = np.arange(8) % 8
    F.cross_entropy(model(mg.Tensor(x, device="cuda")), mg.Tensor(y, device="cuda")).backward()
    torch.nn.functional.cross_entropy(twin(torch.from_numpy(x).cuda()), torch.from_numpy(y).cuda()).backward()
    grads = {k: v.grad.cpu().numpy() for k, v in twin.named_parameters()}
    for name, p in model.named_parameters():
        np.testing.assert_allclose(to_numpy(p.grad), grads[name], rtol=1e-3, atol=1e-5, err_msg=name)
