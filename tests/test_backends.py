"""The same layers and models on every backend: NumPy (with numba's kernels) and, where a GPU exists,
CuPy (with the CUDA kernels). Each case runs forward and backward on the device and compares with the CPU's
float64 result; on a GPU machine with a CUDA build of PyTorch, also with PyTorch on that GPU. Every single
op is compared across backends by tests/test_catalogue.py (from the op catalogue), with ``run_on`` below.

The "cuda" cases skip, saying why, where CuPy or a GPU is missing; they run unchanged where both exist.
"""

import sys
import types
from pathlib import Path

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








def inputs_for(shapes, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.permutation(int(np.prod(s))).reshape(s) * 0.01 - 0.5 if len(s) == 4 else rng.uniform(-1, 1, s)
            for s in shapes]          # distinct values in images: max pooling has one winner per window




@pytest.mark.parametrize("device", DEVICES)
def test_batch_norm_on_device_updates_its_running_statistics(device):
    layer = mg.nn.BatchNorm2d(3, dtype="float64").to(device)
    x = mg.Tensor(inputs_for([(4, 3, 5, 5)])[0], device=device)
    cpu_layer = mg.nn.BatchNorm2d(3, dtype="float64")
    for _ in range(2):
        np.testing.assert_allclose(layer(x).numpy(), cpu_layer(mg.Tensor(x.numpy())).numpy(), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(layer.running_var.data), cpu_layer.running_var.data, rtol=1e-12)
    assert mg.get_array_module(layer.running_mean.data) is mg.get_array_module(x.data)


# Models whose training step is compared across devices, with the settings that make them deterministic:
# a dropout mask comes from NumPy's generator on the CPU and from CuPy's on a GPU, so no case may drop.
MODEL_CASES = {"cnn": {}, "unet_no_dropout": {}, "cnn_lstm": {"dropout": 0.0}}


def active_dropouts(model):
    """The names of the Dropout layers that would zero something in training mode."""
    return [name for name, m in model.named_modules() if isinstance(m, mg.nn.Dropout) and m.p > 0]


@pytest.mark.parametrize("name", sorted(MODEL_CASES))
def test_model_cases_draw_no_dropout_mask(name):
    assert active_dropouts(create_model(name, num_classes=4, **MODEL_CASES[name])) == []


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(MODEL_CASES))
def test_model_training_step_on_device_matches_the_cpu(device, name):
    """One Adam step of a whole model on the device lands on the CPU's float64 weights."""
    results = []
    for where in ("cpu", device):
        mg.manual_seed(0)
        model = create_model(name, num_classes=4, **MODEL_CASES[name])
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


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_available(), reason=GPU_REASON)
def test_ops_refuse_tensors_on_two_devices():
    a, b = mg.Tensor([1.0, 2.0]), mg.Tensor([1.0, 2.0], device="cuda")
    expected = r"Add: expected every input on one device, got \(2,\) on cpu, \(2,\) on cuda"
    with pytest.raises(RuntimeError, match=expected):
        a + b


def test_every_test_that_needs_a_gpu_carries_the_gpu_mark():
    """``pytest -m gpu`` selects by mark: a test that skips without a GPU must carry ``gpu``."""
    import inspect
    import re
    unmarked = []
    for name, test in list(globals().items()):
        if not name.startswith("test_"):
            continue
        marks = getattr(test, "pytestmark", [])
        skips = any(m.name == "skipif" and m.kwargs.get("reason") == GPU_REASON for m in marks)
        if (skips or re.search(r"pytest\.skip\(GPU_REASON\)", inspect.getsource(test))) and \
                "gpu" not in {m.name for m in marks}:
            unmarked.append(name)
    assert unmarked == []


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


def import_torch_twins():
    pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import torch_twins
    return torch_twins


def test_the_pytorch_side_runs_without_tf32():
    """TF32 would round PyTorch's float32 convolutions and matmuls to a 10-bit mantissa on a GPU."""
    torch = pytest.importorskip("torch")
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
              torch.get_float32_matmul_precision())
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("medium")
        import_torch_twins().full_float32_precision()
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        assert torch.get_float32_matmul_precision() == "highest"
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before[:2]
        torch.set_float32_matmul_precision(before[2])


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_available(), reason=GPU_REASON)
def test_cnn_on_gpu_matches_pytorch_on_gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch here has no CUDA")
    torch_twins = import_torch_twins()
    torch_twins.full_float32_precision()
    torch_twin = torch_twins.torch_twin
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


# ----- GPU logic that runs on the CPU too: dropout's generators, the label check, gradcheck's refusal -------

class FakeCupy:
    """Stands in for CuPy where only its random module and current GPU number are used; counts generators."""

    float32 = np.float32

    def __init__(self):
        self.seeds, self.gpu = [], 0
        self.cuda = types.SimpleNamespace(Device=lambda: types.SimpleNamespace(id=self.gpu))
        self.random = types.SimpleNamespace(default_rng=self.default_rng)

    def default_rng(self, seed):
        self.seeds.append(seed)
        return np.random.default_rng(seed)


def test_dropout_on_a_gpu_keeps_one_generator_per_device_until_manual_seed(monkeypatch):
    from minigrad.ops import dropout
    fake = FakeCupy()
    monkeypatch.setattr(dropout, "get_array_module", lambda x: fake)
    x = np.zeros((3, 4), np.float32)
    mg.manual_seed(5)
    masks = [dropout.uniform_like(x) for _ in range(3)]
    assert len(fake.seeds) == 1 and not np.array_equal(masks[0], masks[1])   # one generator, advancing
    fake.gpu = 1
    dropout.uniform_like(x)
    assert len(fake.seeds) == 2                                               # a second GPU has its own
    fake.gpu = 0
    mg.manual_seed(5)
    again = [dropout.uniform_like(x) for _ in range(3)]
    assert len(fake.seeds) == 3 and fake.seeds[2] == fake.seeds[0]            # remade from the same seed
    np.testing.assert_array_equal(again, masks)
    mg.random.set_state(mg.random.get_state())
    dropout.uniform_like(x)
    assert len(fake.seeds) == 4                                               # a restored state remakes it too


def test_cross_entropy_on_the_cpu_refuses_labels_out_of_range():
    logits = mg.Tensor(np.zeros((3, 4)))
    for bad in (-1, 4):
        with pytest.raises(ValueError, match=rf"class indices in \[0, 4\), got \[{bad}\]"):
            F.cross_entropy(logits, np.array([0, bad, 3]))


def test_labels_out_of_range_give_nan_rows_where_the_range_is_not_read():
    """What CrossEntropy does on a GPU, where it reads nothing back: the rows of bad labels become NaN."""
    from minigrad.ops.softmax import nan_where_out_of_range
    target = np.array([0, 4, 3, -1])
    loss = nan_where_out_of_range(np.ones(4, np.float32), target, 4)
    assert loss.dtype == np.float32 and np.isnan(loss).tolist() == [False, True, False, True]
    grad = nan_where_out_of_range(np.ones((4, 4)), target, 4)
    assert np.isnan(grad).all(axis=1).tolist() == [False, True, False, True] and not np.isnan(grad[[0, 2]]).any()


def test_a_nan_loss_with_good_labels_still_stops_as_divergence():
    from minigrad.training import NonFiniteLossError, train_one_epoch
    model = mg.nn.Linear(2, 3)
    batches = [(np.full((2, 2), np.nan, np.float32), np.array([0, 2]))]
    with pytest.raises(NonFiniteLossError, match="loss is nan at epoch 1, batch 1"):
        train_one_epoch(model, batches, optim.Adam(model.parameters()), progress=False)


class FakeDeviceArray:
    """An array that counts as a CuPy one once ``backend._cupy`` is faked; like CuPy's, it refuses np.asarray."""

    shape, dtype, ndim = (3,), np.dtype(np.float64), 1

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed")


def test_gradcheck_refuses_a_gpu_input_naming_it(monkeypatch):
    from minigrad import backend
    monkeypatch.setattr(backend, "_cupy", types.SimpleNamespace(ndarray=FakeDeviceArray))
    tensor = mg.Tensor(np.ones(3))
    tensor._data = FakeDeviceArray()
    for inputs, position in [((np.ones(3), FakeDeviceArray()), 1), ((tensor,), 0)]:
        with pytest.raises(ValueError, match=f"gradcheck runs on the CPU only: input {position} is on cuda"):
            mg.gradcheck(lambda *t: t[0] * 2, *inputs)


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_available(), reason=GPU_REASON)
def test_gradcheck_refuses_a_cuda_tensor():
    with pytest.raises(ValueError, match="input 0 is on cuda"):
        mg.gradcheck(lambda t: t * 2, mg.Tensor(np.ones(3), device="cuda"))


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_available(), reason=GPU_REASON)
def test_dropout_masks_on_the_gpu_repeat_with_the_seed():
    x = mg.ones(1000, device="cuda")
    mg.manual_seed(3)
    first, second = F.dropout(x, 0.5).numpy(), F.dropout(x, 0.5).numpy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), first)
    assert not np.array_equal(first, second) and 300 < (first == 0).sum() < 700


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_available(), reason=GPU_REASON)
def test_labels_out_of_range_on_the_gpu_give_nan_and_training_names_them():
    from minigrad.training import train_one_epoch
    logits = mg.Tensor(np.zeros((2, 4)), requires_grad=True, device="cuda")
    target = mg.Tensor(np.array([1, 4]), device="cuda")
    loss = F.cross_entropy(logits, target, reduction="none")
    assert np.isnan(loss.numpy()).tolist() == [False, True]
    loss.sum().backward()
    assert np.isnan(to_numpy(logits.grad)).all(axis=1).tolist() == [False, True]
    model = mg.nn.Linear(2, 4).to("cuda")
    batches = [(np.ones((2, 2), np.float32), np.array([1, 4]))]
    with pytest.raises(ValueError, match=r"class indices in \[0, 4\), got \[4\]"):
        train_one_epoch(model, batches, optim.Adam(model.parameters()), progress=False, device="cuda")
