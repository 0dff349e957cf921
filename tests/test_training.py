"""Tests for minigrad.training: the epoch loop, the non-finite loss guard and evaluation."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import nn, optim
from minigrad.data import ArrayDataset, DataLoader
from minigrad.tensor import Tensor
from minigrad.training import NonFiniteLossError, evaluate, predict_logits, softmax_rows, train_one_epoch


def blobs(n=240, classes=3, dim=5, seed=0):
    """Linearly separable Gaussian blobs: class c is centred at 4 * e_c."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centres = np.zeros((classes, dim))
    centres[np.arange(classes), np.arange(classes)] = 4.0
    x = (centres[y] + rng.normal(size=(n, dim))).astype(np.float32)
    return x, y.astype(np.int64)


def small_model(dim=5, classes=3, seed=0):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(dim, 16), nn.ReLU(), nn.Linear(16, classes))


def test_train_one_epoch_reduces_the_loss():
    x, y = blobs()
    model = small_model()
    loader = DataLoader(ArrayDataset(x, y), batch_size=32, shuffle=True, seed=0)
    opt = optim.Adam(model.parameters(), lr=0.01)
    before = evaluate(model, x, y)["loss"]
    history = [train_one_epoch(model, loader, opt, epoch=e, progress=False) for e in range(5)]
    after = evaluate(model, x, y)
    assert after["loss"] < 0.5 * before
    assert history[-1]["loss"] < history[0]["loss"]
    assert after["accuracy"] > 0.95                              # the blobs are separable
    for stats in history:
        assert set(stats) == {"loss", "accuracy", "seconds", "first_loss"}
        assert 0.0 <= stats["accuracy"] <= 1.0 and stats["seconds"] >= 0
        assert np.isfinite(stats["loss"])


def test_train_one_epoch_reports_example_weighted_averages():
    # 10 examples in batches of 4, 4, 2; with lr = 0 the model never changes, so the mean is known exactly.
    x, y = blobs(n=10)
    model = small_model()
    stats = train_one_epoch(model, DataLoader(ArrayDataset(x, y), batch_size=4), optim.SGD(model.parameters(), lr=0.0),
                            progress=False)
    logits = model(Tensor(x))
    expected = F.cross_entropy(logits, y).item()
    assert stats["loss"] == pytest.approx(expected, rel=1e-5)
    assert stats["first_loss"] == pytest.approx(F.cross_entropy(logits[:4], y[:4]).item(), rel=1e-5)
    assert stats["accuracy"] == pytest.approx(float((logits.data.argmax(1) == y).mean()))


def test_train_one_epoch_sets_training_mode_and_steps_every_batch():
    x, y = blobs(n=50)
    model = small_model().eval()
    opt = optim.SGD(model.parameters(), lr=0.1)
    steps = []
    real_step = opt.step
    opt.step = lambda: (steps.append(1), real_step())
    train_one_epoch(model, DataLoader(ArrayDataset(x, y), batch_size=8), opt, progress=False)
    assert model.training and all(m.training for m in model.modules())
    assert len(steps) == 7                                      # ceil(50 / 8)


@pytest.mark.parametrize("epoch,bad_batch", [(0, 1), (2, 2)])
def test_nan_input_raises_non_finite_loss_error_naming_epoch_and_batch(epoch, bad_batch):
    x, y = blobs(n=64)
    x[(bad_batch - 1) * 16 + 3, 0] = np.nan                      # one NaN pixel in batch `bad_batch`
    model = small_model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(ArrayDataset(x, y), batch_size=16)       # no shuffling: batch k is rows 16(k-1)..
    with pytest.raises(NonFiniteLossError) as info:
        train_one_epoch(model, loader, opt, epoch=epoch, progress=False)
    message = str(info.value)
    assert f"epoch {epoch + 1}" in message and f"batch {bad_batch}" in message
    assert "nan" in message.lower()
    assert isinstance(info.value, FloatingPointError)
    # The step with the bad loss never ran: the weights are still finite.
    assert all(np.isfinite(p.data).all() for p in model.parameters())


def test_huge_learning_rate_raises_non_finite_loss_error():
    x, y = blobs(n=64)
    x *= 1e18                                                    # the first step overflows the weights
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=1e30)
    loader = DataLoader(ArrayDataset(x, y), batch_size=16)
    with np.errstate(all="ignore"), pytest.raises(NonFiniteLossError, match=r"epoch 1, batch [234]\b"):
        for epoch in range(3):
            train_one_epoch(model, loader, opt, epoch=epoch, progress=False)


def test_evaluate_returns_probabilities_that_sum_to_one():
    x, y = blobs(n=100)
    model = small_model()
    result = evaluate(model, x, y, batch_size=32)               # batches of 32, 32, 32, 4
    probs = result["probabilities"]
    assert set(result) == {"loss", "accuracy", "probabilities"}
    assert probs.shape == (100, 3) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    assert (probs >= 0).all() and (probs <= 1).all()
    logits = model(Tensor(x)).data
    np.testing.assert_allclose(probs, softmax_rows(logits.astype(np.float64)), rtol=1e-5)
    assert result["accuracy"] == pytest.approx(float((probs.argmax(1) == y).mean()))
    assert result["loss"] == pytest.approx(F.cross_entropy(Tensor(logits), y).item(), rel=1e-5)
    assert not model.training                                    # evaluation switched to eval mode


def test_evaluate_is_deterministic_with_dropout():
    x, y = blobs(n=40)
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))
    first, second = evaluate(model, x, y), evaluate(model, x, y)
    np.testing.assert_array_equal(first["probabilities"], second["probabilities"])


def test_predict_logits_batches_agree_and_record_no_graph():
    x, _ = blobs(n=70)
    model = small_model()
    whole = predict_logits(model, x, batch_size=1000)
    pieces = predict_logits(model, x, batch_size=9)
    assert whole.shape == (70, 3) and isinstance(whole, np.ndarray)
    np.testing.assert_allclose(pieces, whole, rtol=1e-6, atol=1e-6)
    assert mg.is_grad_enabled()                                  # no_grad was undone afterwards


def test_softmax_rows_is_stable_for_large_logits():
    probs = softmax_rows(np.array([[1000.0, 1000.0, -1000.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(probs, [[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])
