"""Tests for minigrad.nn.init: fans, gains and the Xavier/Kaiming distributions, against PyTorch's formulas."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import Parameter, init

torch = pytest.importorskip("torch")

SHAPES = [(5, 3), (3, 5), (16, 3, 3, 3), (8, 4, 5), (2, 3, 2, 2, 2)]
BIG_2D = (600, 400)          # 240,000 samples: the sample std is within ~0.15 % of the true one
BIG_4D = (128, 64, 3, 3)     # 73,728 samples, fan_in 576, fan_out 1152


def param(shape, dtype=np.float32):
    return Parameter(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("shape", SHAPES)
def test_fan_in_and_fan_out_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.fan_in_and_fan_out(param(shape)) == tuple(expected)


def test_fan_needs_two_dimensions():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.fan_in_and_fan_out(param((5,)))
    with pytest.raises(ValueError):
        init.xavier_uniform_(param((5,)))


@pytest.mark.parametrize("nonlinearity,param_", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose1d", None),
    ("conv_transpose2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2),
    ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param_):
    expected = torch.nn.init.calculate_gain(nonlinearity, param_)
    assert init.calculate_gain(nonlinearity, param_) == pytest.approx(expected, rel=1e-12)


def test_calculate_gain_identity_is_one():   # minigrad's alias; torch spells it "linear"
    assert init.calculate_gain("identity") == 1.0


def test_calculate_gain_rejects_unknown_nonlinearity():
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swishy")


def _torch_std(fill, shape, **kwargs):
    """The std PyTorch's formula gives, measured by sampling torch's own initialiser on a same-shaped tensor."""
    torch.manual_seed(0)
    t = torch.empty(shape, dtype=torch.float64)
    fill(t, **kwargs)
    return float(t.std())


@pytest.mark.parametrize("shape", [BIG_2D, BIG_4D])
@pytest.mark.parametrize("gain", [1.0, 5.0 / 3])
def test_xavier_uniform_bound(shape, gain):
    mg.manual_seed(0)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    w = init.xavier_uniform_(param(shape), gain=gain).data
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.999 * bound
    assert abs(w.mean()) < 0.01 * bound
    assert w.std() == pytest.approx(_torch_std(torch.nn.init.xavier_uniform_, shape, gain=gain), rel=0.02)


@pytest.mark.parametrize("shape", [BIG_2D, BIG_4D])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0.0), ("leaky_relu", 0.0), ("leaky_relu", math.sqrt(5))])
def test_kaiming_uniform_bound(shape, mode, nonlinearity, a):
    mg.manual_seed(0)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    fan = fan_in if mode == "fan_in" else fan_out
    bound = torch.nn.init.calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    w = init.kaiming_uniform_(param(shape), a=a, mode=mode, nonlinearity=nonlinearity).data
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.999 * bound
    expected_std = _torch_std(torch.nn.init.kaiming_uniform_, shape, a=a, mode=mode, nonlinearity=nonlinearity)
    assert w.std() == pytest.approx(expected_std, rel=0.02)


@pytest.mark.parametrize("shape", [BIG_2D, BIG_4D])
@pytest.mark.parametrize("gain", [1.0, math.sqrt(2)])
def test_xavier_normal_std(shape, gain):
    mg.manual_seed(0)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    formula = gain * math.sqrt(2.0 / (fan_in + fan_out))
    sampled_torch = _torch_std(torch.nn.init.xavier_normal_, shape, gain=gain)
    assert sampled_torch == pytest.approx(formula, rel=0.02)        # the formula is torch's
    w = init.xavier_normal_(param(shape), gain=gain).data
    assert w.std() == pytest.approx(formula, rel=0.02)
    assert w.std() == pytest.approx(sampled_torch, rel=0.02)
    assert abs(w.mean()) < 0.01 * formula


@pytest.mark.parametrize("shape", [BIG_2D, BIG_4D])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0.0), ("leaky_relu", 0.0), ("leaky_relu", 0.2),
                                            ("leaky_relu", math.sqrt(5)), ("tanh", 0.0)])
def test_kaiming_normal_std(shape, mode, nonlinearity, a):
    mg.manual_seed(0)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    formula = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)
    sampled_torch = _torch_std(torch.nn.init.kaiming_normal_, shape, a=a, mode=mode, nonlinearity=nonlinearity)
    assert sampled_torch == pytest.approx(formula, rel=0.02)
    w = init.kaiming_normal_(param(shape), a=a, mode=mode, nonlinearity=nonlinearity).data
    assert w.std() == pytest.approx(formula, rel=0.02)
    assert w.std() == pytest.approx(sampled_torch, rel=0.02)
    assert abs(w.mean()) < 0.01 * formula


def test_kaiming_defaults_match_torch_defaults():
    # Both default to a=0, mode='fan_in', nonlinearity='leaky_relu' (gain sqrt(2 / (1 + 0^2)) = sqrt(2)).
    mg.manual_seed(0)
    w = init.kaiming_normal_(param(BIG_2D)).data
    assert w.std() == pytest.approx(_torch_std(torch.nn.init.kaiming_normal_, BIG_2D), rel=0.02)
    assert w.std() == pytest.approx(math.sqrt(2 / BIG_2D[1]), rel=0.02)


def test_kaiming_rejects_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(param((3, 3)), mode="fan_avg")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fill", [
    lambda t: init.xavier_uniform_(t), lambda t: init.xavier_normal_(t),
    lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), lambda t: init.kaiming_normal_(t, nonlinearity="relu"),
    lambda t: init.uniform_(t, -1, 1), lambda t: init.normal_(t, 0, 2), lambda t: init.constant_(t, 3.5),
    lambda t: init.zeros_(t), lambda t: init.ones_(t)])
def test_init_preserves_dtype_and_shape_and_returns_the_tensor(dtype, fill):
    p = param((7, 5), dtype=dtype)
    out = fill(p)
    assert out is p
    assert p.dtype == dtype and p.shape == (7, 5) and p.data.dtype == dtype
    assert p.requires_grad


def test_constant_zeros_ones_values():
    p = param((3, 4))
    np.testing.assert_array_equal(init.constant_(p, 2.5).data, np.full((3, 4), 2.5))
    np.testing.assert_array_equal(init.zeros_(p).data, np.zeros((3, 4)))
    np.testing.assert_array_equal(init.ones_(p).data, np.ones((3, 4)))


def test_uniform_and_normal_ranges():
    mg.manual_seed(0)
    u = init.uniform_(param((200, 200)), -0.5, 2.0).data
    assert u.min() >= -0.5 and u.max() < 2.0 and u.mean() == pytest.approx(0.75, abs=0.01)
    n = init.normal_(param((200, 200), np.float64), 3.0, 0.5).data
    assert n.mean() == pytest.approx(3.0, abs=0.01) and n.std() == pytest.approx(0.5, rel=0.02)


def test_manual_seed_makes_init_repeatable():
    def draw():
        p = param((50, 40))
        return (init.kaiming_normal_(p).data.copy(), init.xavier_uniform_(p).data.copy(),
                mg.nn.Linear(40, 30).weight.data.copy())

    mg.manual_seed(123)
    first = draw()
    mg.manual_seed(123)
    second = draw()
    mg.manual_seed(124)
    third = draw()
    for a, b, c in zip(first, second, third):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    assert not np.array_equal(first[0], first[1])   # successive draws differ
