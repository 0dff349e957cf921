"""minigrad.device.device against torch.device (PyTorch 2.13, CPU), and minigrad.cuda's answers with CuPy
missing, broken, or seeing GPUs (a stand-in module: these tests need no GPU)."""

import types

import pytest
import torch

from minigrad import backend
from minigrad import cuda
from minigrad.device import device


@pytest.mark.parametrize("args", [("cpu",), ("cuda",), ("cuda:0",), ("cuda:3",), ("cuda", 1), ("cpu", 0),
                                  ("cpu:0",), ("cuda:12",)])
def test_parsing_like_torch(args):
    ours, theirs = device(*args), torch.device(*args)
    assert ours.type == theirs.type
    assert ours.index == theirs.index
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)                     # device(type='cuda', index=0)


@pytest.mark.parametrize("args, error, message", [
    (("foo",), ValueError, "unknown device type 'foo'"),
    (("CUDA",), ValueError, "invalid device string 'CUDA'"),
    ((" cuda",), ValueError, "invalid device string"),
    (("cuda:-1",), ValueError, "invalid device string"),
    (("cuda:x",), ValueError, "invalid device string"),
    (("cuda:01",), ValueError, "leading zeros"),
    (("cuda:0", 1), ValueError, "already includes an index"),
    (("cuda", -1), ValueError, "must not be negative, got -1"),
    (("cuda", True), TypeError, "must be an int, got True of type bool"),
    (("cuda", 1.0), TypeError, "of type float"),
])
def test_bad_devices_raise_like_torch(args, error, message):
    with pytest.raises((RuntimeError, TypeError)):        # torch's errors for the same arguments
        torch.device(*args)
    with pytest.raises(error, match=message):
        device(*args)


def test_device_types_torch_has_and_minigrad_has_not():
    # torch accepts these (another backend, or an int meaning "accelerator number 0"); minigrad has no such
    assert torch.device("mps").type == "mps"
    with pytest.raises(ValueError, match="unknown device type 'mps' in 'mps': minigrad has the device types "
                                         "'cpu', 'cuda'"):
        device("mps")
    with pytest.raises(TypeError, match="got 0 of type int"):
        device(0)


def test_equality_like_torch_between_devices():
    names = ["cpu", "cpu:0", "cuda", "cuda:0", "cuda:1"]
    for a in names:
        for b in names:
            assert (device(a) == device(b)) == (torch.device(a) == torch.device(b)), (a, b)
            assert (device(a) != device(b)) == (torch.device(a) != torch.device(b)), (a, b)
    assert device(device("cuda:2")) == device("cuda:2")   # copying a device, as torch.device(torch.device(...))
    assert device("cuda") != 3 and device("cuda") != torch.device("cuda")


def test_a_device_equals_its_string():
    # On purpose unlike torch 2.13 (where torch.device("cuda") == "cuda" is False): minigrad's Tensor.device
    # is a string, and t.device == device("cpu") should hold.
    assert device("cuda") == "cuda" and "cuda" == device("cuda")
    assert device("cuda:0") == "cuda:0" and device("cuda:0") != "cuda"
    assert device("cpu") != "cuda"
    assert hash(device("cuda:1")) == hash("cuda:1")
    assert {device("cpu"): 1}["cpu"] == 1 and len({device("cuda"), device("cuda"), "cuda"}) == 1


def test_devices_are_immutable():
    d = device("cuda:1")
    with pytest.raises(AttributeError, match="cannot be changed"):
        d.index = 2
    with pytest.raises(AttributeError):
        d.type = "cpu"
    assert str(d) == "cuda:1"


def test_making_a_cuda_device_needs_no_gpu(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    assert device("cuda:0").type == "cuda" and torch.device("cuda:0").type == "cuda"


# ----- minigrad.cuda -----------------------------------------------------------------------------------------

def fake_cupy(get_device_count):
    """A stand-in for the cupy module with just cupy.cuda.runtime.getDeviceCount."""
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(
        getDeviceCount=get_device_count)))


def test_without_cupy(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    assert cuda.is_available() is False and cuda.device_count() == 0


def test_cupy_without_driver_or_gpu_never_raises(monkeypatch):
    def broken():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    monkeypatch.setattr(backend, "_cupy", fake_cupy(broken))
    assert cuda.is_available() is False and cuda.device_count() == 0
    monkeypatch.setattr(backend, "_cupy", fake_cupy(lambda: 0))
    assert cuda.is_available() is False and cuda.device_count() == 0


def test_cupy_seeing_gpus(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", fake_cupy(lambda: 2))
    assert cuda.is_available() is True and cuda.device_count() == 2


def test_the_real_answer_agrees_with_itself():
    # on this machine, whatever it has: available exactly when at least one device is counted
    assert cuda.is_available() == (cuda.device_count() > 0)
    assert isinstance(cuda.device_count(), int)
