"""Training that diverges stops before it saves broken weights, names what broke and the last good checkpoint,
and a loss that grows by orders of magnitude is reported."""

import math

import numpy as np
import pytest

import minigrad.data.bloodmnist as bm
import minigrad.functional as F
from minigrad import nn, optim
from minigrad.callbacks import BestCheckpoint
from minigrad.checkpoint import load_checkpoint
from minigrad.data import ArrayDataset, DataLoader
from minigrad.errors import DivergenceError
from minigrad.training import NonFiniteLossError, Trainer
from models import cli
from test_trainer import blobs, make_trainer
from train_driver import md5_of, write_data


def poison_after_epoch(trainer, epoch, poison):
    """Call ``poison(trainer)`` right after the last optimizer step of epoch ``epoch`` (1-based)."""
    real_step, steps = trainer.optimizer.step, [0]
    per_epoch = len(trainer.train_loader)

    def step():
        real_step()
        steps[0] += 1
        if steps[0] == per_epoch * epoch:
            poison(trainer)
    trainer.optimizer.step = step


def set_inf(tensor):
    tensor._data.reshape(-1)[0] = np.inf
    tensor._bump_version()


def finite_weights(state):
    return all(np.isfinite(value).all() for value in state["model"].values())


@pytest.fixture
def data(tmp_path, monkeypatch):
    path = write_data(tmp_path / "data" / "bloodmnist.npz")
    md5 = md5_of(path)
    monkeypatch.setattr(bm, "official_source", lambda: (bm.URL, md5))     # it counts as the official file
    return path


# ----- the Trainer -------------------------------------------------------------------------------------------

def test_an_infinite_loss_at_epoch_2_names_epoch_batch_and_the_last_good_checkpoint(tmp_path):
    def loss_fn(logits, labels):
        loss = F.cross_entropy(logits, labels)
        return loss * math.inf if trainer.epoch == 1 else loss            # from the second epoch on
    trainer = make_trainer(tmp_path, loss_fn=loss_fn)
    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit(3)
    path = tmp_path / "checkpoint.npz"
    assert "loss is inf at epoch 2, batch 1" in str(info.value)
    assert f"The last good checkpoint, {path} (epoch 1), is left untouched." in str(info.value)
    assert isinstance(info.value, DivergenceError) and isinstance(info.value, FloatingPointError)
    state = load_checkpoint(path)
    assert state["epoch"] == 1 and finite_weights(state)
    for name, value in trainer.model.state_dict().items():            # no step was taken after the checkpoint
        np.testing.assert_array_equal(state["model"][name], value)


def inf_weight(trainer):
    set_inf(trainer.model[3].weight)


def inf_adam_moment(trainer):
    trainer.optimizer.state[trainer.model[0].bias]["exp_avg_sq"][0] = np.inf


@pytest.mark.parametrize("poison,what", [(inf_weight, "parameter 3.weight"),
                                         (inf_adam_moment, "optimizer state exp_avg_sq of 0.bias")])
def test_a_non_finite_weight_or_optimizer_state_stops_before_the_checkpoint(tmp_path, poison, what):
    trainer = make_trainer(tmp_path)
    poison_after_epoch(trainer, 2, poison)
    with np.errstate(all="ignore"), pytest.raises(DivergenceError) as info:
        trainer.fit(3)
    message = str(info.value)
    assert message.startswith(f"training diverged at epoch 2: {what}") and "became NaN or infinite" in message
    assert f"{tmp_path / 'checkpoint.npz'} (epoch 1), is left untouched" in message
    state = load_checkpoint(tmp_path / "checkpoint.npz")
    assert state["epoch"] == 1 and finite_weights(state)
    assert all(np.isfinite(s["exp_avg_sq"]).all() for s in state["optimizer"]["state"].values())


def test_a_non_finite_batch_norm_buffer_is_named(tmp_path):
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    x, y = blobs()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), DataLoader(ArrayDataset(x, y), batch_size=30),
                      checkpoint_path=tmp_path / "c.npz", progress=False, log=lambda text: None)
    poison_after_epoch(trainer, 1, lambda t: set_inf(model[1].running_var))
    with pytest.raises(DivergenceError, match=r"epoch 1: buffer 1.running_var became .*No checkpoint of this run "
                                              r"has been written yet"):
        trainer.fit(2)
    assert not (tmp_path / "c.npz").exists()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")                  # the inf image on its way to the loss
def test_a_non_finite_validation_loss_stops_before_the_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path)
    trainer.fit(1)
    xv, yv = trainer.val_data
    xv = xv.copy()
    xv[0, 0] = np.inf
    trainer.val_data = (xv, yv)
    with pytest.raises(DivergenceError, match=r"at epoch 2: the validation loss became NaN or infinite"):
        trainer.fit(3)
    assert load_checkpoint(tmp_path / "checkpoint.npz")["epoch"] == 1


def test_best_checkpoint_refuses_to_save_non_finite_weights(tmp_path):
    best = tmp_path / "best.npz"
    trainer = make_trainer(callbacks=[BestCheckpoint(best, monitor="val_loss")])
    trainer.fit(1)
    set_inf(trainer.model[0].weight)
    with pytest.raises(DivergenceError, match="parameter 0.weight"):
        trainer.callbacks[0].on_epoch_end(trainer, {"epoch": 2, "val_loss": -1.0})   # "better" than epoch 1
    saved = load_checkpoint(best)
    assert saved["epoch"] == 1 and finite_weights(saved)


# ----- loss growth ---------------------------------------------------------------------------------------------

def test_an_epoch_loss_100_times_the_lowest_so_far_is_warned_about_and_recorded(tmp_path):
    def loss_fn(logits, labels):
        loss = F.cross_entropy(logits, labels)
        return loss * 1e4 if trainer.epoch == 2 else loss                  # the third epoch "blows up"
    lines = []
    trainer = make_trainer(tmp_path, loss_fn=loss_fn)
    trainer.log = lines.append
    history = trainer.fit(3)
    assert "warning" not in history[0] and "warning" not in history[1]
    lowest = min(trainer.first_loss, history[0]["train_loss"], history[1]["train_loss"])
    warning = history[2]["warning"]
    assert warning.startswith(f"epoch 3: the training loss {history[2]['train_loss']:.4g} is ")
    assert f"lowest so far ({lowest:.4g})" in warning and "lower learning rate" in warning
    assert f"warning: {warning}" in lines
    assert load_checkpoint(tmp_path / "checkpoint.npz")["history"][2]["warning"] == warning


def test_a_first_epoch_that_blows_up_is_measured_against_its_first_batch():
    calls = [0]

    def loss_fn(logits, labels):
        calls[0] += 1
        loss = F.cross_entropy(logits, labels)
        return loss if calls[0] == 1 else loss * 1e4
    trainer = make_trainer(loss_fn=loss_fn)
    history = trainer.fit(1)
    assert history[0]["warning"].startswith("epoch 1:") and f"({trainer.first_loss:.4g})" in history[0]["warning"]


# ----- the command line ------------------------------------------------------------------------------------

def train(data, out, *args):
    return cli.entry(["train", "simple_cnn", "--limit", "32", "--batch-size", "8", "--out", str(out),
                      "--data", str(data), "--no-progress", *args])


@pytest.mark.filterwarnings("error::RuntimeWarning")      # NumPy's overflow warnings would be extra lines
def test_a_huge_learning_rate_on_resume_stops_with_one_line_and_keeps_the_epoch_1_checkpoint(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(data, out, "--epochs", "1") == 0
    checkpoint = out / "checkpoint_simple_cnn.npz"
    before = checkpoint.read_bytes()
    capsys.readouterr()
    status = train(data, out, "--epochs", "2", "--resume", "--lr", "1e38", "--change", "lr")
    err = capsys.readouterr().err.strip()
    assert status == 1 and len(err.splitlines()) == 1
    assert "at epoch 2, batch" in err and f"{checkpoint} (epoch 1), is left untouched" in err
    assert checkpoint.read_bytes() == before
    state = load_checkpoint(checkpoint)
    assert state["epoch"] == 1 and finite_weights(state)
    # The checkpoint is a good one: resuming at the recorded rate trains on.
    assert train(data, out, "--epochs", "2", "--resume") == 0
    assert load_checkpoint(checkpoint)["epoch"] == 2
